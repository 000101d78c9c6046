.PHONY: plugin-rocm
plugin-rocm:
	@echo "rocm plugin: not written yet"
