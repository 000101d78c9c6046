.PHONY: examples-c
examples-c: lib
	@echo "no C examples yet"
