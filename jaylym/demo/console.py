"""The demo's notification sink: each alert transition printed as the herder would read it
(their language, the SMS text the delivery layer sends) alongside English.

It renders with the delivery layer's own templates (`api.alerts.messages.render`); it only
adapts the engine's event to the delivery model, as the API's sink will once the engine runs
inside `jaylym serve`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session


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


def figures(event: Any) -> Any:
    """The delivery layer's figures of an engine event (context keys are the rules')."""
    from api.alerts import model as d

    c, v = event.context, float(event.value)
    rule = event.rule
    if rule == "overgrazing":
        return d.OvergrazingFigures(utilisation=max(0.0, v))
    if rule == "overstocked":
        return d.OverstockedFigures(
            density_lu_per_ha=max(0.0, v),
            limit_lu_per_ha=float(c.get("load_limit_lu_per_ha") or 1.0),
            minutes=round(float(c.get("above_limit_min") or 0)),
        )
    if rule == "off_plan":
        reason = c.get("reason")
        return d.OffPlanFigures(
            reason=reason if reason in ("resting", "closed", "outside_window") else "resting",
            minutes=max(0, round(v)),
        )
    if rule == "stray":
        return d.StrayFigures(minutes=max(0, round(v)), metres=int(c.get("nearest_pasture_m", 0)))
    if rule == "immobile":
        return d.ImmobileFigures(metres=max(0, round(v)), hours=float(c.get("window_h") or 10))
    if rule == "device_offline":
        last = int(c.get("last_seen_ms") or event.at_ms)
        return d.DeviceOfflineFigures(
            minutes=max(0, round(v)), last_seen=datetime.fromtimestamp(last / 1000, UTC)
        )
    if rule == "low_battery":
        dte = c.get("days_to_empty")
        return d.LowBatteryFigures(
            volts=max(0.0, v),
            threshold_volts=float(c.get("threshold_v") or 3.5),
            days_to_empty=None if dte is None else max(0.0, float(dte)),
        )
    return d.DroughtFigures(moisture_factor=min(1.0, max(0.0, v)), days=0)


_KINDS = {"opened": "opened", "escalated": "escalated", "renotified": "renotify"}


class ConsoleSink:
    """`NotificationSink` that prints. `accept` never raises for one bad event: it prints
    what it could not render, so a template gap cannot stall the engine's outbox."""

    def __init__(
        self,
        registry: Engine,
        write: Callable[[str], None],
        started: float,
        clock_real: Callable[[], float],
        default_language: str = "kk",
        timezone: str = "Asia/Almaty",
    ) -> None:
        self.registry = registry
        self.write = write
        self.started = started
        self.clock_real = clock_real
        self.default_language = default_language
        self.timezone = timezone
        self.fired: list[Fired] = []
        self._lock = threading.Lock()

    def accept(self, events: Sequence[Any]) -> None:
        for event in events:
            try:
                self._print(event)
            except Exception as exc:
                self.write(f"  (alert {event.rule} {event.subject.key}: cannot render: {exc!r})")

    def _names(self, event: Any) -> dict[str, Any]:
        from jaylym.registry import models as m

        s = event.subject
        herd_ids = [s.herd_id] if s.herd_id else list(event.context.get("herds_present") or [])
        with Session(self.registry) as session:
            okrug = session.get(m.Okrug, s.okrug)
            pasture = session.get(m.Pasture, s.pasture_id) if s.pasture_id else None
            herds = [h for h in (session.get(m.Herd, i) for i in herd_ids) if h is not None]
            herders = {
                h.herder_id: session.get(m.Herder, h.herder_id)
                for h in herds
                if h.herder_id is not None
            }
            languages = [x.language for x in herders.values() if x is not None]
            return {
                "okrug_name": okrug.name_en if okrug else s.okrug,
                "pasture_name": pasture.name if pasture else None,
                "herd_ids": tuple(h.id for h in herds),
                "herd_names": tuple(h.name for h in herds),
                "languages": tuple(dict.fromkeys(languages)) or (self.default_language,),
            }

    def delivery_alert(self, event: Any, kind: str, names: dict[str, Any]) -> Any:
        """The delivery layer's model of an engine event (or stored alert: same fields)."""
        from api.alerts import model as d

        return d.Alert(
            alert_id=event.alert_id,
            seq=event.seq,
            rule=d.Rule(event.rule),
            severity=d.Severity(str(event.severity)),
            transition=d.Transition(kind),
            subject=d.Subject(
                okrug_id=event.subject.okrug,
                okrug_name=names["okrug_name"],
                pasture_id=event.subject.pasture_id if names["pasture_name"] else None,
                pasture_name=names["pasture_name"],
                herd_ids=names["herd_ids"],
                herd_names=names["herd_names"],
                device_id=event.subject.device_id,
            ),
            figures=figures(event),
            at=datetime.fromtimestamp(event.at_ms / 1000, UTC),
        )

    def summary(self, alert: Any) -> str:
        """One line of English for a stored alert (the page's alert list)."""
        from api.alerts.messages import render

        event = _AsEvent(alert)
        try:
            names = self._names(event)
            return render(self.delivery_alert(event, "opened", names), "en", tz=self.timezone).sms
        except Exception as exc:  # the list still shows the alert, by rule and subject
            return f"{alert.rule} · {alert.subject.key} ({exc.__class__.__name__})"

    def _print(self, event: Any) -> None:
        from api.alerts.messages import render

        kind = "resolved" if event.kind == "resolved" else _KINDS.get(str(event.kind))
        if kind is None:
            return  # acknowledgements are not news to the herder
        names = self._names(event)
        alert = self.delivery_alert(event, kind, names)
        real_s = self.clock_real() - self.started
        sim_at = datetime.fromtimestamp(event.at_ms / 1000, UTC).strftime("%d %b %H:%M")
        head = (
            f"[+{real_s:5.1f}s | sim {sim_at} UTC] {event.severity.upper()} {kind}: "
            f"{event.rule} · {event.subject.key}"
        )
        lines = [head]
        languages = tuple(lang for lang in names["languages"] if lang != "en")
        for lang in (*languages, "en"):
            text = render(alert, lang, tz=self.timezone).sms
            lines.append(f"    {lang}: {text}")
        with self._lock:
            self.fired.append(
                Fired(
                    rule=event.rule,
                    kind=kind,
                    subject=event.subject.key,
                    at_ms=event.at_ms,
                    real_s=real_s,
                    languages=(*languages, "en"),
                    lines=tuple(lines),
                )
            )
            self.write("\n".join(lines))


class _AsEvent:
    """A stored engine `Alert` seen through the fields of a `NotificationEvent`."""

    def __init__(self, alert: Any) -> None:
        self.alert_id = alert.id
        self.seq = alert.seq
        self.rule = alert.rule
        self.severity = alert.severity
        self.subject = alert.subject
        self.context = alert.context
        self.value = alert.value
        self.at_ms = alert.updated_ms


@dataclass
class Summary:
    """Time from the demo's start to the first alert of each rule."""

    first_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, fired: Sequence[Fired]) -> Summary:
        out: dict[str, float] = {}
        for f in fired:
            if f.kind == "opened" and f.rule not in out:
                out[f.rule] = f.real_s
        return cls(out)
