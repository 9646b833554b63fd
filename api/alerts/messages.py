"""Alert messages in the reader's language: a one-segment SMS and a full text.

Catalogs are gettext .mo files under api/alerts/locale, loaded with Babel. Numbers are written
with the locale's decimal sign, times in the configured local zone (not UTC: a herder reads
"14:05" the way the clock on the wall says it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

from api.alerts import templates as t
from api.alerts.model import (
    Alert,
    DeviceOfflineFigures,
    DroughtFigures,
    ImmobileFigures,
    LowBatteryFigures,
    OffPlanFigures,
    OvergrazingFigures,
    OverstockedFigures,
    Severity,
    StrayFigures,
    Transition,
)
from api.alerts.recipients import LANGUAGES, Language
from api.alerts.segments import fit_one_segment

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "alerts"
NAME_KEYS = ("pasture", "herd", "device", "owner", "place")
DEFAULT_TZ = "Asia/Almaty"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: Language) -> NullTranslations:
    """The compiled catalog of `language` (English is the source language)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    return Translations.load(str(LOCALE_DIR), locales=[language], domain=DOMAIN)


@dataclass(frozen=True)
class Rendered:
    language: Language
    sms: str
    title: str
    text: str


def render(
    alert: Alert,
    language: Language,
    *,
    tz: str = DEFAULT_TZ,
    herd_names: tuple[str, ...] | None = None,
) -> Rendered:
    """SMS and full text of `alert` in `language`.

    `herd_names` narrows the herds named to the reader's own (a herder is told about their
    herd, a coordinator about all of them).
    """
    gettext = translations(language).gettext
    zone = ZoneInfo(tz)
    numbers = _numbers(alert, language, zone)
    names = _names(alert, herd_names)
    key = _variant(alert)
    title = gettext(t.TITLES[alert.rule])

    def sms_with(shown: Mapping[str, str]) -> str:
        if alert.transition is Transition.resolved:
            return gettext(t.SMS["resolved"]).format(title=title, place=shown["place"])
        body = gettext(t.SMS[key]).format(**numbers, **shown)
        # One character marks a critical alert in every language (a word would cost names).
        return ("!" if alert.severity is Severity.critical else "") + body

    used = _placeholders(alert, key)
    sms = fit_one_segment(sms_with, {k: names[k] for k in used})
    full = _full(alert, language, numbers, key, title, zone)
    return Rendered(language, sms, title, full)


def _full(
    alert: Alert, language: Language, numbers: dict[str, str], key: str, title: str, zone: ZoneInfo
) -> str:
    gettext = translations(language).gettext
    head = f"{gettext(t.TRANSITIONS[alert.transition])} · {gettext(t.SEVERITIES[alert.severity])}"
    lines = [head, title]
    if alert.transition is Transition.resolved:
        lines.append(gettext(t.DETAILS["resolved"]))
    else:
        lines.append(gettext(t.DETAILS[key]).format(**numbers))
        lines.append(gettext(t.ADVICE[alert.rule]))
    subject = alert.subject
    facts = [
        ("pasture", clean(subject.pasture_name or "")),
        ("herd", ", ".join(clean(name) for name in subject.herd_names)),
        ("device", subject.device_id),
        ("okrug", clean(subject.okrug_name)),
        ("time", _local(alert.at, "d MMMM y, HH:mm", zone, language)),
        ("alert", alert.alert_id),
    ]
    lines.append("")
    lines.extend(f"{gettext(t.LABELS[label])}: {value}" for label, value in facts if value)
    return "\n".join(lines)


def _variant(alert: Alert) -> str:
    figures = alert.figures
    if isinstance(figures, OffPlanFigures):
        return (
            "off_plan:outside_window" if figures.reason == "outside_window" else "off_plan:closed"
        )
    if isinstance(figures, LowBatteryFigures) and figures.days_to_empty is None:
        return "low_battery:no_trend"
    return alert.rule.value


def _placeholders(alert: Alert, key: str) -> tuple[str, ...]:
    """Which names the SMS template uses (the rest must not cost any room)."""
    if alert.transition is Transition.resolved:
        return ("place",)
    source = t.SMS[key]
    return tuple(name for name in NAME_KEYS if "{" + name + "}" in source)


def clean(text: str) -> str:
    """A name from the registry is free text: one line, no control or format characters
    (a newline or a bidi override must not reshape an SMS)."""
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    return " ".join(kept.split())


def _names(alert: Alert, herd_names: tuple[str, ...] | None) -> dict[str, str]:
    subject = alert.subject
    herds = herd_names if herd_names else subject.herd_names
    herd = ", ".join(clean(name) for name in herds)
    pasture = clean(subject.pasture_name or "")
    device = subject.device_id or ""
    okrug = clean(subject.okrug_name)
    owner = herd or pasture or okrug
    place = pasture or herd or device or okrug
    if alert.rule.value in ("device_offline", "low_battery", "immobile") and device:
        place = f"{device} ({owner})"
    return {
        "pasture": pasture or okrug,
        "herd": herd or "-",
        "device": device or "-",
        "owner": owner,
        "place": place,
    }


def _numbers(alert: Alert, language: Language, zone: ZoneInfo) -> dict[str, str]:
    def dec(value: float, pattern: str = "0.0") -> str:
        return str(format_decimal(value, format=pattern, locale=language))

    f = alert.figures
    if isinstance(f, OvergrazingFigures):
        return {"pct": str(format_percent(round(f.utilisation, 2), locale=language))}
    if isinstance(f, OverstockedFigures):
        return {
            # Two decimals when needed, so 1.54 over a limit of 1.5 does not read "1,5 > 1,5".
            "density": dec(f.density_lu_per_ha, "0.0#"),
            "limit": dec(f.limit_lu_per_ha, "0.0#"),
            "minutes": str(f.minutes),
        }
    if isinstance(f, OffPlanFigures):
        return {"minutes": str(f.minutes)}
    if isinstance(f, StrayFigures):
        return {"minutes": str(f.minutes), "metres": str(f.metres)}
    if isinstance(f, ImmobileFigures):
        return {"metres": str(f.metres), "hours": dec(f.hours, "0.#")}
    if isinstance(f, DeviceOfflineFigures):
        return {"minutes": str(f.minutes), "time": _local(f.last_seen, "HH:mm", zone, language)}
    if isinstance(f, LowBatteryFigures):
        days = "" if f.days_to_empty is None else dec(f.days_to_empty, "0")
        return {
            "volts": dec(f.volts, "0.00"),
            "threshold": dec(f.threshold_volts, "0.0#"),
            "days": days,
        }
    if isinstance(f, DroughtFigures):
        return {"factor": dec(f.moisture_factor, "0.00"), "days": str(f.days)}
    raise AssertionError(f"no numbers for {alert.rule}")  # pragma: no cover - union is closed


def _local(moment: datetime, pattern: str, zone: ZoneInfo, language: str) -> str:
    return str(format_datetime(moment, pattern, tzinfo=zone, locale=language))
