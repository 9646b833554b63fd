"""The peer: a Node-RED flow (mqtt in -> join 1000 / 1 s -> function -> influxdb batch) storing
the same messages into the same InfluxDB. Node-RED acks each message on arrival, not after the
write, so it can lose data; we report its throughput only when it stored every message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from jaylym.services import SERVICE_USER, free_port, wait_until

HERE = Path(__file__).resolve().parent / "node-red"


def install() -> Path:
    """npm install into bench/node-red (bench only; never a project dependency)."""
    red = HERE / "node_modules" / "node-red" / "red.js"
    wanted = json.loads((HERE / "package.json").read_text())["dependencies"]["node-red"]
    installed = HERE / "node_modules" / "node-red" / "package.json"
    if not red.exists() or json.loads(installed.read_text())["version"] != wanted:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed: the Node-RED peer cannot run")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=600,
        )
    return red


@dataclass
class NodeRed:
    workdir: Path
    mqtt_port: int
    mqtt_password: str
    influx_port: int
    database: str
    # device id -> (okrug, herd): the flow's device table, as the ingest's registry has them
    devices: dict[str, tuple[str, str]] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        red = install()
        user_dir = self.workdir / "node-red"
        user_dir.mkdir(parents=True, exist_ok=True)
        flow = (HERE / "flow.json").read_text()
        for key, value in {
            "__MQTT_HOST__": "127.0.0.1",
            "__MQTT_PORT__": str(self.mqtt_port),
            "__INFLUX_HOST__": "127.0.0.1",
            "__INFLUX_PORT__": str(self.influx_port),
            "__INFLUX_DB__": self.database,
            # a JSON object is a JS object literal; it lands inside a JSON string, so dumped twice
            "__DEVICES__": json.dumps(json.dumps(self.devices))[1:-1],
        }.items():
            flow = flow.replace(key, value)
        (user_dir / "flow.json").write_text(flow)
        creds = {"a1b2c3d4e5f60002": {"user": SERVICE_USER, "password": self.mqtt_password}}
        (user_dir / "flow_cred.json").write_text(json.dumps(creds))
        log = (self.workdir / "node-red.log").open("wb")
        env = {**os.environ, "NODE_RED_PORT": str(free_port())}
        self.proc = proc = subprocess.Popen(
            ["node", str(red), "--settings", str(HERE / "settings.js"), "--userDir", str(user_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        wait_until(
            lambda: "Connected to broker" in self.log() or proc.poll() is not None,
            timeout=timeout,
            what="Node-RED connected to the broker",
            step=0.2,
        )
        if proc.poll() is not None:
            raise RuntimeError(f"Node-RED exited: {self.log()[-2000:]}")
        time.sleep(0.5)  # the subscription follows the connection

    def log(self) -> str:
        path = self.workdir / "node-red.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None
