.PHONY: test-c
## test-c: the C ABI tests (placeholder)
test-c: lib
	@echo "no C ABI tests yet"
