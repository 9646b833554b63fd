"""Where the ingest's time goes: a py-spy record (collapsed stacks) summarised for the report.

py-spy samples the process from outside (no instrumentation, so the profiled run is not
slowed by the profiler itself). Its raw format is one line per distinct stack,
`frame;frame;...;frame count`, each frame `function (path:line)`. The summary gives, per
function, the share of samples in which it is on the stack (inclusive) and at the top (self),
restricted to the project's code for the inclusive view so the table reads as a call tree of
the ingest rather than of the interpreter. py-spy cannot attach to a running process in
this sandbox (no ptrace), so it starts the ingest as its child; the samples taken while
modules are imported (start-up, before the burst) are left out.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<func>.+?) \((?P<path>[^()]*?)(?::\d+)?\)$")
OURS = ("ingest/", "jaylym/", "bench/")


def available() -> bool:
    return bool(shutil.which("py-spy") or (Path(sys.executable).parent / "py-spy").exists())


def _name(frame: str) -> tuple[str, bool]:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip(), False
    path = match["path"]
    short = "/".join(path.split("/")[-2:])
    ours = any(f"/{p}" in path or path.startswith(p) for p in OURS) and "site-packages" not in path
    return f"{match['func']} ({short})", ours


def summarise(raw: str, top: int = 12) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    idle = 0
    total = 0
    startup = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples = int(n)
        if "importlib" in stack:
            startup += samples  # the process importing its modules, before the burst
            continue
        total += samples
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        leaf = frames[-1][0]
        own[leaf] += samples
        if any(
            w in leaf
            for w in ("wait (threading", "select (", "poll (", "sleep", "_wait_for_tstate")
        ):
            idle += samples
        for name in {name for name, ours in frames if ours}:
            inclusive[name] += samples

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "share": round(n / total, 3)} for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "startup_samples_excluded": startup,
        "idle_share": round(idle / total, 3) if total else None,
        "inclusive": share(inclusive),
        "self": share(own),
    }


# Which thread a stack belongs to, by a frame only that thread runs.
THREADS = (("mqtt network thread (paho)", "_thread_main"), ("consumer", "Consumer.run"),
           ("store writer", "influx-write"), ("metrics endpoint", "serve_forever"))  # fmt: skip


def text(raw: str, top: int = 30) -> str:
    """A plain-text report of a py-spy raw profile: share per thread, then the functions by
    self time and, for project code, inclusive time (bench/results/ingest-profile.txt)."""
    threads: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit() or "importlib" in stack:
            continue
        name = next((t for t, frame in THREADS if frame in stack), "other (start-up, main)")
        threads[name] += int(n)
    total = sum(threads.values()) or 1
    summary = summarise(raw, top)
    out = [f"py-spy samples (import time left out): {summary['samples']:,}", "",
           "Share of samples per thread:"]  # fmt: skip
    out += [f"  {n / total:6.1%}  {name}" for name, n in threads.most_common()]
    out += ["", "Self (the function at the top of the stack):"]
    out += [f"  {r['share']:6.1%}  {r['function']}" for r in summary["self"]]
    out += ["", "Inclusive, project code (on the stack anywhere):"]
    out += [f"  {r['share']:6.1%}  {r['function']}" for r in summary["inclusive"]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(text(Path(sys.argv[1]).read_text()), end="")
