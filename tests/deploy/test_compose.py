"""The production stack, checked statically (no Docker engine here): the compose file is valid
Compose, runs only real `jaylym` commands with real settings, and mounts files that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from jaylym.cli import app
from jaylym.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _jaylym_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if str(svc.get("image", "")).startswith("jaylym:")
    }


def test_validates_against_the_compose_schema(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "deploy/schema/compose-spec.json").read_text())
    # `name:` (project name) postdates the vendored 2021 schema; everything else must conform.
    body = {k: v for k, v in compose.items() if k != "name"}
    jsonschema.validate(body, schema)


def test_schema_check_catches_a_misspelled_key(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "deploy/schema/compose-spec.json").read_text())
    broken = {k: v for k, v in compose.items() if k != "name"}
    broken["services"] = {
        **broken["services"],
        "api": {**broken["services"]["api"], "restrat": "x"},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_every_jaylym_variable_is_a_setting(compose: dict[str, Any]) -> None:
    known = {f"JAYLYM_{name.upper()}" for name in Settings.model_fields}
    used = set()
    for svc in _jaylym_services(compose).values():
        used |= {k for k in svc.get("environment", {}) if k.startswith("JAYLYM_")}
    assert used, "the jaylym services set no JAYLYM_* variables?"
    assert used - known == set()


def _resolve(argv: list[str]) -> None:
    """Parse argv with the real CLI (without running it): raises on unknown commands/options."""
    # Typer may vendor its own click, so groups are recognised by what they can do.
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("jaylym", list(argv), resilient_parsing=False)
    while hasattr(command, "resolve_command"):
        # click >= 8.2 keeps the subcommand's words in `_protected_args`
        rest = [*(getattr(ctx, "_protected_args", None) or ctx.protected_args or []), *ctx.args]
        if not rest:
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, f"unknown command {name}"
        ctx = sub.make_context(name or "", rest, parent=ctx)
        command = sub


def test_every_command_is_a_real_subcommand(compose: dict[str, Any]) -> None:
    commands = [svc["command"] for svc in _jaylym_services(compose).values()]
    assert commands
    for argv in commands:
        assert argv[0] == "jaylym"
        _resolve(argv[1:])


def test_resolver_rejects_a_made_up_command() -> None:
    with pytest.raises(Exception, match="No such command") as err:
        _resolve(["no-such-command"])
    assert type(err.value).__name__ == "UsageError"
    with pytest.raises(Exception, match="No such option"):
        _resolve(["serve", "--no-such-option"])


def _mount(volume: str) -> tuple[str, str]:
    """(source, target) of a short-syntax volume, with ${VAR:-default} at its default."""
    source, target = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", volume).split(":")[:2]
    return source, target


def test_bind_mounts_exist(compose: dict[str, Any]) -> None:
    missing = []
    binds = 0
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source, _ = _mount(volume)
            if source.startswith("./"):
                binds += 1
                if not (ROOT / source).exists():
                    missing.append(source)
    assert binds >= 7, "mosquitto, influxdb and grafana bind-mount their configuration"
    assert missing == []


def test_secrets_are_required_and_documented(compose: dict[str, Any]) -> None:
    text = "\n".join(
        line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    example = (ROOT / "deploy/env.example").read_text()
    variables = set(re.findall(r"\$\{([A-Z_]+)", text))
    undocumented = [v for v in sorted(variables) if not re.search(rf"^{v}=", example, re.M)]
    assert undocumented == []
    for secret in ("INFLUX_TOKEN", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert f"${{{secret}:?" in text, f"{secret} must be required with ${{VAR:?}}"


def test_images_are_pinned_and_healthchecked(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc["image"]
        assert ":" in image
        assert not image.endswith(":latest"), name
        if svc.get("restart") != "no":
            assert "healthcheck" in svc or name.startswith("ingest"), f"{name} has no healthcheck"


def test_dockerfile_is_multistage_and_unprivileged() -> None:
    text = (ROOT / "deploy/Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "--no-index" in text, "the runtime stage installs only the built wheels"


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so YAML merge keys compose"
    return {str(k): str(v) for k, v in env.items()}


def test_two_ingest_replicas_share_one_subscription(compose: dict[str, Any]) -> None:
    ingests = {n: s for n, s in compose["services"].items() if n.startswith("ingest")}
    assert sorted(ingests) == ["ingest-1", "ingest-2"]
    groups = {_env(s)["JAYLYM_INGEST_SHARED_GROUP"] for s in ingests.values()}
    client_ids = [_env(s)["JAYLYM_INGEST_CLIENT_ID"] for s in ingests.values()]
    assert len(groups) == 1, "both replicas must be in the same $share group"
    assert len(set(client_ids)) == 2, "each replica keeps its own persistent session"
    for svc in ingests.values():
        Settings(ingest_shared_group=next(iter(groups)), ingest_client_id=client_ids[0])
        assert svc["command"] == ["jaylym", "ingest"]
        assert "jaylym-ingest:" in _env(svc)["JAYLYM_MQTT_URL"]
        port = Settings.model_fields["ingest_metrics_port"].default
        assert f":{port}/healthz" in " ".join(svc["healthcheck"]["test"])
        # Each replica's spool (store outage buffer) is its own, never shared.
        assert len(svc["volumes"]) == 1
    assert ingests["ingest-1"]["volumes"] != ingests["ingest-2"]["volumes"]


def test_api_waits_for_the_registry_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["jaylym", "db", "upgrade"]
    for name in ("api", "ingest-1", "ingest-2"):
        cond = services[name]["depends_on"]["migrate"]["condition"]
        assert cond == "service_completed_successfully", name


def test_broker_reads_the_registry_password_file(compose: dict[str, Any]) -> None:
    """The API writes device credentials where the broker's entrypoint reads them."""
    services = compose["services"]
    passwd = Path(_env(services["api"])["JAYLYM_MQTT_PASSWD_FILE"])
    entrypoint = (ROOT / "deploy/mosquitto/entrypoint.sh").read_text()
    default = re.search(r"JAYLYM_DEVICES_PASSWD:-([^}]+)\}", entrypoint)
    assert default is not None
    broker_path = Path(_env(services["mosquitto"]).get("JAYLYM_DEVICES_PASSWD", default[1]))
    assert broker_path == passwd

    def volume_at(svc: dict[str, Any], folder: Path) -> str:
        for volume in svc["volumes"]:
            source, target = _mount(volume)
            if Path(target) == folder:
                return str(source)
        raise AssertionError(f"nothing mounted at {folder}")

    assert volume_at(services["api"], passwd.parent) == volume_at(
        services["mosquitto"], passwd.parent
    )
    assert services["mosquitto"]["entrypoint"][-1] == "/jaylym/entrypoint.sh"
    assert volume_at(services["mosquitto"], Path("/jaylym/entrypoint.sh")) == (
        "./deploy/mosquitto/entrypoint.sh"
    )


def test_broker_runs_the_configuration_the_fixtures_prove(compose: dict[str, Any]) -> None:
    from jaylym.services import DEPLOY_MOSQUITTO_ACL, DEPLOY_MOSQUITTO_CONF

    mounts = {_mount(v)[1]: _mount(v)[0] for v in compose["services"]["mosquitto"]["volumes"]}
    assert ROOT / mounts["/mosquitto/config/mosquitto.conf"] == DEPLOY_MOSQUITTO_CONF
    assert ROOT / mounts["/mosquitto/config/acl"] == DEPLOY_MOSQUITTO_ACL
    conf = DEPLOY_MOSQUITTO_CONF.read_text()
    # The paths the configuration names are where compose mounts things.
    for path in re.findall(r"^(?:acl_file|certfile|keyfile|cafile) (\S+)", conf, re.M):
        assert any(path.startswith(target) for target in mounts), path
    # The password file is not mounted: the entrypoint builds it in the config folder.
    entrypoint = (ROOT / "deploy/mosquitto/entrypoint.sh").read_text()
    conf_dir = re.search(r"JAYLYM_BROKER_CONF_DIR:-([^}]+)\}", entrypoint)
    assert conf_dir is not None
    assert 'PASSWD="$CONF_DIR/passwd"' in entrypoint
    assert f"password_file {conf_dir[1]}/passwd" in conf
    assert "listener 8883" in conf


def test_grafana_provisioning_is_mounted_and_its_placeholders_are_set(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {_mount(v)[1]: _mount(v)[0] for v in grafana["volumes"]}
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    assert (provisioning / "datasources").is_dir()
    assert (provisioning / "dashboards").is_dir()
    env = _env(grafana)
    placeholders: set[str] = set()
    for path in provisioning.rglob("*.yaml"):
        body = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
        )
        placeholders |= set(re.findall(r"\$\{(\w+)\}", body))
    assert placeholders, "the provisioning names no environment placeholders?"
    assert placeholders - set(env) == set()
    # The dashboards provider reads the folder the dashboards are mounted at.
    providers = yaml.safe_load((provisioning / "dashboards" / "jaylym.yaml").read_text())
    folder = providers["providers"][0]["options"]["path"]
    assert list((ROOT / mounts[folder]).glob("*.json")), "no dashboards where Grafana looks"
    # The Infinity plugin carries the API-backed panels; installed and pinned.
    plugin = env["GF_INSTALL_PLUGINS"].split()
    assert plugin[0] == "yesoreyeram-infinity-datasource"
    assert len(plugin) == 2


def test_dockerfile_copies_every_package_the_wheel_needs() -> None:
    """`jaylym` imports every command group's module at start: a package left out of the
    image breaks every command in it."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"^include = \[(.*)\]", pyproject, re.M)
    assert include is not None
    packages = {p.strip().strip('"').rstrip("*") for p in include[1].split(",")}
    text = (ROOT / "deploy/Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    assert packages <= copied, f"not copied into the build stage: {packages - copied}"


def test_readme_deploy_steps_run_real_commands(tmp_path: Path) -> None:
    """The "Deploy for a district" steps name `jaylym` commands the CLI really parses."""
    a_file = tmp_path / "pastures.geojson"
    a_file.write_text("{}")
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploy for a district", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"compose exec api (jaylym [^\n`]+)", section)
    assert len(commands) >= 4, commands
    for line in commands:
        argv = line.split()[1:]
        # A path in the prose stands for a file that exists when the command runs.
        argv = [str(a_file) if a.startswith("/path") else a for a in argv]
        _resolve(argv)


def test_every_env_example_variable_is_explained() -> None:
    lines = (ROOT / "deploy/env.example").read_text().splitlines()
    unexplained = [
        line.split("=", 1)[0]
        for i, line in enumerate(lines)
        if re.match(r"^[A-Z_]+=", line)
        and not (lines[i - 1].startswith("#") or re.match(r"^[A-Z_]+=", lines[i - 1]))
    ]
    assert unexplained == []
    # ...and every variable in it is one compose reads (none left over from an old layout).
    text = COMPOSE.read_text()
    unused = [
        name
        for name in re.findall(r"^([A-Z_]+)=", "\n".join(lines), re.M)
        if f"${{{name}" not in text
    ]
    assert unused == []


@pytest.mark.mqtt
def test_broker_healthcheck_passes_on_the_real_broker(
    compose: dict[str, Any], mosquitto: Any
) -> None:
    """The compose health check, as the container's shell runs it, against Mosquitto 2.0
    loaded with deploy/mosquitto.conf and the ACL: a check the ACL denied would keep the
    broker unhealthy and every service that waits for it down."""
    import shlex
    import shutil
    import subprocess

    if mosquitto.server is None or shutil.which("mosquitto_pub") is None:
        pytest.skip("needs the project's own Mosquitto and mosquitto_pub")
    from jaylym.services import API_USER

    test = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    command = test[1].replace("$$", "$")  # compose's escape for a literal $
    argv = shlex.split(command.replace('"$MQTT_API_PASSWORD"', "PASSWORD"))
    assert argv[argv.index("-u") + 1] == API_USER
    argv[argv.index("-P") + 1] = mosquitto.server.passwords[API_USER]
    argv[argv.index("-p") + 1] = str(mosquitto.server.port)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    # ...and fails when the broker refuses the login (a check that cannot fail proves nothing).
    argv[argv.index("-P") + 1] = "wrong"
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
