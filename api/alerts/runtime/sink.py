"""The engine's `NotificationSink`: each notifying transition becomes one message model and
one delivery per recipient channel, in the delivery log, before `accept` returns.

Delivery keys are (alert id, transition seq, recipient, channel) and the log refuses a key it
has, so the engine's at-least-once hand-over never sends twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter
from pydantic import ValidationError

from api.alerts import model as msg
from api.alerts.delivery import Deliverer
from api.alerts.engine.model import NotificationEvent, SubjectKind, TransitionKind
from api.alerts.recipients import Recipient, recipients_for
from api.alerts.runtime.registry_view import RegistryView

log = structlog.get_logger("jaylym.alerts.sink")

UNDELIVERABLE = Counter(
    "jaylym_alert_events_undeliverable_total",
    "Alert transitions that could not be turned into a message (logged with their key).",
    ["rule"],
)

_TRANSITIONS = {
    TransitionKind.OPENED: msg.Transition.opened,
    TransitionKind.ESCALATED: msg.Transition.escalated,
    TransitionKind.RENOTIFIED: msg.Transition.renotify,
    TransitionKind.RESOLVED: msg.Transition.resolved,
}


def _num(ctx: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = ctx.get(key)
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def figures_for(event: NotificationEvent) -> dict[str, Any]:
    """The message layer's typed figures, from the engine's value and context."""
    ctx, v = event.context, event.value
    rule = event.rule
    if rule == "overgrazing":
        return {"rule": rule, "utilisation": max(v, 0.0)}
    if rule == "overstocked":
        return {
            "rule": rule,
            "density_lu_per_ha": max(v, 0.0),
            "limit_lu_per_ha": _num(ctx, "load_limit_lu_per_ha", 1.0),
            "minutes": round(_num(ctx, "above_limit_min")),
        }
    if rule == "off_plan":
        reason = ctx.get("reason")
        return {
            "rule": rule,
            # "not in the plan at all" reads to a herder as "outside your plan window"
            "reason": reason if reason in ("resting", "closed") else "outside_window",
            "minutes": round(max(v, 0.0)),
        }
    if rule == "stray":
        return {
            "rule": rule,
            "minutes": round(max(v, 0.0)),
            "metres": round(_num(ctx, "nearest_pasture_m")),
        }
    if rule == "immobile":
        return {"rule": rule, "metres": round(max(v, 0.0)), "hours": _num(ctx, "window_h", 10.0)}
    if rule == "device_offline":
        last = int(_num(ctx, "last_seen_ms", float(event.at_ms)))
        return {
            "rule": rule,
            "minutes": round(max(v, 0.0)),
            "last_seen": datetime.fromtimestamp(last / 1000, UTC),
        }
    if rule == "low_battery":
        dte = ctx.get("days_to_empty")
        return {
            "rule": rule,
            "volts": max(v, 0.0),
            "threshold_volts": _num(ctx, "threshold_v", 3.5),
            "days_to_empty": float(dte) if isinstance(dte, int | float) else None,
        }
    if rule == "drought":
        return {
            "rule": rule,
            "moisture_factor": min(max(v, 0.0), 1.0),
            "days": round(_num(ctx, "days_below")),
        }
    raise ValueError(f"no message for rule {rule!r}")


def herds_of(event: NotificationEvent, view: RegistryView) -> list[str]:
    """The herds an alert concerns: its herd, the herds present in its pasture, or the herd
    wearing its device."""
    s = event.subject
    if s.kind is SubjectKind.HERD_IN_PASTURE and s.herd_id:
        return [s.herd_id]
    if s.kind is SubjectKind.PASTURE:
        present = event.context.get("herds_present")
        return [h for h in present if isinstance(h, str)] if isinstance(present, list) else []
    herd = view.device_herd.get(s.device_id or "")
    return [herd] if herd else []


def message_for(
    event: NotificationEvent, view: RegistryView, language: str | None = None
) -> msg.Alert:
    """The message model of `event`; `language` picks the okrug's name (default: the
    registry view's naming language)."""
    s = event.subject
    herd_ids = herds_of(event, view)
    pasture_id = s.pasture_id
    pasture_name = None
    if pasture_id is not None:
        pasture_name = view.pasture_names.get(pasture_id) or str(
            event.context.get("pasture_name") or pasture_id
        )
    return msg.Alert.model_validate(
        {
            "alert_id": event.alert_id,
            "seq": event.seq,
            "rule": event.rule,
            "severity": event.severity.value,
            "transition": _TRANSITIONS[event.kind],
            "subject": {
                "okrug_id": s.okrug,
                "okrug_name": (
                    view.okrug_names_by_language.get(s.okrug, {}).get(language or "")
                    or view.okrug_names.get(s.okrug)
                    or s.okrug
                ),
                "pasture_id": pasture_id,
                "pasture_name": pasture_name,
                "herd_ids": tuple(herd_ids),
                "herd_names": tuple(view.herd_names.get(h, h) for h in herd_ids),
                "device_id": s.device_id if s.kind is SubjectKind.DEVICE else None,
            },
            "figures": figures_for(event),
            "at": datetime.fromtimestamp(event.at_ms / 1000, UTC),
        }
    )


class DeliverySink:
    """`NotificationSink` over a `Deliverer`. `view` gives the current registry (names,
    herds, people); it is the snapshot source's latest read, or a fresh one."""

    def __init__(self, deliverer: Deliverer, view: Callable[[], RegistryView]) -> None:
        self.deliverer = deliverer
        self.view = view

    def accept(self, events: Sequence[NotificationEvent]) -> None:
        if not events:
            return
        view = self.view()
        for event in events:
            try:
                alert = message_for(event, view)
            except (ValidationError, ValueError) as exc:
                # A message that cannot be built now will not be buildable on a retry
                # either; refusing the batch would block every later alert behind it.
                UNDELIVERABLE.labels(event.rule).inc()
                log.error("alert.undeliverable", key=event.key, rule=event.rule, error=str(exc))
                continue
            # One submit per reader language, so each message names the okrug in it. Raises
            # on a database error: the engine then offers the events again, and the keys
            # already recorded (alert, seq, recipient, channel) are not recorded twice.
            by_language: dict[str, list[Recipient]] = {}
            for person in recipients_for(alert, view.people):
                lang = person.language or self.deliverer.default_language
                by_language.setdefault(lang, []).append(person)
            for language, people in by_language.items():
                self.deliverer.submit(message_for(event, view, language), people)
