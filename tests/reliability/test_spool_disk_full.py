"""The spool on a filesystem that fills up, while the store is down: a real ENOSPC from a
small tmpfs the test mounts (no mock). The ingest says so clearly (logged once, counted per
error), stops acknowledging so the broker keeps the messages in the persistent session, and
after space returns every reading reaches InfluxDB exactly once."""

from __future__ import annotations

import errno
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jaylym.services import InfluxD
from jaylym.settings import Settings
from jaylym.store import open_store
from tests.conftest import BrokerHandle
from tests.ingest.live import (
    RunningIngest,
    collar_payload,
    device_fleet,
    eventually,
    publish_all,
    running_ingest,
)
from tests.reliability.exactly_once import stored_count, tally

pytestmark = [pytest.mark.mqtt, pytest.mark.influx, pytest.mark.slow]

DEVICES = 20
PER_DEVICE = 100
FS_BYTES = 1 << 20
HEADROOM = 48 * 1024  # room for a few batches, then ENOSPC mid-stream
RETURNED = 96 * 1024  # the space that returns the first time


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of this test's own (we run as root in the container)."""
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES},mode=0700", "jaylym-spool-test",
         str(mount_point)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for a real ENOSPC: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """Fill the filesystem but `leave` bytes, with a real file; ENOSPC at the end is fine."""
    filler = directory / "filler"
    stat = os.statvfs(directory)
    todo = stat.f_bavail * stat.f_frsize - leave
    refused: OSError | None = None
    with filler.open("wb") as f:
        try:
            while todo > 0:
                todo -= f.write(b"\0" * min(todo, 65536))
            f.flush()
        except OSError as exc:
            refused = exc
    assert refused is None or refused.errno == errno.ENOSPC, refused
    return filler


SPOOLED = "jaylym_ingest_readings_spooled_total"
ERRORS = "jaylym_ingest_spool_errors_total"


def wait_for_enospc(ingest: RunningIngest, total: int, episode: int) -> float:
    """Until the spool refuses with ENOSPC; then check the acks are held. Returns the
    readings spooled (and acknowledged) so far."""
    eventually(lambda: ingest.metric(ERRORS, error="ENOSPC") >= episode, 60, f"ENOSPC #{episode}")
    eventually(lambda: not ingest.service.health()["ok"], 10, "acks held, /healthz 503")
    assert ingest.service.health()["acks_held"] is True
    assert ingest.metric("jaylym_ingest_spool_full") == 1
    spooled = ingest.metric(SPOOLED)
    assert 0 < spooled < total, "ENOSPC was not mid-stream"
    time.sleep(1.5)  # held: nothing more is acknowledged, the broker keeps the rest
    assert ingest.metric(SPOOLED) == spooled
    assert ingest.metric("jaylym_ingest_pending_messages") > 0
    return spooled


def test_spool_on_a_full_disk_holds_acks_then_everything_arrives_once(
    mosquitto: BrokerHandle,
    own_influxd: InfluxD,
    small_fs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"enospc_{uuid.uuid4().hex[:10]}"
    store = open_store(Settings(tsdb="influx", influx_url=own_influxd.url, influx_db=db))
    devices = device_fleet(DEVICES, prefix=f"f{uuid.uuid4().hex[:6]}")
    ids = [d.device_id for d in devices]
    ts0 = time.time() - 7200
    messages = [
        (f"pasture/v1/sogety/collar/{d}/telemetry", collar_payload([s], ts0))
        for s in range(PER_DEVICE) for d in ids
    ]  # fmt: skip
    total = len(messages)
    client_id = f"enospc-{uuid.uuid4().hex[:8]}"
    opts = {"client_id": client_id, "batch_max": 100}
    own_influxd.stop()
    filler = fill(small_fs, HEADROOM)
    with running_ingest(mosquitto.url, store, devices, small_fs, **opts) as ingest:
        publish_all(mosquitto.url, messages, connections=10)  # the broker has them all
        first = wait_for_enospc(ingest, total, episode=1)
        # Some space returns to the same process: it spools the held batch and goes on
        # until the disk is full again (a torn record left by the first ENOSPC must not
        # hide what is appended after it).
        with filler.open("r+b") as f:
            f.truncate(filler.stat().st_size - RETURNED)
        eventually(lambda: ingest.metric(SPOOLED) > first, 30, "spooling resumed")
        second = wait_for_enospc(ingest, total, episode=2)
        errors = ingest.metric(ERRORS, error="ENOSPC")
        # A clean stop while holding: what was not acknowledged stays with the broker.
    # Read what the ingest wrote rather than structlog's capture_logs: loggers are cached on
    # first use, so an earlier test in the same worker can leave them on processors that
    # capture_logs never sees. JSON on stderr when configured, console text on stdout if not.
    out = capsys.readouterr()
    said = [line for line in (out.out + out.err).splitlines()
            if "spool full: holding" in line and "ENOSPC" in line]  # fmt: skip
    assert len(said) == 2, said  # once per episode, not at every retry
    filler.unlink()  # space returns
    with running_ingest(mosquitto.url, store, devices, small_fs, **opts) as ingest:
        eventually(
            lambda: ingest.metric("jaylym_ingest_readings_spooled_total")
            >= total - second and ingest.service.health()["ok"],
            120, "the rest spooled after space returned",
        )  # fmt: skip
        own_influxd.start()
        eventually(lambda: stored_count(own_influxd.url, db) >= total, 120, "all replayed")
        eventually(lambda: ingest.service.spool.empty, 30, "spool drained")
        time.sleep(1.0)  # a late double would show by now
        redelivered = ingest.metric("jaylym_ingest_messages_received_total", source="native")
    result = tally(own_influxd.url, db, {d: range(PER_DEVICE) for d in ids})
    print(result.line("spool_disk_full", 2, enospc_refusals=int(errors),
                      spooled_before_full=f"{int(first)}+{int(second - first)}",
                      redelivered_by_broker=int(redelivered)))  # fmt: skip
    assert result.exact, result
    assert result.stored == total
    assert redelivered >= total - second  # the held rest came from the broker
    store.close()
