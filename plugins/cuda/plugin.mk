.PHONY: plugin-cuda
plugin-cuda:
	@echo "cuda plugin: not written yet"
