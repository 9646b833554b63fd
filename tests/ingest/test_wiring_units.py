"""Small pieces: settings slice, shared-group filters, the directory cache, spool after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.directory import CachedDirectory, DirectoryUnavailable, StaticDirectory
from ingest.service import topic_filters
from jaylym.models import DeviceInfo
from jaylym.settings import Settings
from tests.ingest.harness import COW1, Harness, collar_msg


def test_settings_slice_and_shared_group_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_INGEST_SHARED_GROUP", "workers")
    monkeypatch.setenv("JAYLYM_INGEST_BATCH_MAX", "250")
    monkeypatch.setenv("JAYLYM_DATA_DIR", "/srv/jaylym")
    cfg = Settings().ingest()
    assert cfg.batch_max == 250
    assert cfg.spool_dir == Path("/srv/jaylym/spool")
    assert topic_filters(cfg) == (
        "$share/workers/pasture/v1/+/+/+/telemetry",
        "$share/workers/application/+/device/+/event/up",
        "$share/workers/v3/+/devices/+/up",
    )
    assert topic_filters(cfg.model_copy(update={"shared_group": None}))[0] == (
        "pasture/v1/+/+/+/telemetry"
    )


def test_bad_shared_group_is_a_clear_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAYLYM_INGEST_SHARED_GROUP", "a/b#")
    with pytest.raises(ValueError, match="ingest_shared_group"):
        Settings()


def test_directory_cache_expires_and_reports_outages() -> None:
    now = [0.0]
    inner = StaticDirectory()
    cached = CachedDirectory(inner, ttl_s=30, clock=lambda: now[0])
    assert cached.lookup("cow-1") is None  # unknown, and remembered as unknown
    inner.add(DeviceInfo("cow-1", "collar", "sogety", dev_eui="70B3D57ED0000001"))
    assert cached.lookup("cow-1") is None
    now[0] = 31
    assert cached.lookup("cow-1") is not None  # registered devices show up within the TTL
    assert cached.by_dev_eui("70b3d57ed0000001") is not None

    class Down:
        def lookup(self, device_id: str) -> DeviceInfo | None:
            raise OSError("connection refused")

        def by_dev_eui(self, dev_eui: str) -> DeviceInfo | None:
            raise OSError("connection refused")

    with pytest.raises(DirectoryUnavailable):
        CachedDirectory(Down(), ttl_s=30).lookup("cow-1")


def test_directory_cache_keeps_ids_and_euis_apart_and_is_bounded() -> None:
    device = DeviceInfo("70b3d57ed0000001", "collar", "sogety", dev_eui="70b3d57ed0000002")
    inner = StaticDirectory([device])
    cached = CachedDirectory(inner, ttl_s=30, clock=lambda: 0.0, max_entries=3)
    assert cached.by_dev_eui("70B3D57ED0000001") is None  # an id is not an EUI
    assert cached.lookup("70b3d57ed0000001") is device
    assert cached.by_dev_eui("70b3d57ed0000002") is device
    inner.add(DeviceInfo("cow-1", "collar", "sogety"))
    assert cached.lookup("cow-1") is not None  # the fourth entry: the cache starts over
    inner._by_id.clear()  # gone from the registry: only a cache that started over sees it
    assert cached.lookup("70b3d57ed0000001") is None
    assert cached.lookup("cow-1") is not None  # asked after the start-over: still cached


def test_spool_written_before_a_crash_is_replayed_by_the_next_process(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    first.store.down = True
    first.send(COW1, collar_msg([1, 2, 3]))
    first.drain()
    assert first.transport.acked == [1]  # acknowledged: the broker will not send it again
    # The process dies here (no close); the next one starts on the same spool directory.
    second = Harness(tmp_path)
    second.drain()
    assert sorted(r.seq for r in second.store.points.values()) == [1, 2, 3]
    assert second.spool.empty


def test_the_ingest_freezes_its_start_up_heap_and_collects_young_objects_less_often() -> None:
    import gc

    from ingest.service import GC_THRESHOLDS, tune_collector

    before_thresholds, before_frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        gc.set_threshold(700, 10, 10)  # CPython's defaults, whatever ran before in this worker
        tune_collector()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > before_frozen
    finally:
        gc.set_threshold(*before_thresholds)
        gc.unfreeze()
