.PHONY: plugin-vulkan
plugin-vulkan:
	@echo "vulkan plugin: not written yet"
