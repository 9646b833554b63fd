# Freeze the firmware into a MicroPython image (production builds): frozen bytecode runs from
# flash and takes no heap for code (see README.md, "Resource budget"). In a micropython
# checkout:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/jaylym/firmware/manifest.py
# Paths are relative to this file. main.py and device.json stay on the filesystem.
# ruff: noqa: F821  (include and package are provided by MicroPython's manifest tool)
include("$(PORT_DIR)/boards/manifest.py")
package("common")
package("boards", files=["__init__.py", "esp32.py"])
