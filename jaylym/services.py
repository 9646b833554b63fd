"""Real Mosquitto, InfluxDB and PostgreSQL servers started locally on free loopback ports.

The test fixtures and `jaylym bench` use these, never mocks. Each server lives in its own
temporary directory, can be stopped, killed and started again on the same port and data (for
fault tests), and every wait is bounded in time.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, ClassVar

import httpx

from jaylym.mqtt_passwd import set_password

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_MOSQUITTO_CONF = REPO_ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
DEPLOY_MOSQUITTO_ACL = REPO_ROOT / "deploy" / "mosquitto" / "acl"

SERVICE_USER = "jaylym-ingest"
API_USER = "jaylym-api"


class ServiceError(RuntimeError):
    """A local server could not be started or did not become ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, step: float = 0.05) -> None:
    """Poll `check` until it is true, or raise `ServiceError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise ServiceError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def find_binary(name: str, extra_dirs: tuple[str, ...] = ("/usr/sbin", "/usr/local/sbin")) -> str:
    """Path of a server binary, also looking in sbin directories that may be off PATH."""
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ServiceError(f"`{name}` is not installed")


class LocalServer:
    """A server process in a working directory, started and stopped on demand."""

    name = "server"
    ready_timeout = 30.0

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write configuration before the first start."""

    def ready(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        if self.running:
            return
        self.prepare()
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        try:
            wait_until(self._ready_or_dead, timeout=self.ready_timeout, what=f"{self.name} ready")
        except ServiceError:
            self.stop()
            raise ServiceError(f"{self.name} did not start; log tail:\n{self.log_tail()}") from None
        if self.proc.poll() is not None:
            raise ServiceError(f"{self.name} exited at start; log tail:\n{self.log_tail()}")

    def _ready_or_dead(self) -> bool:
        return (self.proc is not None and self.proc.poll() is not None) or self.ready()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate gracefully (SIGTERM), then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self._close()

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self._close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _close(self) -> None:
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Mosquitto(LocalServer):
    """Mosquitto with the project's own `deploy/mosquitto/mosquitto.conf`.

    Paths and listeners are replaced for the temporary directory; every other setting,
    anonymous access refused included, is the production one. Service accounts
    `jaylym-ingest` and `jaylym-api` get a random password each.
    """

    name = "mosquitto"
    # Keys that name host paths or belong to the production listeners.
    _REPLACED: ClassVar[frozenset[str]] = frozenset(
        {
            "listener",
            "protocol",
            "certfile",
            "keyfile",
            "cafile",
            "tls_version",
            "persistence_location",
            "password_file",
            "acl_file",
            "log_dest",
            "require_certificate",
            "user",
        }
    )

    def __init__(
        self, workdir: Path, port: int | None = None, *, overrides: dict[str, str] | None = None
    ) -> None:
        super().__init__(workdir, port)
        self.overrides = overrides or {}
        self.passwords = {SERVICE_USER: os.urandom(12).hex(), API_USER: os.urandom(12).hex()}

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.workdir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.workdir / "acl"

    def url(self, user: str = SERVICE_USER) -> str:
        return f"mqtt://{user}:{self.passwords[user]}@127.0.0.1:{self.port}"

    @property
    def anonymous_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def render_conf(self) -> str:
        kept = []
        for line in DEPLOY_MOSQUITTO_CONF.read_text().splitlines():
            key = line.split(None, 1)[0] if line.strip() and not line.startswith("#") else ""
            if key in self._REPLACED or key in self.overrides:
                continue
            kept.append(line)
        kept += [
            f"persistence_location {self.workdir}/",
            f"password_file {self.password_file}",
            f"acl_file {self.acl_file}",
            f"log_dest file {self.log_path}",
            # As root, Mosquitto would switch to the `mosquitto` user, which cannot read our
            # temporary directory; stay the user we are.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            *(f"{key} {value}" for key, value in self.overrides.items()),
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
        ]
        return "\n".join(kept) + "\n"

    def prepare(self) -> None:
        self.conf_path.write_text(self.render_conf())
        if not self.acl_file.exists():
            shutil.copyfile(DEPLOY_MOSQUITTO_ACL, self.acl_file)
        for user, password in self.passwords.items():
            set_password(self.password_file, user, password)

    def command(self) -> list[str]:
        return [find_binary("mosquitto"), "-c", str(self.conf_path)]

    def start(self) -> None:
        # Mosquitto writes its own log file; ours only catches what it prints before that.
        self.log_path.touch()
        super().start()

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def reload(self) -> None:
        """SIGHUP: re-read the password and ACL files (after device provisioning)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)


class InfluxD(LocalServer):
    """InfluxDB 1.x (`influxd`) with its HTTP API on a free port and auth off."""

    name = "influxd"

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        w = self.workdir
        (w / "influxdb.conf").write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{w}/meta"
[data]
  dir = "{w}/data"
  wal-dir = "{w}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""
        )

    def command(self) -> list[str]:
        return [find_binary("influxd"), "run", "-config", str(self.workdir / "influxdb.conf")]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False


class Postgres(LocalServer):
    """PostgreSQL from Debian's binaries, in a fresh cluster owned by the `postgres` user.

    initdb refuses to run as root, so as root the cluster is made and run as `postgres`.
    """

    name = "postgres"
    bindir = Path("/usr/lib/postgresql")

    def _bin(self, tool: str) -> str:
        versions = sorted(self.bindir.glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
        for directory in versions:
            if (directory / tool).exists():
                return str(directory / tool)
        return find_binary(tool)

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def prepare(self) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.datadir),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def command(self) -> list[str]:
        return self._as_owner(
            [
                self._bin("postgres"),
                "-D",
                str(self.datadir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.workdir}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ]
        )

    def ready(self) -> bool:
        """Accepting connections, not only listening: PostgreSQL opens its port while still
        starting up and answers "the database system is starting up" until it is done."""
        if not port_open(self.port):
            return False
        argv = [self._bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"]
        try:
            return subprocess.run(argv, capture_output=True, timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        if os.geteuid() == 0:
            self.log_path.touch()
            shutil.chown(self.log_path, "postgres", "postgres")
        super().start()
