"""`jaylym demo`: the whole platform in one process tree, on embedded defaults.

In this process: the embedded amqtt broker (MQTT 3.1.1), the API (uvicorn, in a thread) on
the SQLite registry and the SQLite time-series store under the data folder, the ingest
(a thread), and the alert engine on the simulated clock (a thread) printing each alert.
Child processes: the simulated okrug's devices running the real firmware. `stop()` ends all of
it, in the order data flows backwards (devices first, broker last), each step bounded.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaylym.demo.clock import SimClock

DEFAULT_SPEED = 360.0  # simulated seconds per real second: an hour every 10 s
# Simulated time starts at most this far back. The API's latest positions look back a week,
# so the page shows the herds from the first minute; a longer --duration x --speed runs on
# in the present once the simulated clock has caught up (timestamps then advance in real time).
MAX_LEAD_DAYS = 6
STEP_TIMEOUT_S = 15.0
FIRST_READINGS_TIMEOUT_S = 60.0
MARKER = ".jaylym-demo"


class DemoError(RuntimeError):
    """The demo cannot start as asked; the message says why and what to do."""


@dataclass
class DemoOptions:
    port: int = 8000
    speed: float = DEFAULT_SPEED
    duration_s: float = 1200.0
    data_dir: Path = Path("var/demo")
    max_micropython: int = 32
    evaluation_interval_sim_s: float = 600.0  # the alert engine's tick, simulated

    def check(self) -> None:
        if self.speed <= 0 or self.duration_s <= 0:
            raise ValueError("speed and duration must be positive")

    @property
    def lead_s(self) -> float:
        """How far in the past simulated time starts (real seconds x speed, capped)."""
        return min(self.duration_s * self.speed, MAX_LEAD_DAYS * 86400.0)


@dataclass
class Demo:
    options: DemoOptions
    write: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    admin_token: str = ""
    herder_token: str = ""
    url: str = ""
    started_real: float = 0.0
    history_days: float = 0.0
    _stack: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    clock: SimClock | None = None
    sink: Any = None
    fleet: Any = None
    seeded: Any = None
    app: Any = None
    broker_url: str = ""

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bring everything up; on any failure, take down what already started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        opts = self.options
        opts.check()
        from jaylym.firmware_host import FIRMWARE_DIR

        if not (FIRMWARE_DIR / "collar" / "main.py").is_file():
            # The devices run the firmware's sources, which a wheel does not carry.
            raise DemoError(
                f"no firmware sources at {FIRMWARE_DIR}: the demo runs from a source checkout "
                "(git clone, then `bash deploy/bootstrap.sh demo`)"
            )
        self.started_real = time.monotonic()
        data = opts.data_dir.resolve()
        # A demo starts from nothing: yesterday's run would collide with today's clock. Only a
        # folder an earlier demo made is emptied, never whatever --data-dir happens to name.
        if data.exists() and any(data.iterdir()):
            if not (data / MARKER).exists():
                raise DemoError(
                    f"{data} is not empty and was not made by `jaylym demo`: "
                    "give --data-dir a new or empty folder"
                )
            shutil.rmtree(data)
        data.mkdir(parents=True, exist_ok=True)
        (data / MARKER).write_text("made by `jaylym demo`; emptied at its next start\n")

        from jaylym.demo.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        broker.start()
        self._stack.append(("broker", broker.stop))
        self.broker_url = broker.url
        settings = self._settings(data, broker.url)
        self.clock = SimClock.ending_now_plus(opts.speed, opts.lead_s / opts.speed)

        engine = self._registry(settings)
        self._api(settings)
        self._seed(settings)
        self._ingest(settings)
        self._fleet(settings, data, broker.url)
        # The engine starts once every device has reported: a fleet still booting would
        # otherwise read as devices gone silent.
        self._wait_first_readings(settings)
        self._alerts(settings, engine)
        self._banner(data)

    def _settings(self, data: Path, broker_url: str) -> Any:
        from jaylym.settings import Settings

        return Settings(
            env="development",
            data_dir=data,
            database_url=f"sqlite:///{data / 'registry.db'}",
            tsdb="sqlite",
            mqtt_url=broker_url,
            ingest_mqtt_protocol="3.1.1",
            ingest_client_id="jaylym-demo-ingest",
            ingest_metrics_port=0,
            api_host="127.0.0.1",
            api_port=self.options.port,
        )

    def _registry(self, settings: Any) -> Any:
        from api.crud import create_token
        from api.policy import Access, Principal
        from api.schemas.tokens import TokenCreate
        from jaylym.registry.db import make_engine, session_factory
        from jaylym.registry.migrate import upgrade

        engine = make_engine(settings.registry_url)
        self._stack.append(("registry", engine.dispose))
        upgrade(engine)
        from api.core.config import ApiConfig

        cfg = ApiConfig.from_settings(settings)
        pepper = cfg.token_pepper.get_secret_value()
        with session_factory(engine)() as session:
            created = create_token(
                Access(Principal(token_id=0, role="admin"), session),
                TokenCreate(name="demo admin", role="admin"),
                pepper,
            )
        self.admin_token = created.token
        return engine

    def _api(self, settings: Any) -> None:
        import uvicorn

        from api.core.config import ApiConfig
        from api.main import create_app
        from jaylym.services import wait_until
        from jaylym.store import open_store

        app = create_app(
            ApiConfig.from_settings(settings), store_factory=lambda: open_store(settings)
        )
        self.app = app
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.options.port, log_level="warning", lifespan="on"
            )
        )
        thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
        thread.start()

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=STEP_TIMEOUT_S)

        self._stack.append(("api", stop))
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=STEP_TIMEOUT_S,
            what=f"the API on port {self.options.port}",
        )
        if not server.started:
            raise DemoError(
                f"the API could not start on 127.0.0.1:{self.options.port} (in use?): "
                "give another --port"
            )
        self.url = f"http://127.0.0.1:{self.options.port}/"

    def _client(self) -> Any:
        import httpx

        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=STEP_TIMEOUT_S,
        )

    def _seed(self, settings: Any) -> None:
        from jaylym.demo.seed import seed_history, seed_registry, utc
        from jaylym.store import open_store

        assert self.clock is not None
        with self._client() as client:
            seeded = seed_registry(client, utc(self.clock.t0_ms))
            store = open_store(settings)
            try:
                self.history_days = seed_history(
                    store, client, self.clock.t0_ms, settings.livestock_units()
                )
            finally:
                store.close()
        self.seeded = seeded
        self.herder_token = seeded.herder_token

    def _ingest(self, settings: Any) -> None:
        from ingest.wiring import build_service

        # The same assembly as `jaylym ingest` (what docker-compose runs).
        service = build_service(settings)
        stop = threading.Event()
        # A daemon: its stop is asked for and waited on (bounded), and should it hang, it
        # must not keep the process alive after the demo has said it stopped.
        thread = threading.Thread(target=service.run, args=(stop,), name="demo-ingest", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=STEP_TIMEOUT_S)

        self._stack.append(("ingest", halt))

    def _wait_first_readings(self, settings: Any) -> None:
        from jaylym.store import open_store

        wanted = {d.device_id for d in self.fleet.devices}
        store = open_store(settings)
        deadline = time.monotonic() + FIRST_READINGS_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                missing = wanted - store.last_seen().keys()
                if not missing:
                    return
                if self.fleet.alive() == 0:
                    raise DemoError(f"the devices stopped; see their logs in {self.fleet.log_dir}")
                time.sleep(0.2)
        finally:
            store.close()
        self.write(
            f"note: {len(missing)} device(s) not heard from after "
            f"{FIRST_READINGS_TIMEOUT_S:g} s: {', '.join(sorted(missing))}"
        )

    def _alerts(self, settings: Any, engine: Any) -> None:
        """The API's own alert service (engine loop, delivery worker) on the simulated
        clock, with the console printer beside the delivery sink."""
        from api.alerts.runtime.service import AlertService
        from jaylym.demo.console import ConsoleSink, TeeSink
        from jaylym.store import open_store

        assert self.clock is not None
        store = open_store(settings)
        self._stack.append(("alerts store", store.close))
        service = AlertService.from_settings(settings, engine, store, clock=self.clock)
        service.interval_s = self.options.evaluation_interval_sim_s
        source = service.source
        self.sink = ConsoleSink(
            lambda: source.view if source.view is not None else source.load_view(),
            self.write,
            self.started_real,
            time.monotonic,
            default_language=settings.alerts_default_language,
            timezone=settings.alerts_timezone,
        )
        service.engine.sink = TeeSink(service.engine.sink, self.sink)
        service.start()
        self._stack.append(
            ("alerts", lambda: self._stopped(service.stop(STEP_TIMEOUT_S), "alerts"))
        )

    def _stopped(self, ok: bool, what: str) -> None:
        if not ok:
            raise RuntimeError(f"{what} did not stop within {STEP_TIMEOUT_S:g} s")

    def _fleet(self, settings: Any, data: Path, broker_url: str) -> None:
        import json

        from jaylym.demo import sogety
        from jaylym.demo.fleet import Fleet

        assert self.clock is not None
        rows = int(self.options.lead_s / sogety.FIX_INTERVAL_S) + 50
        tracks = sogety.collar_tracks(rows)
        devices = []
        base = data / "devices"
        collar_config = {
            "interval_s": sogety.FIX_INTERVAL_S,
            "interval_moving_s": sogety.FIX_INTERVAL_S,
            "interval_resting_s": sogety.FIX_INTERVAL_S,
        }
        for herd in sogety.HERDS:
            for collar in herd.collars:
                folder = base / collar
                folder.mkdir(parents=True)
                (folder / "track.csv").write_text(sogety.track_csv(tracks[collar]))
                (folder / "config.json").write_text(json.dumps(collar_config))
                devices.append(self._device(collar, "collar", folder, broker_url))
        for station, _pasture in sogety.STATIONS:
            folder = base / station
            folder.mkdir(parents=True)
            device = self._device(station, "soil", folder, broker_url)
            if station == sogety.LOW_BATTERY_STATION:
                # A failing solar charger: it starts just above the warning and sinks below.
                device.sim_options.update({"battery": 0.585, "drain_ma": 25.0})
            devices.append(device)
        self.fleet = Fleet(devices, data / "logs", self.options.max_micropython)
        self.fleet.start()
        self._stack.append(("devices", self.fleet.stop))

    def _device(self, device_id: str, kind: str, folder: Path, broker_url: str) -> Any:
        from jaylym.firmware_sim import SimDevice

        assert self.clock is not None
        return SimDevice(
            device_id=device_id,
            kind="collar" if kind == "collar" else "soil",
            broker_url=broker_url,
            folder=folder,
            password=self.seeded.passwords[device_id],
            track=folder / "track.csv" if kind == "collar" else None,
            speed=self.options.speed,
            # No GNSS outages: two in a row would raise device-offline alerts that blur the
            # scripted story (the firmware's no-fix path is tested in tests/firmware).
            nofix_p=0.0,
            sim_options={"clock": self.clock.board_options()},
        )

    def _banner(self, data: Path) -> None:
        opts = self.options
        hours = opts.speed / 3600 * 10
        fleet = self.fleet
        self.write(
            "\n".join(
                [
                    "Jaylym demo: the Sogety okrug, simulated "
                    f"({hours:g} simulated hour(s) every 10 s, for {opts.duration_s:g} s).",
                    f"  Open          {self.url}#token={self.admin_token}",
                    f"  Admin token   {self.admin_token}",
                    f"  Herder token  {self.herder_token}  ({self.seeded.herder_name}, "
                    f"{self.seeded.herder_language})",
                    f"  Data          {data}",
                    f"  Devices       {len(fleet.devices)} running the real firmware: "
                    f"{fleet.on_micropython} on MicroPython, {fleet.on_cpython} on CPython",
                    f"  Broker        {self.broker_url} (embedded amqtt, MQTT 3.1.1: no "
                    "persistent sessions across reconnects, so the ingest's no-loss promise holds "
                    "on Mosquitto only)",
                    "Alerts as they fire (the herder's language, then English). Ctrl-C to stop.",
                ]
            )
        )

    # -- run and stop ---------------------------------------------------------------------

    def wait(self, stop: threading.Event | None = None) -> None:
        """Until --duration has passed, `stop` is set, or Ctrl-C."""
        stop = stop or threading.Event()
        deadline = self.started_real + self.options.duration_s
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            stop.wait(min(1.0, left))
            if self.fleet is not None and self.fleet.alive() == 0:
                self.write("every device process has stopped: ending the demo")
                break

    def stop(self) -> None:
        """Stop everything started, newest first; one failing step does not stop the rest."""
        while self._stack:
            name, step = self._stack.pop()
            try:
                step()
            except Exception as exc:
                print(f"jaylym demo: stopping {name}: {exc!r}", file=sys.stderr)


def run(options: DemoOptions) -> Demo:
    demo = Demo(options)
    demo.start()
    try:
        demo.wait()
    except KeyboardInterrupt:
        demo.write("stopping…")
    finally:
        demo.stop()
    return demo
