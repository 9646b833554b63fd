"""The device loop both kinds share: wake, measure (kind-specific), queue, send, sleep.

On a board, `deep_sleep` resets the chip and main.py starts over; on the sim board it
returns and the loop goes on. All state that must survive either way is on flash.
"""

import gc
import json
import sys

from common import config
from common.compat import join, unload
from common.queue import Queue

QUEUE_SEGMENT = 4096  # one flash sector per segment file
QUEUE_BYTES = 1048576  # 1 MiB of the ~2 MiB filesystem on a 4 MiB ESP32: README, capacity


class Heap:
    """Heap in use, measured with gc.mem_free().

    `code` is what importing the firmware took (bytecode; zero when the modules are frozen
    into the image); `peak_used()` is the most live data any checkpoint of a cycle saw.
    """

    def __init__(self, free_at_boot):
        self.code = free_at_boot - _free() if free_at_boot else 0
        self.free0 = _free()
        self.min_free = self.free0

    def mark(self):
        """A checkpoint: live heap only (collect first), so the figure is what must fit."""
        if hasattr(gc, "mem_free"):
            gc.collect()
            free = gc.mem_free()
            if free < self.min_free:
                self.min_free = free

    def peak_used(self):
        return self.free0 - self.min_free


def logger(device_id):
    def log(event, **fields):
        fields["ev"] = event
        fields["dev"] = device_id
        print(json.dumps(fields))

    return log


def run(kind, cycle, root="", max_cycles=None, free_at_boot=None, board=None):
    """Run cycles until max_cycles (None: forever). `cycle(ctx)` returns the sleep in s."""
    dev = config.load_device(root)
    if dev["kind"] != kind:
        raise config.ConfigError("device.json says " + dev["kind"] + ", this is " + kind)
    log = logger(dev["id"])
    if board is None:
        from boards import load_board

        board = load_board(dev, root)
    queue = Queue(join(root, "q"), QUEUE_SEGMENT, QUEUE_BYTES)
    store = config.Store(root, kind)
    heap = Heap(free_at_boot)
    tx = {"bytes": 0, "rx": 0}
    ctx = {"dev": dev, "board": board, "queue": queue, "store": store, "log": log, "heap": heap}
    # No queue.pending() here: it reads every segment, and on a board every wake is a boot.
    log("boot", kind=kind, next_seq=queue.next_seq(), segments=len(queue.segs))
    n = 0
    while max_cycles is None or n < max_cycles:
        gc.collect()
        heap.mark()
        cfg = store.load()
        ctx["cfg"] = cfg
        try:
            sleep_s = cycle(ctx)
        except Exception as exc:  # a sensor fault must not stop the device: log, sleep, retry
            log("cycle_failed", error=repr(exc))
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc)
            sleep_s = cfg["interval_s"]
        heap.mark()
        sent, error = 0, "no network"
        try:
            if board.network_up():
                sent, error = _send(ctx, cfg, tx)
        except Exception as exc:  # whatever breaks in sending, the readings stay queued
            error = repr(exc)
            log("uplink_failed", error=error)
        heap.mark()
        n += 1
        log(
            "cycle",
            n=n,
            next_seq=queue.next_seq(),
            sent=sent,
            error=error,
            dropped=queue.dropped,
            tx_bytes=tx["bytes"],
            rx_bytes=tx["rx"],
            heap_peak=heap.peak_used(),
            heap_code=heap.code,
            sleep_s=sleep_s,
        )
        if max_cycles is not None and n >= max_cycles:
            break
        board.deep_sleep(sleep_s * 1000)
    return ctx


def _send(ctx, cfg, tx):
    """The network phase, with the MQTT code loaded only for it."""
    from common.uplink import Uplink

    uplink = Uplink(ctx["dev"], ctx["queue"], ctx["store"], ctx["log"])
    uplink.mem_mark = ctx["heap"].mark
    board = ctx["board"]
    rtc = board.rtc_load()
    before = rtc.get("status")
    try:
        return uplink.session(cfg, rtc)
    finally:
        if rtc.get("status") != before:
            board.rtc_save(rtc)
        tx["bytes"] += uplink.tx_bytes
        tx["rx"] += uplink.rx_bytes
        del uplink
        unload("common.uplink")
        unload("common.mqtt")


def _free():
    gc.collect()
    return gc.mem_free() if hasattr(gc, "mem_free") else 0


def args(argv):
    """`main.py [ROOT] [MAX_CYCLES]` on a host; nothing on a board."""
    root = argv[1] if len(argv) > 1 else ""
    cycles = int(argv[2]) if len(argv) > 2 and argv[2] else None
    return root, cycles
