"""Where the machine's CPU goes during one measurement, party by party.

On 2 shared cores, a consumer's rate is bounded by what the load generator, the broker and
the store leave it: CPU seconds per message of each party (user + system, from
/proc/<pid>/stat) say who took the cores, and they are the figures that other work on the
machine disturbs least. The parties:

- generator: the rawpub worker processes (each reports its own CPU when it ends);
- broker: the run's Mosquitto; store: the run's InfluxDB;
- consumer: the ingest processes, Node-RED, or the bare `mosquitto_sub` (or, for the store
  write, the adapter: the bench process itself);
- bench: the bench process itself (spawning the generator, polling the store for the end);
- machine: every CPU of the machine busy in the window (/proc/stat), so `other` (what the
  machine spent on none of the parties: other helpers' work) shows how quiet it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PARTIES = ("generator", "broker", "store", "consumer", "bench")


def cores() -> int:
    """The CPUs this process may run on (what the parties share)."""
    return len(os.sched_getaffinity(0))


def process_cpu(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) of `pid`, NaN when it is gone. `children` adds the CPU of
    its children it has waited for (cutime + cstime). A zombie keeps its figures until reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted after the ")" of the name
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def machine_busy() -> float:
    """CPU seconds all CPUs of the machine spent not idle since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already counted in user and nice: leave out fields 9 and 10
    return (sum(values[:8]) - idle) / TICK


def exited_cpu(pid: int, timeout: float) -> float:
    """CPU seconds of a child that is ending: wait (bounded) for it to exit, without reaping
    it, and read its figures while it is a zombie; the caller's wait() reaps it after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return float("nan")
        if done is not None:
            return process_cpu(pid)
        time.sleep(0.01)
    return float("nan")


@dataclass
class Meter:
    """CPU of each party over one window: `start()` before the load, `stop()` at its end.
    The generator's CPU is added by the caller (its workers report it); a consumer that ends
    inside the window is read with `exited_cpu` and added with `add`."""

    broker_pid: int | None = None
    store_pid: int | None = None
    consumer_pids: list[int] = field(default_factory=list)
    _start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def _sample(self) -> dict[str, float]:
        return {
            "broker": _cpu([self.broker_pid]),
            "store": _cpu([self.store_pid]),
            "consumer": _cpu(self.consumer_pids),
            "bench": time.process_time(),
            "machine": machine_busy(),
            "wall": time.monotonic(),
        }

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> None:
        end = self._sample()
        for key, value in end.items():
            self.used[key] = self.used.get(key, 0.0) + value - self._start[key]
        self.seconds = self.used.pop("wall")

    def add(self, party: str, seconds: float) -> None:
        self.used[party] = self.used.get(party, 0.0) + seconds

    def report(self, messages: int) -> dict[str, float]:
        """CPU µs per message of each party, their total, `other` (the machine's busy time
        not spent by any party) and the cores the parties kept busy on average."""
        out = {f"{party}_us": self.used.get(party, 0.0) / messages * 1e6 for party in PARTIES
               if party in self.used}  # fmt: skip
        total = sum(self.used.get(p, 0.0) for p in PARTIES)
        out["total_us"] = total / messages * 1e6
        out["other_us"] = max(0.0, self.used.get("machine", 0.0) - total) / messages * 1e6
        out["cores_busy"] = total / self.seconds if self.seconds else float("nan")
        out["machine_cores_busy"] = (
            self.used.get("machine", 0.0) / self.seconds if self.seconds else float("nan")
        )
        out["window_s"] = self.seconds
        return out


def _cpu(pids: Iterable[int | None]) -> float:
    return sum(process_cpu(p) for p in pids if p is not None)
