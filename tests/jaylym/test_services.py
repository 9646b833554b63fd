"""The real servers the whole suite stands on: a message through Mosquitto, a point through
InfluxDB, and the project's broker configuration enforced."""

from __future__ import annotations

import queue
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest

from jaylym.services import Mosquitto
from jaylym.settings import parse_mqtt_url


def _connect(url: str, client_id: str) -> tuple[mqtt.Client, int]:
    cfg = parse_mqtt_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if cfg.username:
        client.username_pw_set(
            cfg.username, cfg.password.get_secret_value() if cfg.password else None
        )
    result: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda c, u, f, rc, p: result.put(rc.value)
    client.connect(cfg.host, cfg.port)
    client.loop_start()
    return client, result.get(timeout=10)


def test_message_round_trips_through_real_mosquitto(mosquitto) -> None:
    topic = f"test/foundation/{uuid.uuid4().hex}"
    received: queue.Queue[bytes] = queue.Queue()
    sub, rc = _connect(mosquitto.url, f"sub-{uuid.uuid4().hex[:8]}")
    assert rc == 0
    subscribed: queue.Queue[bool] = queue.Queue()
    sub.on_subscribe = lambda *a: subscribed.put(True)
    sub.on_message = lambda c, u, msg: received.put(msg.payload)
    sub.subscribe(topic, qos=1)
    subscribed.get(timeout=10)

    pub, rc = _connect(mosquitto.url, f"pub-{uuid.uuid4().hex[:8]}")
    assert rc == 0
    payload = f'{{"v":1,"n":"{uuid.uuid4().hex}"}}'.encode()
    pub.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    assert received.get(timeout=10) == payload
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()


# Anonymous connect refused: tests/security/test_mqtt_access.py.


def test_broker_runs_the_deploy_configuration(mosquitto) -> None:
    if mosquitto.server is None:
        pytest.skip("broker from JAYLYM_TEST_MQTT_URL")
    conf = mosquitto.server.render_conf()
    assert "max_inflight_messages 2000" in conf
    assert "persistence true" in conf
    assert "allow_anonymous false" in conf


def test_point_round_trips_through_real_influxdb(influx) -> None:
    db = f"t_{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=influx.url, timeout=10) as http:
        assert http.post("/query", data={"q": f'CREATE DATABASE "{db}"'}).status_code == 200
        line = "soil,device=st-01 vwc=23.5 1700000000"
        write = http.post("/write", params={"db": db, "precision": "s"}, content=line)
        assert write.status_code == 204, write.text
        answer = http.get(
            "/query",
            params={
                "db": db,
                "q": "SELECT vwc FROM soil WHERE device = $d",
                "epoch": "s",
                "params": '{"d": "st-01"}',
            },
        ).json()
    series = answer["results"][0]["series"][0]
    assert series["columns"] == ["time", "vwc"]
    assert series["values"] == [[1700000000, 23.5]]


def test_mosquitto_survives_restart_on_same_port(tmp_path) -> None:
    server = Mosquitto(tmp_path / "m")
    try:
        server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no local mosquitto: {exc}")
    port = server.port
    server.kill()
    server.start()
    assert server.port == port
    assert server.running
    client, rc = _connect(server.url(), "restart-check")
    client.loop_stop()
    assert rc == 0
    server.stop()


def test_postgres_answers(postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1 + :x"), {"x": 41}).scalar_one() == 42
    engine.dispose()
