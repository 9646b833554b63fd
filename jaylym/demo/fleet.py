"""The demo's devices: the real firmware with the simulated board, one folder (flash) each.

Devices run on the MicroPython unix port, one process each, as far as `max_micropython`
allows (and the binary exists); the rest run the same firmware on CPython, in threads of one
child process (`python -m jaylym.demo.fleet FOLDER...`). Either way every device is a child
process the demo can stop, so nothing outlives it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from jaylym.firmware_host import FirmwareHostError, micropython_binary
from jaylym.firmware_sim import SimDevice

STOP_TIMEOUT_S = 10.0


@dataclass
class Fleet:
    devices: list[SimDevice]
    log_dir: Path
    max_micropython: int = 32
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    on_micropython: int = 0
    on_cpython: int = 0

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            micropython_binary()
            budget = self.max_micropython
        except FirmwareHostError:
            budget = 0  # no MicroPython here: the whole fleet on CPython
        rest: list[SimDevice] = []
        for n, device in enumerate(self.devices):
            if n < budget:
                log = self.log_dir / f"{device.device_id}.log"
                self.processes.append(device.start(log=log))
                self.on_micropython += 1
            else:
                device.provision()
                rest.append(device)
        if rest:
            out = (self.log_dir / "cpython-fleet.log").open("ab")
            try:
                argv = [sys.executable, "-m", "jaylym.demo.fleet"]
                argv += [f"{d.kind}:{d.folder}" for d in rest]
                self.processes.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
            finally:
                out.close()
            self.on_cpython = len(rest)

    def alive(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        """Terminate every device process; kill what has not gone within the timeout."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)


def _run_cpython(specs: list[str]) -> None:
    """Child process: run each `kind:folder` device's firmware in a daemon thread."""
    threads = []
    for spec in specs:
        kind, _, folder = spec.partition(":")
        device_id = json.loads((Path(folder) / "device.json").read_text())["id"]
        device = SimDevice(
            device_id=device_id,
            kind="collar" if kind == "collar" else "soil",
            broker_url="mqtt://127.0.0.1:1",  # unused: device.json is already written
            folder=Path(folder),
        )
        # run_cpython would rewrite device.json from these placeholder fields: run directly.
        from jaylym.firmware_sim import _cpython_main, _runtime

        main = _cpython_main(device.kind)
        thread = threading.Thread(
            target=_runtime().run, args=(device.kind, main.cycle, folder, None), daemon=True
        )
        thread.start()
        threads.append(thread)
    # The parent terminates this process; the threads are daemons and go with it.
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    _run_cpython(sys.argv[1:])
