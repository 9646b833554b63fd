"""Delivery: retries with back-off, 429 honoured, every attempt logged, nothing sent twice."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import pytest

from api.alerts.channels.telegram import TelegramChannel
from api.alerts.channels.webhook import WebhookChannel
from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import NewDelivery, SqlDeliveryLog
from api.alerts.model import Transition
from api.alerts.recipients import Endpoint, Recipient, recipients_for
from tests.api.alerts.samples import alert
from tests.recording_http import Recorder, Reply

SECRET = "s3cret"
FAST = RetryPolicy(max_attempts=6, base_s=0.1, max_backoff_s=2.0, max_retry_after_s=5.0)


def herder(url: str, *channels: str, rid: str = "herder-askar") -> Recipient:
    endpoints = {
        "webhook": Endpoint("webhook", url + "/hook"),
        "telegram": Endpoint("telegram", "123456789"),
        "sms": Endpoint("sms", "+77011234567"),
        "mqtt": Endpoint("mqtt"),
    }
    return Recipient(
        id=rid,
        role="herder",
        name="Асқар Бекболатұлы",
        language="kk",
        endpoints=tuple(endpoints[c] for c in channels),
        herd_ids=frozenset({"h-askar"}),
    )


def webhook_deliverer(store: SqlDeliveryLog, policy: RetryPolicy = FAST) -> Deliverer:
    channel = WebhookChannel(SECRET, allow_http=True, timeout_s=0.5)
    return Deliverer(store, {"webhook": channel}, policy=policy, rng=random.Random(7))


def test_gives_up_after_max_attempts_and_logs_each(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.default = Reply(502, {"error": "bad gateway"})
    policy = RetryPolicy(max_attempts=3, base_s=0.05, max_backoff_s=0.2)
    deliverer = webhook_deliverer(delivery_log, policy)
    (key,) = deliverer.submit(alert("drought"), [herder(http_server.url, "webhook")])
    report = deliverer.run_until_idle(10)
    assert (report.attempted, report.sent, report.failed) == (3, 0, 1)
    assert len(http_server.requests) == 3
    row = delivery_log.get(key)
    assert row is not None
    assert row.state == "failed"
    assert "gave up after 3 attempts" in (row.last_error or "")
    assert [a.status for a in delivery_log.attempts_of(key)] == ["retry", "retry", "retry"]


def test_client_error_is_not_retried(http_server: Recorder, delivery_log: SqlDeliveryLog) -> None:
    http_server.default = Reply(404, {"error": "no such hook"})
    deliverer = webhook_deliverer(delivery_log)
    (key,) = deliverer.submit(alert("stray"), [herder(http_server.url, "webhook")])
    report = deliverer.run_until_idle(5)
    assert (report.attempted, report.failed) == (1, 1)
    assert [a.status for a in delivery_log.attempts_of(key)] == ["failed"]


def test_429_retry_after_header_is_honoured(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(Reply(429, {"error": "slow down"}, headers={"Retry-After": "1"}))
    deliverer = webhook_deliverer(delivery_log)
    (key,) = deliverer.submit(alert("overstocked"), [herder(http_server.url, "webhook")])
    assert deliverer.run_until_idle(10).sent == 1
    first, second = http_server.wait_for(2)
    assert second.at - first.at >= 1.0
    attempts = delivery_log.attempts_of(key)
    assert attempts[0].status == "retry"
    assert attempts[0].retry_after_s == 1.0
    assert attempts[0].http_status == 429


def test_retry_after_beyond_the_limit_fails_instead_of_waiting(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(Reply(429, {"error": "come back tomorrow"}, headers={"Retry-After": "86400"}))
    deliverer = webhook_deliverer(delivery_log)
    (key,) = deliverer.submit(alert("overstocked"), [herder(http_server.url, "webhook")])
    report = deliverer.run_until_idle(5)
    assert report.failed == 1
    row = delivery_log.get(key)
    assert row is not None
    assert "too long" in (row.last_error or "")


def test_telegram_429_parameters_retry_after_is_honoured(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    http_server.then(
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            },
        ),
        Reply(200, {"ok": True, "result": {"message_id": 4711, "chat": {"id": 123456789}}}),
    )
    channel = TelegramChannel("12345:test-token", api_url=http_server.url, timeout_s=2)
    deliverer = Deliverer(delivery_log, {"telegram": channel}, policy=FAST)
    (key,) = deliverer.submit(alert("immobile"), [herder(http_server.url, "telegram")])
    assert deliverer.run_until_idle(10).sent == 1
    first, second = http_server.wait_for(2)
    assert second.at - first.at >= 1.0
    assert first.path == "/bot12345:test-token/sendMessage"
    body = second.json()
    assert body["chat_id"] == "123456789"
    assert "Мал қозғалмайды" in body["text"]  # the herder reads Kazakh
    row = delivery_log.get(key)
    assert row is not None
    assert (row.state, row.provider_id) == ("sent", "4711")
    assert [a.retry_after_s for a in delivery_log.attempts_of(key)] == [1.0, None]


def test_telegram_blocked_bot_is_final(http_server: Recorder, delivery_log: SqlDeliveryLog) -> None:
    http_server.default = Reply(
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    channel = TelegramChannel("12345:test-token", api_url=http_server.url, timeout_s=2)
    deliverer = Deliverer(delivery_log, {"telegram": channel}, policy=FAST)
    (key,) = deliverer.submit(alert("immobile"), [herder(http_server.url, "telegram")])
    assert deliverer.run_until_idle(5).failed == 1
    assert len(http_server.requests) == 1
    row = delivery_log.get(key)
    assert row is not None
    assert "blocked" in (row.last_error or "")


def test_same_transition_is_never_sent_twice(
    http_server: Recorder, delivery_log: SqlDeliveryLog, log_url: str
) -> None:
    person = herder(http_server.url, "webhook")
    first = webhook_deliverer(delivery_log)
    assert len(first.submit(alert("overgrazing"), [person])) == 1
    assert first.submit(alert("overgrazing"), [person]) == []  # resubmitted: nothing new
    first.run_until_idle(5)
    assert len(http_server.requests) == 1

    # A restarted process with the same log: the transition is known, nothing is sent.
    again = webhook_deliverer(SqlDeliveryLog.from_url(log_url))
    again.recover()
    assert again.submit(alert("overgrazing"), [person]) == []
    assert again.run_until_idle(2).attempted == 0
    assert len(http_server.requests) == 1

    # The next transition of the same alert is a new delivery.
    escalated = alert("overgrazing", seq=2, transition=Transition.escalated)
    assert again.submit(escalated, [person]) == ["al-0001/2/herder-askar/webhook"]
    again.run_until_idle(5)
    assert len(http_server.requests) == 2


@pytest.mark.parametrize(("channel", "resent"), [("webhook", True), ("telegram", False)])
def test_crash_mid_send_resends_only_where_the_receiver_dedupes(
    http_server: Recorder, log_url: str, channel: str, resent: bool
) -> None:
    channels = {
        "webhook": WebhookChannel(SECRET, allow_http=True, timeout_s=2),
        "telegram": TelegramChannel("1:t", api_url=http_server.url, timeout_s=2),
    }
    store = SqlDeliveryLog.from_url(log_url)
    store.create_all()
    before = Deliverer(store, channels, policy=FAST)  # type: ignore[arg-type]
    (key,) = before.submit(alert("stray"), [herder(http_server.url, channel)])
    # The process claims the delivery (commits `sending`) and dies before recording an outcome.
    (delivery_id,) = store.due(datetime.now(UTC))
    assert store.claim(delivery_id, datetime.now(UTC)) is not None

    after = Deliverer(SqlDeliveryLog.from_url(log_url), channels, policy=FAST)  # type: ignore[arg-type]
    counts = after.recover()
    assert counts == ({"resend": 1, "unknown": 0} if resent else {"resend": 0, "unknown": 1})
    after.run_until_idle(5)
    row = store.get(key)
    assert row is not None
    statuses = [a.status for a in store.attempts_of(key)]
    if resent:
        assert len(http_server.requests) == 1
        assert row.state == "sent"
        assert statuses == ["interrupted", "sent"]
    else:
        assert http_server.requests == []
        assert row.state == "unknown"
        assert statuses == ["interrupted"]


def test_unroutable_endpoints_are_recorded_not_dropped(delivery_log: SqlDeliveryLog) -> None:
    deliverer = Deliverer(delivery_log, {"webhook": WebhookChannel(SECRET)}, policy=FAST)
    person = Recipient(
        id="herder-2",
        role="herder",
        name="Нұрлан",
        language="ru",
        endpoints=(Endpoint("sms", "+77017654321"), Endpoint("webhook", "http://plain.example")),
        herd_ids=frozenset({"h-askar"}),
    )
    keys = deliverer.submit(alert("overgrazing"), [person])
    assert len(keys) == 2
    sms = delivery_log.get("al-0001/1/herder-2/sms")
    hook = delivery_log.get("al-0001/1/herder-2/webhook")
    assert sms is not None
    assert hook is not None
    assert (sms.state, sms.last_error) == ("failed", "channel sms is not configured")
    assert hook.state == "failed"
    assert "https" in (hook.last_error or "")
    assert deliverer.run_until_idle(1).attempted == 0


def test_recipients_are_the_herders_concerned_and_the_okrug_coordinators() -> None:
    def person(rid: str, role: str, herds: set[str], okrugs: set[str]) -> Recipient:
        return Recipient(
            id=rid,
            role=role,  # type: ignore[arg-type]
            name=rid,
            language="kk",
            endpoints=(),
            herd_ids=frozenset(herds),
            okrug_ids=frozenset(okrugs),
        )

    people = [
        person("coord-sogety", "coordinator", set(), {"sogety"}),
        person("coord-other", "coordinator", set(), {"baiseit"}),
        person("herder-askar", "herder", {"h-askar"}, set()),
        person("herder-nurlan", "herder", {"h-nurlan"}, set()),
    ]
    chosen = [p.id for p in recipients_for(alert("overgrazing"), people)]
    assert chosen == ["herder-askar", "coord-sogety"]


def test_backoff_grows_with_jitter_within_bounds() -> None:
    policy = RetryPolicy(base_s=2, max_backoff_s=60)
    rng = random.Random(1)
    for attempt in range(1, 10):
        step = min(60, 2 * 2 ** (attempt - 1))
        samples = {policy.backoff(attempt, rng) for _ in range(50)}
        assert all(step / 2 <= s <= step for s in samples)
        assert len(samples) > 1  # jittered
    assert policy.delay(1, 30, rng) >= 30


def test_a_delivery_can_be_claimed_once(delivery_log: SqlDeliveryLog) -> None:
    deliverer = Deliverer(delivery_log, {"webhook": WebhookChannel(SECRET, allow_http=True)})
    deliverer.submit(alert("drought"), [herder("http://127.0.0.1:9", "webhook")])
    now = datetime.now(UTC)
    (delivery_id,) = delivery_log.due(now)
    first = delivery_log.claim(delivery_id, now)
    assert first is not None
    assert first.attempts == 1
    assert delivery_log.claim(delivery_id, now) is None  # a second worker gets nothing
    assert delivery_log.due(now) == []


def test_service_loop_delivers_what_is_submitted_while_it_runs(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    deliverer = webhook_deliverer(delivery_log)
    stop = threading.Event()
    worker = threading.Thread(target=deliverer.run, args=(stop,), kwargs={"poll_s": 0.05})
    worker.start()
    try:
        deliverer.submit(alert("overgrazing"), [herder(http_server.url, "webhook")])
        deliverer.submit(alert("drought", alert_id="al-0002"), [herder(http_server.url, "webhook")])
        requests = http_server.wait_for(2, timeout_s=10)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert sorted(r.json()["key"] for r in requests) == [
        "al-0001/1/herder-askar/webhook",
        "al-0002/1/herder-askar/webhook",
    ]


def test_log_add_keeps_new_rows_and_skips_known_keys(delivery_log: SqlDeliveryLog) -> None:
    def row(key: str) -> NewDelivery:
        return NewDelivery(
            key=key,
            alert_id="al-9",
            seq=int(key[-1]),
            recipient_id="r",
            channel="webhook",
            address="https://x.example",
            language="kk",
            text="мәтін",
            payload={"key": key},
        )

    now = datetime.now(UTC)
    assert delivery_log.add([row("k1")], now) == ["k1"]
    assert delivery_log.add([row("k1"), row("k2"), row("k3")], now) == ["k2", "k3"]
    assert delivery_log.add([row("k2")], now) == []
    for key in ("k1", "k2", "k3"):
        stored = delivery_log.get(key)
        assert stored is not None
        assert stored.text == "мәтін"
        assert stored.state == "pending"
    assert len(delivery_log.due(now)) == 3


def test_a_slow_endpoint_does_not_hold_back_the_others(delivery_log: SqlDeliveryLog) -> None:
    from tests.recording_http import recording_server

    with recording_server() as slow, recording_server() as fast:
        slow.default = Reply(200, {"ok": True}, delay_s=1.5)
        people = [herder(slow.url, "webhook", rid="herder-slow")] + [
            herder(fast.url, "webhook", rid=f"herder-fast-{n}") for n in range(3)
        ]
        channel = WebhookChannel(SECRET, allow_http=True, timeout_s=5)
        deliverer = Deliverer(delivery_log, {"webhook": channel}, policy=FAST, workers=4)
        deliverer.submit(alert("stray"), people)
        report = deliverer.run_due()
        assert report.sent == 4
        (slow_request,) = slow.requests
        assert len(fast.requests) == 3
        # The fast receivers were served while the slow one was still thinking.
        assert max(r.at for r in fast.requests) < slow_request.at + 1.0


def test_recipient_without_a_language_gets_the_default(
    http_server: Recorder, delivery_log: SqlDeliveryLog
) -> None:
    person = Recipient(
        id="coord-9",
        role="coordinator",
        name="Coordinator",
        endpoints=(Endpoint("webhook", http_server.url + "/hook"),),
        okrug_ids=frozenset({"sogety"}),
    )
    channel = WebhookChannel(SECRET, allow_http=True, timeout_s=2)
    deliverer = Deliverer(delivery_log, {"webhook": channel}, default_language="ru")
    deliverer.submit(alert("drought"), [person])
    deliverer.run_until_idle(5)
    (req,) = http_server.requests
    assert req.json()["language"] == "ru"
    assert "Засуха" in req.json()["text"]
