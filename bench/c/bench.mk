.PHONY: bench-c
bench-c: lib
	@echo "no C benchmarks yet"
