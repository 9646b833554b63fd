"""Delivery: every alert transition to every concerned person, on each of their channels.

`submit()` renders each message in the reader's language and records one delivery per
(alert id, transition seq, recipient, channel) before anything is sent. `run_due()` then makes
one attempt at each due delivery; a retryable failure is rescheduled with exponential back-off
and jitter, or after the `retry_after` the far end asked for, until `max_attempts`.
Every attempt is a row in the delivery log.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter

from api.alerts.channels import Channel, Outbound, Outcome
from api.alerts.delivery_log import Delivery, DeliveryLog, NewDelivery, State
from api.alerts.messages import DEFAULT_TZ, Rendered, render
from api.alerts.model import Alert
from api.alerts.recipients import ChannelName, Language, Recipient

log = structlog.get_logger("jaylym.alerts.delivery")

ATTEMPTS = Counter(
    "jaylym_alert_delivery_attempts",
    "Alert delivery attempts by channel and outcome.",
    ["channel", "outcome"],
)


@dataclass(frozen=True)
class RetryPolicy:
    # 8 gave up after 5 to 10 min of a channel outage; 12 keep retrying for 25 to 50 min.
    max_attempts: int = 12
    base_s: float = 5.0
    max_backoff_s: float = 600.0
    max_retry_after_s: float = 3600.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt number `attempt` (1-based): "equal jitter", so retries
        from many deliveries that failed together spread out but never come sooner than half
        the exponential step."""
        step = min(self.max_backoff_s, self.base_s * 2 ** (attempt - 1))
        return rng.uniform(step / 2, step)

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        if retry_after_s is None:
            return self.backoff(attempt, rng)
        # Honour the far end: never sooner than asked; a little later so we do not all return
        # in the same second.
        return retry_after_s + rng.uniform(0, min(1.0, 0.1 * retry_after_s))


@dataclass
class RunReport:
    attempted: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    keys: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, key: str, result: str) -> None:
        with self.lock:
            self.attempted += 1
            self.keys.append(key)
            setattr(self, result, getattr(self, result) + 1)

    def add(self, other: RunReport) -> None:
        for name in ("attempted", "sent", "retrying", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.keys.extend(other.keys)


def delivery_key(alert: Alert, recipient_id: str, channel: str) -> str:
    return f"{alert.idempotency_stem}/{recipient_id}/{channel}"


class Deliverer:
    def __init__(
        self,
        log_store: DeliveryLog,
        channels: Mapping[ChannelName, Channel],
        *,
        policy: RetryPolicy | None = None,
        timezone: str = DEFAULT_TZ,
        default_language: Language = "kk",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        workers: int = 4,
    ) -> None:
        self.store = log_store
        self.channels = dict(channels)
        # The log stores channel names as plain text.
        self._by_name: dict[str, Channel] = {str(k): v for k, v in channels.items()}
        self.policy = policy or RetryPolicy()
        self.timezone = timezone
        self.default_language = default_language
        self.now = now
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.workers = max(1, workers)

    def recover(self) -> dict[str, int]:
        """Call once at start-up, before `run_due`: settle sends a crash left open."""
        resendable = [name for name, ch in self.channels.items() if ch.receiver_dedupes]
        counts = self.store.recover(resendable, self.now())
        if any(counts.values()):
            log.warning("delivery.recovered", **counts)
        return counts

    def submit(self, alert: Alert, recipients: Iterable[Recipient]) -> list[str]:
        """Record a delivery per recipient endpoint; returns the keys newly recorded.

        Submitting the same transition again records nothing new: the key is the idempotency
        key, and it is stored before any send.
        """
        rows: list[NewDelivery] = []
        for person in recipients:
            language = person.language or self.default_language
            own_herds = tuple(
                name
                for hid, name in zip(alert.subject.herd_ids, alert.subject.herd_names, strict=True)
                if hid in person.herd_ids
            )
            rendered = render(
                alert,
                language,
                tz=self.timezone,
                herd_names=own_herds if person.role == "herder" else None,
            )
            rows.extend(
                self._row(alert, person, endpoint.channel, endpoint.address, rendered)
                for endpoint in person.endpoints
            )
        added = self.store.add(rows, self.now())
        new = set(added)
        for row in rows:
            if row.key in new and row.state == "failed":
                ATTEMPTS.labels(row.channel, "unroutable").inc()
                log.warning("delivery.unroutable", key=row.key, reason=row.last_error)
        return added

    def _row(
        self,
        alert: Alert,
        person: Recipient,
        channel_name: ChannelName,
        address: str,
        rendered: Rendered,
    ) -> NewDelivery:
        channel = self.channels.get(channel_name)
        problem = None
        if channel is None:
            problem = f"channel {channel_name} is not configured"
        else:
            try:
                channel.check_address(address, person.id)
            except ValueError as exc:
                problem = str(exc)
        text = rendered.sms if channel is not None and channel.text_form == "sms" else rendered.text
        key = delivery_key(alert, person.id, channel_name)
        payload: dict[str, Any] = {
            "key": key,  # receivers deduplicate on it (QoS 1 and resent webhooks may repeat)
            "alert": alert.model_dump(mode="json"),
            "language": rendered.language,
            "title": rendered.title,
            "text": rendered.text,
            "sms": rendered.sms,
        }
        return NewDelivery(
            key=key,
            alert_id=alert.alert_id,
            seq=alert.seq,
            recipient_id=person.id,
            channel=channel_name,
            address=address,
            language=rendered.language,
            text=text,
            payload=payload,
            state="failed" if problem else "pending",
            last_error=problem,
        )

    def run_due(self, limit: int = 100) -> RunReport:
        """One attempt at each delivery that is due now, `workers` at a time, so one slow or
        unreachable endpoint does not hold back everyone else's alerts."""
        report = RunReport()
        due = self.store.due(self.now(), limit)
        if self.workers == 1 or len(due) <= 1:
            for delivery_id in due:
                self._claim_and_attempt(delivery_id, report)
            return report
        with ThreadPoolExecutor(max_workers=min(self.workers, len(due))) as pool:
            # Claimed one by one, just before each send: a crash leaves at most `workers`
            # deliveries in flight, not the whole batch.
            list(pool.map(lambda delivery_id: self._claim_and_attempt(delivery_id, report), due))
        return report

    def _claim_and_attempt(self, delivery_id: int, report: RunReport) -> None:
        delivery = self.store.claim(delivery_id, self.now())
        if delivery is None:
            return  # another worker took it
        channel = self._channel(delivery.channel)
        if channel is None:
            outcome = Outcome.failed(f"channel {delivery.channel} is not configured")
        else:
            message = Outbound(
                key=delivery.key,
                channel=channel.name,
                recipient_id=delivery.recipient_id,
                address=delivery.address,
                text=delivery.text,
                payload=delivery.payload,
            )
            try:
                outcome = channel.send(message)
            except Exception as exc:  # a channel bug must not stop every other delivery
                log.exception("delivery.channel_crashed", key=delivery.key)
                outcome = Outcome.retry(f"channel error: {type(exc).__name__}: {exc}")
        self._record(delivery, outcome, report)

    def _record(self, delivery: Delivery, outcome: Outcome, report: RunReport) -> None:
        now = self.now()
        state: State
        next_at = None
        detail = outcome.detail or None
        if outcome.status == "sent":
            state = "sent"
        elif outcome.status == "retry" and self._may_retry(delivery, outcome):
            state = "retry_wait"
            wait = self.policy.delay(delivery.attempts, outcome.retry_after_s, self.rng)
            next_at = now + timedelta(seconds=wait)
        else:
            state = "failed"
            if (outcome.retry_after_s or 0) > self.policy.max_retry_after_s:
                detail = f"retry_after {outcome.retry_after_s:g} s is too long: {outcome.detail}"
            elif outcome.status == "retry":
                detail = f"gave up after {delivery.attempts} attempts: {outcome.detail}"
        self.store.finish(
            delivery,
            now,
            attempt_status=outcome.status,
            state=state,
            next_attempt_at=next_at,
            http_status=outcome.http_status,
            retry_after_s=outcome.retry_after_s,
            detail=detail,
            provider_id=outcome.provider_id,
        )
        report.count(delivery.key, {"sent": "sent", "retry_wait": "retrying"}.get(state, "failed"))
        ATTEMPTS.labels(delivery.channel, outcome.status).inc()
        log.info(
            "delivery.attempt",
            key=delivery.key,
            channel=delivery.channel,
            attempt=delivery.attempts,
            outcome=outcome.status,
            http_status=outcome.http_status,
            retry_after_s=outcome.retry_after_s,
            next_attempt_at=next_at.isoformat() if next_at else None,
            detail=(detail or "")[:200] or None,
        )

    def _channel(self, name: str) -> Channel | None:
        return self._by_name.get(name)

    def _may_retry(self, delivery: Delivery, outcome: Outcome) -> bool:
        if delivery.attempts >= self.policy.max_attempts:
            return False
        return (outcome.retry_after_s or 0) <= self.policy.max_retry_after_s

    def run_until_idle(self, timeout_s: float, *, stop: threading.Event | None = None) -> RunReport:
        """Work through deliveries, sleeping until the next is due, until none is waiting or
        `timeout_s` has passed (every wait here is bounded)."""
        total = RunReport()
        deadline = time.monotonic() + timeout_s
        stop = stop or threading.Event()
        while not stop.is_set():
            total.add(self.run_due())
            next_at = self.store.next_due_at()
            remaining = deadline - time.monotonic()
            if next_at is None or remaining <= 0:
                break
            wait = (next_at - self.now()).total_seconds()
            stop.wait(min(max(wait, 0.0), remaining, 1.0))
        return total

    def run(self, stop: threading.Event, *, poll_s: float = 1.0) -> None:
        """Deliver until `stop` is set: the loop a service runs in a thread. New submissions
        are picked up within `poll_s`; a due retry is not kept waiting longer than that."""
        while not stop.is_set():
            try:
                self.run_due()
            except Exception:  # the database may be briefly unavailable; keep the loop alive
                log.exception("delivery.loop_error")
            next_at = self.store.next_due_at()
            wait = poll_s if next_at is None else (next_at - self.now()).total_seconds()
            stop.wait(min(max(wait, 0.0), poll_s))

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
