"""Simulated devices on this host: provisioning a state folder, and running the firmware in it.

A device's folder is its flash: device.json (who it is, where it reports), config.json,
the queue `q/`, sim.json (the simulated world) and rtc.json (RTC memory). The firmware runs
in it on the MicroPython unix port (`micropython main.py FOLDER`), or, for fleets larger than
this machine runs as processes, on CPython in threads (the same code, imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jaylym.firmware_host import FIRMWARE_DIR, FirmwareHostError, build, micropython_binary
from jaylym.settings import DEVICE_ID_PATTERN, parse_mqtt_url

Kind = Literal["collar", "soil"]
MAIN = {
    "collar": FIRMWARE_DIR / "collar" / "main.py",
    "soil": FIRMWARE_DIR / "soil_station" / "main.py",
}


@dataclass
class SimDevice:
    """One simulated device and its folder."""

    device_id: str
    kind: Kind
    broker_url: str
    folder: Path
    okrug: str = "sogety"
    password: str | None = None
    track: Path | None = None
    speed: float = 1.0
    seed: int | None = None
    nofix_p: float = 0.03
    ca: Path | None = None  # the broker's CA certificate (PEM or DER), for mqtts://
    extra: dict[str, Any] = field(default_factory=dict)

    def provision(self) -> Path:
        """Write device.json; the queue and config already in the folder are kept."""
        import re

        if not re.match(DEVICE_ID_PATTERN, self.device_id):
            raise FirmwareHostError(f"device id {self.device_id!r}: 3..32 of a-z, 0-9, -")
        broker = parse_mqtt_url(self.broker_url)
        if broker.username and broker.username != self.device_id:
            raise FirmwareHostError("a device logs in as its own id: the URL user must be it")
        password = self.password or (broker.password.get_secret_value() if broker.password else "")
        sim: dict[str, Any] = {"speed": self.speed, "nofix_p": self.nofix_p}
        if self.seed is not None:
            sim["seed"] = self.seed
        if self.track is not None:
            sim["track"] = str(Path(self.track).resolve())
        doc = {
            "id": self.device_id,
            "kind": self.kind,
            "okrug": self.okrug,
            "host": broker.host,
            "port": broker.port,
            "password": password,
            "board": "sim",
            "sim": sim,
            **self.extra,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        if broker.tls:
            if self.ca is None:
                raise FirmwareHostError("mqtts:// needs the broker's CA certificate (--ca)")
            (self.folder / "ca.der").write_bytes(ca_der(self.ca))
            doc["tls"] = True
            doc["ca"] = "ca.der"
        (self.folder / "device.json").write_text(json.dumps(doc, indent=1))
        return self.folder

    # -- MicroPython ---------------------------------------------------------------------

    def micropython_argv(
        self, cycles: int | None = None, heapsize: str | None = None
    ) -> tuple[list[str], dict[str, str]]:
        build_dir = build(self.folder.parent / ".mpy-build")
        argv = [micropython_binary()]
        if heapsize:
            argv += ["-X", f"heapsize={heapsize}"]
        argv += [str(MAIN[self.kind]), str(self.folder), "" if cycles is None else str(cycles)]
        env = dict(os.environ, MICROPYPATH=f"{build_dir}:.frozen")
        return argv, env

    def start(
        self, cycles: int | None = None, log: Path | None = None, heapsize: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Run under MicroPython in the background; output (JSON lines) to `log`."""
        self.provision()
        argv, env = self.micropython_argv(cycles, heapsize)
        out = (log or self.folder / "device.log").open("ab")
        try:
            return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()

    # -- CPython -------------------------------------------------------------------------

    def run_cpython(self, cycles: int | None = None) -> Any:
        """Run in this process (a thread of a large fleet): the same firmware, imported."""
        self.provision()
        main = _cpython_main(self.kind)
        runtime = _runtime()
        return runtime.run(self.kind, main.cycle, str(self.folder), cycles)


def ca_der(path: Path) -> bytes:
    """A CA certificate as DER (what MicroPython's mbedTLS loads), from PEM or DER."""
    import ssl

    data = Path(path).read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return ssl.PEM_cert_to_DER_cert(data.decode())
    return data


_IMPORT_LOCK = threading.Lock()


def _runtime() -> Any:
    from jaylym.firmware_host import firmware_module

    with _IMPORT_LOCK:
        return firmware_module("common.runtime")


def _cpython_main(kind: Kind) -> Any:
    """firmware/<kind>/main.py as a module on CPython (it is a script on the device)."""
    import importlib.util
    import sys

    name = f"jaylym_firmware_{kind}_main"
    with _IMPORT_LOCK:
        if name in sys.modules:
            return sys.modules[name]
        from jaylym.firmware_host import firmware_module

        firmware_module("common")
        spec = importlib.util.spec_from_file_location(name, MAIN[kind])
        if spec is None or spec.loader is None:
            raise FirmwareHostError(f"cannot load {MAIN[kind]}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


def read_events(log: Path) -> list[dict[str, Any]]:
    """The JSON-line events a device printed (other lines, e.g. tracebacks, are skipped)."""
    events: list[dict[str, Any]] = []
    if not log.exists():
        return events
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events
