"""The few things MicroPython and CPython spell differently: ticks, sleeps, files.

Everything in `common/` imports these from here so it runs unchanged on both.
"""

import os
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
except AttributeError:  # CPython

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


# ESP32 MicroPython counts time from 2000-01-01; the unix port and CPython from 1970.
EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def unix_ms():
    """The system clock as Unix milliseconds UTC."""
    if hasattr(time, "time_ns"):
        return time.time_ns() // 1000000 + EPOCH_OFFSET_S * 1000
    return int(time.time() * 1000) + EPOCH_OFFSET_S * 1000


def join(root, name):
    if not root:
        return name
    return root + "/" + name


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def makedirs(path):
    """mkdir -p (MicroPython has no os.makedirs)."""
    if not path or exists(path):
        return
    parts = path.split("/")
    cur = ""
    for i, part in enumerate(parts):
        if not part:
            cur = "/" if i == 0 else cur
            continue
        cur = part if not cur else (cur + part if cur.endswith("/") else cur + "/" + part)
        if not exists(cur):
            os.mkdir(cur)


def write_atomic(path, data):
    """Write a small file so that a reset leaves the old or the new content, never half."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT on some ports refuses to rename over an existing file
        os.remove(path)
        os.rename(tmp, path)


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def unload(name):
    """Forget an imported module so its bytecode can be collected (MicroPython only).

    A device wakes, measures, sends and sleeps: the GNSS parser is not needed while sending
    and the MQTT client not while measuring, so each phase loads its code and lets it go.
    On CPython (the large simulated fleet, in threads) modules stay: unloading is not safe
    there and memory is not short.
    """
    if not MICROPYTHON:
        return
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    parent = sys.modules.get(pkg)
    if parent is not None and leaf in parent.__dict__:
        try:
            delattr(parent, leaf)
        except (AttributeError, TypeError):
            pass
