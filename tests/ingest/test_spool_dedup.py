"""The spool survives crashes and torn writes; the repeat window and seq tracker count right."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.dedup import RepeatWindow, SeqTracker
from ingest.spool import Spool, SpoolFull
from jaylym.models import PositionReading, SoilReading


def fix(seq: int) -> PositionReading:
    return PositionReading("cow-1", 1_750_000_000_000 + seq * 1000, seq, 43.0, 77.0 + seq / 1e4,
                           okrug="sogety", hdop=0.8, flags=frozenset({"speed"}))  # fmt: skip


def test_spool_round_trip_in_order_and_across_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    soil = SoilReading("st-1", 1_750_000_000_000, 9, 30, -0.3, okrug="sogety", tsoil=-1.0)
    spool.append([fix(1), fix(2)])
    spool.append([soil])
    spool.append([fix(3)])
    spool.close()

    spool = Spool(tmp_path, max_bytes=1 << 20)  # a restart
    readings, end = spool.peek(2)
    assert readings == [fix(1), fix(2)]
    spool.commit(end)
    spool.close()

    spool = Spool(tmp_path, max_bytes=1 << 20)
    readings, end = spool.peek(100)
    assert readings == [soil, fix(3)]
    spool.commit(end)
    assert spool.empty
    assert spool.depth_bytes == 0
    assert (tmp_path / "spool.log").stat().st_size == 0


def test_torn_tail_is_cut_off(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append([fix(1)])
    good_size = (tmp_path / "spool.log").stat().st_size
    spool.close()
    with (tmp_path / "spool.log").open("ab") as f:
        f.write(b"\x00\x00\x01\x00garbage-half-record")  # a crash mid-append
    spool = Spool(tmp_path, max_bytes=1 << 20)
    assert (tmp_path / "spool.log").stat().st_size == good_size
    assert spool.peek(10)[0] == [fix(1)]
    spool.append([fix(2)])
    assert spool.peek(10)[0] == [fix(1), fix(2)]


def test_corrupt_record_stops_the_scan(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append([fix(1)])
    spool.close()
    data = bytearray((tmp_path / "spool.log").read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "spool.log").write_bytes(bytes(data))
    assert Spool(tmp_path, max_bytes=1 << 20).empty


def test_spool_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=600)
    spool.append([fix(1)])
    with pytest.raises(SpoolFull):
        spool.append([fix(i) for i in range(2, 10)])
    _readings, end = spool.peek(10)
    spool.commit(end)
    spool.append([fix(i) for i in range(2, 4)])  # room again once replayed


def test_repeat_window_is_bounded() -> None:
    window = RepeatWindow(3)
    for seq in range(5):
        window.add(("d", seq, seq))
    assert len(window) == 3
    assert ("d", 4, 4) in window
    assert ("d", 1, 1) not in window


def test_seq_tracker_counts_gaps_late_fills_and_duplicates() -> None:
    tracker = SeqTracker()
    for seq in (1, 2, 5, 6):  # 3 and 4 lost
        tracker.received("d", seq)
    counts = tracker.counts["d"]
    assert (counts.received, counts.missing, counts.last_seq) == (4, 2, 6)
    tracker.received("d", 3)  # a buffered reading arrives late
    assert (counts.received, counts.missing, counts.last_seq) == (5, 1, 6)
    tracker.duplicate("d")
    assert counts.duplicates == 1


def test_documented_binary_example_decodes() -> None:
    from ingest.decoders.lorawan_binary import decode_collar

    frame = bytes.fromhex("19D866392E7B47C20C089C")
    assert decode_collar(frame) == {
        "lat": 43.3612345, "lon": 77.9831234, "hdop": 1.2, "sats": 8, "bat": 3.9,
    }  # fmt: skip
