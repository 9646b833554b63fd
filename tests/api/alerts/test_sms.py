"""SMS through gateway templates (Mobizon.kz, SMSC.kz), against a real local HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.alerts.channels.sms import GATEWAYS_DIR, SmsChannel, SmsCredentials, load_gateway
from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.recipients import Endpoint, Recipient
from api.alerts.segments import segment_info
from tests.api.alerts.samples import alert
from tests.recording_http import Recorder, Reply

FAST = RetryPolicy(max_attempts=4, base_s=0.05, max_backoff_s=0.2)


def herder(language: str = "kk", phone: str = "+77011234567") -> Recipient:
    return Recipient(
        id="herder-askar",
        role="herder",
        name="Асқар",
        language=language,  # type: ignore[arg-type]
        endpoints=(Endpoint("sms", phone),),
        herd_ids=frozenset({"h-askar"}),
    )


def sms_deliverer(store: SqlDeliveryLog, gateway: str, url: str, **creds: str) -> Deliverer:
    channel = SmsChannel(load_gateway(gateway), SmsCredentials(**creds), base_url=url, timeout_s=2)
    return Deliverer(store, {"sms": channel}, policy=FAST)


def test_mobizon_request_shape_and_answer(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(
        Reply(200, {"code": 0, "data": {"campaignId": "901", "messageId": "7731"}, "message": ""})
    )
    deliverer = sms_deliverer(delivery_log, "mobizon", http_server.url, api_key="kz-key-123")
    (key,) = deliverer.submit(alert("overgrazing"), [herder("kk")])
    assert deliverer.run_until_idle(5).sent == 1
    (req,) = http_server.requests
    assert req.method == "POST"
    assert req.path == "/service/message/sendsmsmessage"
    assert req.query == {"output": ["json"], "api": ["v1"], "apiKey": ["kz-key-123"]}
    form = req.form()
    assert form["recipient"] == "77011234567"
    assert "from" not in form  # no sender configured: omitted, the gateway's default applies
    assert "113% жейілді" in form["text"]  # Kazakh, UTF-8 intact through the form encoding
    assert segment_info(form["text"]).fits
    row = delivery_log.get(key)
    assert row is not None
    assert (row.state, row.provider_id) == ("sent", "7731")


def test_mobizon_error_code_is_final(http_server: Recorder, delivery_log: SqlDeliveryLog) -> None:
    http_server.default = Reply(200, {"code": 1, "data": {}, "message": "Invalid recipient"})
    deliverer = sms_deliverer(delivery_log, "mobizon", http_server.url, api_key="k")
    (key,) = deliverer.submit(alert("drought"), [herder("ru")])
    assert deliverer.run_until_idle(5).failed == 1
    row = delivery_log.get(key)
    assert row is not None
    assert "mobizon error 1: Invalid recipient" in (row.last_error or "")


def test_smsc_request_shape_retryable_error_then_success(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(
        Reply(200, {"error": "duplicate request, wait a minute", "error_code": 9}),
        Reply(200, {"id": 345, "cnt": 1}),
    )
    deliverer = sms_deliverer(
        delivery_log, "smsc", http_server.url, login="sogety", password="pw", sender="Jaylym"
    )
    (key,) = deliverer.submit(alert("stray"), [herder("ru")])
    assert deliverer.run_until_idle(5).sent == 1
    first, second = http_server.wait_for(2)
    assert first.path == "/sys/send.php"
    form = second.form()
    assert form["login"] == "sogety"
    assert form["psw"] == "pw"
    assert form["phones"] == "+77011234567"
    assert form["charset"] == "utf-8"
    assert form["fmt"] == "3"
    assert form["sender"] == "Jaylym"
    assert "вне пастбищ: 1850 м" in form["mes"]
    assert first.form() == form  # the same message, resent as is
    assert [a.status for a in delivery_log.attempts_of(key)] == ["retry", "sent"]
    row = delivery_log.get(key)
    assert row is not None
    assert row.provider_id == "345"


def test_gateway_429_retry_after_is_honoured(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(Reply(429, {"error": "rate"}, headers={"Retry-After": "1"}))
    http_server.default = Reply(200, {"code": 0, "data": {"messageId": "1"}, "message": ""})
    deliverer = sms_deliverer(delivery_log, "mobizon", http_server.url, api_key="k")
    deliverer.submit(alert("low_battery"), [herder("en")])
    assert deliverer.run_until_idle(10).sent == 1
    first, second = http_server.wait_for(2)
    assert second.at - first.at >= 1.0


def test_hostile_names_are_inserted_literally(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    """A name that looks like a template placeholder stays text."""
    http_server.default = Reply(200, {"code": 0, "data": {"messageId": "1"}, "message": ""})
    sample = alert("overgrazing")
    subject = sample.subject.model_copy(update={"pasture_name": "${api_key}&x=1"})
    deliverer = sms_deliverer(delivery_log, "mobizon", http_server.url, api_key="secret-key")
    deliverer.submit(sample.model_copy(update={"subject": subject}), [herder("en")])
    deliverer.run_until_idle(5)
    (req,) = http_server.requests
    assert req.form()["text"].startswith("!${api_key}&x=1")
    assert "secret-key" not in req.body.decode()


def test_bad_phone_is_refused() -> None:
    channel = SmsChannel(load_gateway("smsc"), SmsCredentials())
    for phone in ("87011234567", "+7 701 123 45 67", "+7701&x=1"):
        with pytest.raises(ValueError, match="international"):
            channel.check_address(phone, "h")


def test_shipped_templates_load_and_an_own_file_works(tmp_path: Path) -> None:
    shipped = sorted(p.stem for p in GATEWAYS_DIR.glob("*.json"))
    assert shipped == ["mobizon", "smsc"]
    for name in shipped:
        assert load_gateway(name).name == name
    own = json.loads((GATEWAYS_DIR / "smsc.json").read_text())
    own["name"] = "my-gateway"
    path = tmp_path / "gw.json"
    path.write_text(json.dumps(own))
    assert load_gateway(str(path)).name == "my-gateway"
    with pytest.raises(ValueError, match="mobizon, smsc"):
        load_gateway("nonexistent")
