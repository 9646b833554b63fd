"""The demo's second notification sink: each alert transition printed as its herders read
it (their language: the SMS text the delivery layer sends) alongside English.

It builds the message exactly as delivery does (`api.alerts.runtime.sink.message_for`, the
registry view of the current evaluation, `recipients_for`), so what the terminal shows is what
the herders' phones would get. The delivery sink still runs first (`TeeSink`): in the demo the
alerts also go out over MQTT on the embedded broker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from api.alerts.recipients import Language


@dataclass
class Fired:
    """One printed transition, for the demo's summary and tests."""

    rule: str
    kind: str
    subject: str
    at_ms: int
    real_s: float  # seconds after the demo started
    languages: tuple[str, ...]
    lines: tuple[str, ...]


class TeeSink:
    """Hands each batch to every sink in turn (delivery first: its `accept` is the one
    whose failure must make the engine offer the events again)."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = sinks

    def accept(self, events: Sequence[Any]) -> None:
        for sink in self.sinks:
            sink.accept(events)


class ConsoleSink:
    """`NotificationSink` that prints. One event that cannot be rendered is printed as such
    rather than raised: a template gap must not stall the engine's outbox."""

    def __init__(
        self,
        view: Callable[[], Any],
        write: Callable[[str], None],
        started: float,
        clock_real: Callable[[], float],
        default_language: str = "kk",
        timezone: str = "Asia/Almaty",
    ) -> None:
        self.view = view
        self.write = write
        self.started = started
        self.clock_real = clock_real
        self.default_language = default_language
        self.timezone = timezone
        self.fired: list[Fired] = []
        self._lock = threading.Lock()

    def accept(self, events: Sequence[Any]) -> None:
        if not events:
            return
        view = self.view()
        for event in events:
            if str(event.kind) == "acknowledged":
                continue  # not news to the herder
            try:
                self._print(event, view)
            except Exception as exc:
                self.write(f"  (alert {event.rule} {event.subject.key}: cannot render: {exc!r})")

    def languages(self, alert: Any, view: Any) -> tuple[str, ...]:
        """The languages of the herders the alert concerns (the okrug's default language
        when it concerns no herder: a soil station), English last and once."""
        from api.alerts.recipients import recipients_for

        herders = [p for p in recipients_for(alert, view.people) if p.role == "herder"]
        found = [p.language or self.default_language for p in herders]
        ordered = tuple(dict.fromkeys(found or [self.default_language]))
        return (*(lang for lang in ordered if lang != "en"), "en")

    def _print(self, event: Any, view: Any) -> None:
        from api.alerts.messages import render
        from api.alerts.runtime.sink import message_for

        alert = message_for(event, view)
        languages = self.languages(alert, view)
        real_s = self.clock_real() - self.started
        sim_at = datetime.fromtimestamp(event.at_ms / 1000, UTC).strftime("%d %b %H:%M")
        head = (
            f"[+{real_s:5.1f}s | sim {sim_at} UTC] {event.severity.upper()} "
            f"{alert.transition.value}: {event.rule} · {event.subject.key}"
        )
        lines = [head]
        for lang in languages:
            # Built per language: the okrug's name is given in the reader's language.
            localised = message_for(event, view, lang)
            text = render(localised, cast("Language", lang), tz=self.timezone).sms
            lines.append(f"    {lang}: {text}")
        with self._lock:
            self.fired.append(
                Fired(
                    rule=event.rule,
                    kind=alert.transition.value,
                    subject=event.subject.key,
                    at_ms=event.at_ms,
                    real_s=real_s,
                    languages=languages,
                    lines=tuple(lines),
                )
            )
            self.write("\n".join(lines))
