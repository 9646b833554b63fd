"""Issue 10, fault: an alert delivery channel down (HTTP 500s and hanging requests) for ten
minutes, then back.

Ten real minutes would not fit CI, so the deliverer runs on its injected clock (`now`), moved
from one due attempt to the next, while every send is real HTTP to a local server that fails,
then answers. Extended from tests/api/alerts/test_delivery.py's 500-and-timeout test, which it
replaces: the same guarantees (one rendered message resent as is, every attempt logged) over
a whole outage, with the production retry policy (`Settings` defaults).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from api.alerts.delivery import Deliverer, RetryPolicy
from api.alerts.delivery_log import SqlDeliveryLog
from api.alerts.recipients import Endpoint, Recipient
from api.alerts.setup import build_channels
from jaylym.settings import Settings
from tests.api.alerts.samples import alert
from tests.recording_http import Reply, recording_server

OUTAGE = timedelta(minutes=10)
AFTER = timedelta(minutes=30)  # driven on after recovery: nothing more may be sent
T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
HANG_S = 0.5  # a hanging request answers after this; the channels give up at TIMEOUT_S
TIMEOUT_S = 0.2
OK = {"code": 0, "data": {"messageId": "m-1"}, "ok": True, "result": {"message_id": 7}}


class SimClock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at


def people(url: str) -> list[Recipient]:
    herder = Recipient(
        id="herder-1",
        role="herder",
        name="Асқар",
        language="kk",
        endpoints=(Endpoint("sms", "+77011234567"), Endpoint("telegram", "1001")),
        herd_ids=frozenset({"h-askar"}),
    )
    coordinator = Recipient(
        id="coordinator-1",
        role="coordinator",
        name="Dana",
        language="en",
        endpoints=(Endpoint("webhook", f"{url}/hook/dana"),),
        okrug_ids=frozenset({"sogety"}),
    )
    return [herder, coordinator]


def test_channel_down_ten_minutes_retries_with_backoff_and_sends_each_once(
    tmp_path: Path,
) -> None:
    with recording_server() as server:
        settings = Settings(
            data_dir=tmp_path,
            sms_gateway="mobizon",
            sms_base_url=server.url,
            sms_api_key="kz-key",  # type: ignore[arg-type]
            telegram_bot_token="123:tg",  # type: ignore[arg-type]
            telegram_api_url=server.url,
            webhook_secret="hook-secret",  # type: ignore[arg-type]
            webhook_allow_http=True,
            delivery_timeout_s=TIMEOUT_S,
        )
        config = settings.alerts_delivery()
        channels = build_channels(config)
        channels.pop("mqtt").close()  # not used: no broker here
        policy = RetryPolicy(  # the production defaults, as `jaylym serve` builds them
            max_attempts=config.max_attempts,
            base_s=config.backoff_base_s,
            max_backoff_s=config.backoff_max_s,
            max_retry_after_s=config.max_retry_after_s,
        )
        log = SqlDeliveryLog.from_url(f"sqlite:///{tmp_path / 'delivery.db'}")
        log.create_all()
        clock = SimClock(T0)
        deliverer = Deliverer(log, channels, policy=policy, now=clock.now, rng=random.Random(10))
        keys = [
            *deliverer.submit(alert("overgrazing", alert_id="al-1"), people(server.url)),
            *deliverer.submit(alert("stray", alert_id="al-2"), people(server.url)),
        ]
        assert len(keys) == 6  # 2 alerts x (SMS, Telegram, webhook)

        scripted = 0
        recovered_at = len(server.requests)
        up = False
        end = T0 + OUTAGE + AFTER
        steps = 0
        while clock.at < end:
            steps += 1
            assert steps < 500, "the deliveries never settled"
            if not up and clock.at >= T0 + OUTAGE:
                # A request the client gave up on may reach the server's log a little late:
                # let every failed attempt's request land before counting what follows.
                made = sum(len(log.attempts_of(k)) for k in keys)
                server.wait_for(made, timeout_s=10)
                up, recovered_at = True, len(server.requests)
                server.default = Reply(200, OK)
            if not up:
                for _ in log.due(clock.at):  # down: two 500s, then a hanging request
                    scripted += 1
                    hang = scripted % 3 == 0
                    server.then(Reply(503, {}, delay_s=HANG_S) if hang else Reply(500, {}))
            report = deliverer.run_due()
            assert report.failed == 0, "a delivery gave up during a 10-minute outage"
            nxt = log.next_due_at()
            target = end if nxt is None else max(nxt, clock.at + timedelta(milliseconds=1))
            if not up and target > T0 + OUTAGE:
                target = T0 + OUTAGE  # see the recovery at its moment
            clock.at = min(target, end)
        assert deliverer.run_due().attempted == 0  # half an hour on: nothing left to send
        deliverer.close()
        requests = list(server.requests)

    # Every attempt is in the log, one per request the far end saw, and each delivery was
    # sent exactly once: one `sent` attempt, one request after recovery.
    attempts = {key: log.attempts_of(key) for key in keys}
    assert sum(len(a) for a in attempts.values()) == len(requests)
    after = requests[recovered_at:]
    assert len(after) == len(keys)
    webhook_keys = [r.headers["idempotency-key"] for r in after if r.path == "/hook/dana"]
    assert sorted(webhook_keys) == sorted(k for k in keys if k.endswith("/webhook"))
    for key, rows in attempts.items():
        assert [a.status for a in rows] == ["retry"] * (len(rows) - 1) + ["sent"], key
        assert [a.attempt for a in rows] == list(range(1, len(rows) + 1))
        assert all(a.finished_at is not None for a in rows)
        assert rows[-1].started_at >= T0 + OUTAGE > rows[-2].started_at
        assert {a.http_status for a in rows[:-1]} <= {500, 503, None}
        state = log.get(key)
        assert state is not None
        assert state.state == "sent"
        assert state.attempts == len(rows)
        # Back-off: the wait after failed attempt k is within [step/2, step], step doubling
        # from the base and capped; hence growing gaps, never a storm, never over the cap.
        gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(rows)]
        for k, gap in enumerate(gaps, start=1):
            step = min(policy.max_backoff_s, policy.base_s * 2 ** (k - 1))
            assert step / 2 <= gap <= step + 1e-6, (key, k, gap)
    timeouts = sum("timeout" in (a.detail or "") for rows in attempts.values() for a in rows)
    http5xx = sum(a.http_status in (500, 503) for rows in attempts.values() for a in rows)
    assert timeouts > 0
    assert http5xx > 0
    # The webhook carries the same signed message at every attempt (rendered once).
    hooks = [r for r in requests if r.path == "/hook/dana"]
    assert len({(r.headers["idempotency-key"], r.body) for r in hooks}) == 2
    longest = max(len(rows) for rows in attempts.values())
    # Eight failures in ten minutes: the last waits used the capped step (600 s).
    assert longest >= 9
    one = attempts[keys[0]]
    print(
        f"\n[reliability] delivery outage 10 min (simulated, real HTTP): deliveries={len(keys)} "
        f"attempts={len(requests)} http_5xx={http5xx} timeouts={timeouts} "
        f"sent={len(after)} duplicates=0 failed=0 max_attempts_used={longest}/"
        f"{policy.max_attempts} gaps_s[{keys[0].split('/')[-1]}]="
        + ",".join(f"{(b.started_at - a.started_at).total_seconds():.0f}" for a, b in pairwise(one))
        + f" steps={steps}"
    )
