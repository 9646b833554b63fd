"""Webhook: a signed JSON POST; the receiver-side helper accepts it and rejects tampering.

The verification helper's own refusals (stale timestamps, malformed signatures, key rotation)
are in tests/security/api/test_webhook_signing.py."""

from __future__ import annotations

import pytest

from api.alerts.channels.webhook import IDEMPOTENCY_HEADER, WebhookChannel
from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.recipients import Endpoint, Recipient
from api.alerts.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)
from tests.api.alerts.samples import alert
from tests.recording_http import Recorder

SECRET = "webhook-secret-for-tests"


def coordinator(url: str) -> Recipient:
    return Recipient(
        id="coord-1",
        role="coordinator",
        name="Сөгеті округінің үйлестірушісі",
        language="ru",
        endpoints=(Endpoint("webhook", url + "/hooks/jaylym"),),
        okrug_ids=frozenset({"sogety"}),
    )


def test_signed_post_verifies_and_tampering_is_rejected(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    channel = WebhookChannel(SECRET, allow_http=True, timeout_s=2)
    deliverer = Deliverer(delivery_log, {"webhook": channel}, policy=RetryPolicy(base_s=0.05))
    keys = deliverer.submit(alert("overgrazing"), [coordinator(http_server.url)])
    report = deliverer.run_until_idle(10)
    assert report.sent == 1
    (req,) = http_server.requests
    assert req.method == "POST"
    assert req.path == "/hooks/jaylym"
    assert req.headers["content-type"].startswith("application/json")
    assert req.headers[IDEMPOTENCY_HEADER.lower()] == keys[0] == "al-0001/1/coord-1/webhook"

    ts = req.headers[TIMESTAMP_HEADER.lower()]
    sig = req.headers[SIGNATURE_HEADER.lower()]
    verify(SECRET, req.body, ts, sig)  # the exact bytes received verify

    doc = req.json()
    assert doc["alert"]["rule"] == "overgrazing"
    assert doc["alert"]["figures"]["utilisation"] == pytest.approx(1.127)
    assert doc["language"] == "ru"
    assert "Перевыпас" in doc["text"]  # UTF-8, not \u escapes, in the signed body
    assert "Перевыпас".encode() in req.body

    tampered = req.body.replace(b"1.127", b"0.127")
    assert tampered != req.body
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, tampered, ts, sig)
    with pytest.raises(SignatureError, match="does not match"):
        verify("another-secret", req.body, ts, sig)
    # A replay with a fresh timestamp but the old signature fails: the timestamp is signed.
    with pytest.raises(SignatureError):
        verify(SECRET, req.body, str(int(ts) + 1), sig)


def test_plain_http_urls_are_refused_by_default() -> None:
    channel = WebhookChannel(SECRET)
    with pytest.raises(ValueError, match="https"):
        channel.check_address("http://example.org/hook", "coord-1")
    channel.check_address("https://example.org/hook", "coord-1")
    with pytest.raises(ValueError, match="secret"):
        WebhookChannel("")
