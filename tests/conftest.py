"""Fixtures that give tests real servers: Mosquitto, InfluxDB and PostgreSQL.

For each service, in this order:
1. a URL from `JAYLYM_TEST_<SERVICE>_URL`;
2. the local binary, on a free loopback port in a temporary directory;
3. testcontainers, when a Docker engine answers.

When none is available, the test fails under `CI=true` (naming what is missing) and skips
elsewhere. Nothing is ever mocked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jaylym.services import InfluxD, Mosquitto, Postgres, ServiceError
from tests.support import unavailable


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@dataclass
class BrokerHandle:
    """What a test needs of a broker: URLs, and the server itself when it is ours."""

    url: str
    anonymous_url: str
    server: Mosquitto | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class InfluxHandle:
    url: str
    server: InfluxD | None = None


def _start_mosquitto(workdir: Path) -> Mosquitto | None:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        return None
    server = Mosquitto(workdir)
    server.start()
    return server


@pytest.fixture(scope="session")
def mosquitto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    env_url = os.environ.get("JAYLYM_TEST_MQTT_URL")
    if env_url:
        yield BrokerHandle(url=env_url, anonymous_url=env_url)
        return
    server = _start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    if server is not None:
        yield BrokerHandle(url=server.url(), anonymous_url=server.anonymous_url, server=server)
        server.stop()
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer

        with DockerContainer("eclipse-mosquitto:2.0.20").with_exposed_ports(1883) as ctr:
            url = f"mqtt://{ctr.get_container_host_ip()}:{ctr.get_exposed_port(1883)}"
            yield BrokerHandle(url=url, anonymous_url=url)
        return
    unavailable("MQTT broker: JAYLYM_TEST_MQTT_URL unset and `mosquitto` not installed")


@pytest.fixture
def mosquitto(mosquitto_session: BrokerHandle) -> BrokerHandle:
    """A shared real broker. Tests use unique topics or client ids to stay apart."""
    return mosquitto_session


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker of this test's own, for tests that stop, kill or reconfigure it."""
    try:
        server = _start_mosquitto(tmp_path / "mosquitto")
    except ServiceError as exc:
        unavailable(f"local mosquitto ({exc})")
        raise
    if server is None:
        unavailable("local `mosquitto` binary for a broker this test may restart")
        raise AssertionError("unreachable")
    yield server
    server.stop()


def _start_influxd(workdir: Path) -> InfluxD | None:
    if not shutil.which("influxd"):
        return None
    server = InfluxD(workdir)
    server.start()
    return server


@pytest.fixture(scope="session")
def influx_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxHandle]:
    env_url = os.environ.get("JAYLYM_TEST_INFLUX_URL")
    if env_url:
        yield InfluxHandle(url=env_url)
        return
    server = _start_influxd(tmp_path_factory.mktemp("influxd"))
    if server is not None:
        yield InfluxHandle(url=server.url, server=server)
        server.stop()
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer

        with DockerContainer("influxdb:1.8.10").with_exposed_ports(8086) as ctr:
            yield InfluxHandle(
                url=f"http://{ctr.get_container_host_ip()}:{ctr.get_exposed_port(8086)}"
            )
        return
    unavailable("InfluxDB: JAYLYM_TEST_INFLUX_URL unset and `influxd` not installed")


@pytest.fixture
def influx(influx_session: InfluxHandle) -> InfluxHandle:
    """A shared real InfluxDB. Tests use their own database names to stay apart."""
    return influx_session


@pytest.fixture
def own_influxd(tmp_path: Path) -> Iterator[InfluxD]:
    """An InfluxDB of this test's own, for tests that stop or kill it."""
    server = _start_influxd(tmp_path / "influxd")
    if server is None:
        unavailable("local `influxd` binary for a server this test may stop")
        raise AssertionError("unreachable")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server's SQLAlchemy URL."""
    env_url = os.environ.get("JAYLYM_TEST_POSTGRES_URL")
    if env_url:
        yield env_url
        return
    try:
        Postgres.bindir.exists() or shutil.which("postgres") or unavailable("postgres binary")
        workdir = Path(tempfile.mkdtemp(prefix="jaylym-pg-"))
        server = Postgres(workdir)
        server.start()
    except (ServiceError, OSError) as exc:
        unavailable(f"PostgreSQL ({exc})")
        raise
    yield server.url
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty registry database of this test's own: a SQLite file, then a fresh database
    on the real PostgreSQL server (the registry suite runs on both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server_url = request.getfixturevalue("postgres_url")
    name = f"jaylym_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The reliability suite prints one line of figures per fault (messages, faults injected, lost,
# duplicates). Gather them from the passed tests' captured output, also across xdist workers,
# and show them at the end of every run: tests/reliability/README.md quotes these.
_FIGURES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and "tests/reliability/" in report.nodeid:
        lines = report.capstdout.splitlines()
        _FIGURES.extend(line.strip() for line in lines if "reliability" in line.lower()[:14])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
