.PHONY: plugin-metal
plugin-metal:
	@echo "metal plugin: not written yet"
