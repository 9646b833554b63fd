"""The demo's printer: every rule's event printed in its herders' languages and English, with
the delivery layer's own message builder; the tee hands each batch to delivery first."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from api.alerts.engine import (
    RULES,
    NotificationEvent,
    Severity,
    Subject,
    SubjectKind,
    TransitionKind,
)
from api.alerts.recipients import Endpoint, Recipient
from jaylym.demo.console import ConsoleSink, TeeSink

NOW = 1_795_000_000_000
CONTEXTS: dict[str, tuple[float, dict[str, object]]] = {
    "overgrazing": (0.83, {"pasture_name": "Ауыл маңы", "herds_present": ["aigul-cattle"]}),
    "overstocked": (5.5, {"load_limit_lu_per_ha": 0.6, "above_limit_min": 41.0,
                          "herds_present": ["aigul-cattle", "serik-sheep"]}),
    "off_plan": (33, {"reason": "resting", "collars_inside": 6}),
    "stray": (39, {"nearest_pasture_m": 2248, "lat": 43.45, "lon": 78.24}),
    "immobile": (12.0, {"window_h": 10.0}),
    "device_offline": (34, {"last_seen_ms": NOW - 34 * 60_000, "expected_interval_s": 600}),
    "low_battery": (3.48, {"threshold_v": 3.5, "days_to_empty": 1.2}),
    "drought": (0.42, {"herds_present": ["kim-mixed"], "days_below": 8}),
}  # fmt: skip
SUBJECTS = {
    "overgrazing": Subject(SubjectKind.PASTURE, "sogety", pasture_id="auyl-many"),
    "overstocked": Subject(SubjectKind.PASTURE, "sogety", pasture_id="auyl-many"),
    "drought": Subject(SubjectKind.PASTURE, "sogety", pasture_id="kuzeu"),
    "off_plan": Subject(
        SubjectKind.HERD_IN_PASTURE, "sogety", pasture_id="shabyndyk", herd_id="serik-sheep"
    ),
    "low_battery": Subject(SubjectKind.DEVICE, "sogety", device_id="s-kuzeu-01"),
}
PEOPLE = (
    Recipient("h-1", "herder", "Серік", (Endpoint("mqtt"),), "kk", frozenset({"serik-sheep"})),
    Recipient("h-2", "herder", "Айгүл", (Endpoint("mqtt"),), "kk", frozenset({"aigul-cattle"})),
    Recipient("h-3", "herder", "Виктор", (Endpoint("mqtt"),), "ru", frozenset({"kim-mixed"})),
    Recipient("h-4", "herder", "Dana", (Endpoint("mqtt"),), "en", frozenset({"dana-horses"})),
)
VIEW = SimpleNamespace(
    people=PEOPLE,
    okrug_names={"sogety": "Сөгеті"},
    okrug_names_by_language={"sogety": {"kk": "Сөгеті", "ru": "Согеты", "en": "Sogety"}},
    pasture_names={"auyl-many": "Ауыл маңы", "shabyndyk": "Шабындық", "kuzeu": "Күзеу"},
    herd_names={"serik-sheep": "Серіктің отары", "aigul-cattle": "Айгүлдің табыны",
                "kim-mixed": "Стадо Кима", "dana-horses": "Dana's horses"},
    device_herd={"c-dn-04": "dana-horses", "c-sr-01": "serik-sheep"},
)  # fmt: skip
EXPECTED_LANGUAGES = {
    "overgrazing": ("kk", "en"),
    "overstocked": ("kk", "en"),
    "off_plan": ("kk", "en"),
    "stray": ("en",),  # Dana reads English: once
    "immobile": ("kk", "en"),
    "device_offline": ("kk", "en"),
    "low_battery": ("kk", "en"),  # a station concerns no herder: the okrug's language
    "drought": ("ru", "en"),
}


def _event(rule: str) -> NotificationEvent:
    value, context = CONTEXTS[rule]
    device = "c-dn-04" if rule == "stray" else "c-sr-01"
    return NotificationEvent(
        alert_id=f"a-{rule.replace('_', '-')}",
        seq=1,
        kind=TransitionKind.OPENED,
        at_ms=NOW,
        rule=rule,
        subject=SUBJECTS.get(rule, Subject(SubjectKind.DEVICE, "sogety", device_id=device)),
        severity=Severity.WARNING,
        value=value,
        unit="x",
        context=context,  # type: ignore[arg-type]
    )


def test_every_rule_has_a_case() -> None:
    assert set(CONTEXTS) == set(RULES) == set(EXPECTED_LANGUAGES)


@pytest.mark.parametrize("rule", sorted(CONTEXTS))
def test_printed_in_the_herders_languages_then_english(rule: str) -> None:
    out: list[str] = []
    sink = ConsoleSink(lambda: VIEW, out.append, 0.0, lambda: 12.5)
    sink.accept([_event(rule)])
    assert len(out) == 1
    assert "cannot render" not in out[0], out[0]
    head, *lines = out[0].splitlines()
    assert head.startswith("[+ 12.5s | sim ")
    assert f"opened: {rule} · " in head
    assert tuple(line.split(":", 1)[0].strip() for line in lines) == EXPECTED_LANGUAGES[rule]
    texts = [line.split(": ", 1)[1] for line in lines]
    assert all(texts)
    assert len(set(texts)) == len(texts)  # each language its own text
    assert sink.fired[0].languages == EXPECTED_LANGUAGES[rule]


def test_the_okrug_is_named_in_each_readers_language() -> None:
    out: list[str] = []
    ConsoleSink(lambda: VIEW, out.append, 0.0, lambda: 1.0).accept([_event("low_battery")])
    kk, en = out[0].splitlines()[1:]
    assert "Сөгеті" in kk
    assert "Sogety" in en


def test_acknowledgements_are_not_printed() -> None:
    out: list[str] = []
    sink = ConsoleSink(lambda: VIEW, out.append, 0.0, lambda: 1.0)
    ack = replace(_event("stray"), kind=TransitionKind.ACKNOWLEDGED)
    sink.accept([ack])
    assert out == []


def test_tee_hands_the_batch_to_delivery_first_and_stops_if_it_refuses() -> None:
    calls: list[str] = []

    class Refusing:
        def accept(self, events: Any) -> None:
            calls.append("delivery")
            raise RuntimeError("database down")

    class Recording:
        def accept(self, events: Any) -> None:
            calls.append("console")

    with pytest.raises(RuntimeError):
        TeeSink(Refusing(), Recording()).accept([_event("stray")])
    assert calls == ["delivery"]  # offered again later; printed once it is taken
