"""The bench's own bookkeeping, without a benchmark run: the generator's timestamps stay where
the ingest accepts them, the end of a load is detected exactly (the cheap gates never end a
wait the full count would not), and the CPU table's arithmetic."""

from __future__ import annotations

import math
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from bench import physical, rawpub, report
from bench.common import create_db, shortfall, wait_for_load
from bench.cpu import Meter, cores, exited_cpu, process_cpu
from bench.ingest_load import after
from tests.conftest import InfluxHandle

NOW = 1_790_000_000.0


def test_a_paced_load_after_a_burst_goes_on_from_it_within_the_ingest_limits() -> None:
    burst = rawpub.RawLoad(url="mqtt://x", messages=100_000, connections=50,
                           start_ts=int(NOW) - 86_400)  # fmt: skip
    paced = after(burst, rate=1000, seconds=5)
    assert paced.ts_range()[0] == burst.ts_range()[1] + 1
    assert (paced.sent, paced.per_connection, paced.rate) == (5000, 100, 1000)
    paced.check_times(NOW)
    # The former standalone paced run: offset by the burst's total, 28 h later, all rejected.
    wrong = rawpub.RawLoad(url="mqtt://x", messages=5000, connections=50,
                           start_ts=burst.start_ts, seq_offset=100_000)  # fmt: skip
    with pytest.raises(ValueError, match="in the future"):
        wrong.check_times(NOW)
    with pytest.raises(ValueError, match="days ago"):
        rawpub.RawLoad(url="mqtt://x", messages=10, start_ts=int(NOW) - 500 * 86_400).check_times(
            NOW
        )


def _write(url: str, db: str, lines: list[str]) -> None:
    httpx.post(f"{url}/write", params={"db": db, "precision": "ms"},
               content="\n".join(lines).encode(), timeout=30).raise_for_status()  # fmt: skip


@pytest.mark.influx
def test_the_end_of_a_load_is_the_full_count_and_a_gap_is_named(influx: InfluxHandle) -> None:
    db = f"endwait_{uuid.uuid4().hex[:8]}"
    create_db(influx.url, db)
    spec = rawpub.RawLoad(url="mqtt://x", messages=200, connections=5, prefix="bench")
    lines = physical.encoded_lines(spec)
    gap = lines.pop(3)  # device bench-00000, seq 3: neither device's tail, so the gates pass
    assert "bench-00000" in gap
    _write(influx.url, db, lines)

    short = wait_for_load(influx.url, db, spec, timeout=20, stall_s=0.3)
    assert (short.stored, short.stalled) == (199, True)
    assert short.polls["one_device_tail"] == 1
    assert short.polls["every_device_tail"] == 1
    assert shortfall(influx.url, db, spec) == {"bench-00000": 1}

    _write(influx.url, db, [gap])
    done = wait_for_load(influx.url, db, spec, timeout=20)
    assert (done.stored, done.stalled) == (200, False)
    assert done.polls == {"one_device_tail": 1, "every_device_tail": 1, "full": 1}
    assert shortfall(influx.url, db, spec) == {}
    ungated = wait_for_load(influx.url, db, spec, timeout=20, gated=False)
    assert (ungated.stored, ungated.polls) == (200, {"full": 1})


def test_the_meter_charges_each_party_its_own_cpu() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    busy = subprocess.Popen([sys.executable, "-c", burn])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        meter = Meter(broker_pid=idle.pid, consumer_pids=[busy.pid])
        meter.start()
        ending = exited_cpu(busy.pid, timeout=30)  # read while a zombie, before the reaping
        meter.stop()  # reads the zombie's figures too
    finally:
        busy.wait(timeout=30)
        idle.wait(timeout=30)
    assert ending >= 0.25
    assert math.isnan(process_cpu(busy.pid))  # reaped: gone
    out = meter.report(1000)
    assert out["consumer_us"] >= 200.0  # 0.3 s burnt, less what it spent before the start
    assert out["broker_us"] < 100.0  # the sleeper spent next to nothing
    assert out["window_s"] > 0
    assert out["total_us"] >= out["consumer_us"]


def _run(rate: float, **cpu: float) -> dict[str, Any]:
    return {"rate": rate, "zero_loss": True, "cpu": {**cpu, "total_us": sum(cpu.values())}}


def test_the_ceiling_is_what_the_cores_leave_a_free_consumer() -> None:
    parties = {"generator_us": 8.0, "broker_us": 13.0, "store_us": 11.0, "bench_us": 1.0}
    runs = {
        "relay": [_run(60_000.0, generator_us=8.0, broker_us=12.0, consumer_us=5.0)],
        "store_write": [_run(100_000.0, store_us=9.0, consumer_us=3.0)],
        "ingest_1": [_run(20_000.0, **parties, consumer_us=40.0)],
        "ingest_2": [_run(28_000.0, **parties, consumer_us=35.0)],
        "node_red": [_run(28_000.0, **parties, consumer_us=30.0)],
    }
    f = report.figures(SimpleNamespace(runs=runs))  # type: ignore[arg-type]
    n = cores()
    assert f["ingest_2_others_us"] == 32.0
    assert f["ingest_2_ceiling"] == pytest.approx(n * 1e6 / 32.0)
    assert f["ingest_2_ceiling_vs_limit"] == pytest.approx(n * 1e6 / 32.0 / 60_000.0)
    assert f["ingest_2_ceiling_vs_node_red"] == pytest.approx(n * 1e6 / 32.0 / 28_000.0)
    assert f["ingest_2_cores_allow"] == pytest.approx(n * 1e6 / 68.0)
    # 0.75 x 60 000 msg/s = 45 000 msg/s leaves n x 1e6 / 45 000 - 33 µs per message
    assert f["ingest_2_budget_limit_us"] == pytest.approx(n * 1e6 / 45_000 - 33.0)
    assert f["ingest_2_budget_node_red_us"] == pytest.approx(n * 1e6 / 42_000 - 33.0)
    table = report.cpu_markdown(report._clean(f))
    assert any(row.startswith("| Ingest, 2 processes | 28,000 | 8.00 | 13.00 | 11.00 | 35.00")
               for row in table)  # fmt: skip
    assert any("Ceiling with a free consumer" in row for row in table)
    # two processes: at their 68 µs per message the cores allow n x 1e6 / 68 msg/s, over
    # the one process's 20 000
    assert f["two_over_one_ceiling"] == pytest.approx(n * 1e6 / 68.0 / 20_000.0)
    shown = f"**{n * 1e6 / 68.0 / 20_000.0:.2f}x** the 1-process rate"
    assert any(shown in row for row in table), table


def test_the_meter_reads_its_own_process() -> None:
    meter = Meter()
    meter.start()
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    meter.stop()
    assert meter.used["bench"] >= 0.05
