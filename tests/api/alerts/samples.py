"""Alerts of every rule, with long-ish realistic names, for the message and delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime

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
    Subject,
    Transition,
)

AT = datetime(2026, 6, 12, 9, 5, tzinfo=UTC)  # 14:05 in Almaty (UTC+5)

# Names as a Union of Pasture Users would register them: Kazakh, long, with qualifiers.
CYRILLIC = Subject(
    okrug_id="sogety",
    okrug_name="Сөгеті ауылдық округі",
    pasture_id="p-kokterek-n",
    pasture_name="Көктерек жайлауы (солтүстік бөлігі)",
    herd_ids=("h-askar",),
    herd_names=("Бекболатұлы Асқардың сиыр табыны",),
    device_id="collar-sogety-0042",
)
LATIN = Subject(
    okrug_id="sogety",
    okrug_name="Sogety rural okrug",
    pasture_id="p-kokterek-n",
    pasture_name="Kokterek summer pasture (north part)",
    herd_ids=("h-askar",),
    herd_names=("Askar Bekbolatuly cattle herd",),
    device_id="collar-sogety-0042",
)

# One figures object per SMS template variant; the number that matters is listed beside it.
FIGURES = {
    "overgrazing": (OvergrazingFigures(utilisation=1.127), ["113"]),
    "overstocked": (
        OverstockedFigures(density_lu_per_ha=2.46, limit_lu_per_ha=1.5, minutes=45),
        ["2{d}46", "1{d}5", "45"],
    ),
    "off_plan:closed": (OffPlanFigures(reason="resting", minutes=40), ["40"]),
    "off_plan:outside_window": (OffPlanFigures(reason="outside_window", minutes=125), ["125"]),
    "stray": (StrayFigures(minutes=35, metres=1850), ["1850", "35"]),
    "immobile": (ImmobileFigures(metres=23, hours=10.5), ["23", "10{d}5"]),
    "device_offline": (DeviceOfflineFigures(minutes=95, last_seen=AT), ["95", "14:05"]),
    "low_battery": (
        LowBatteryFigures(volts=3.41, threshold_volts=3.5, days_to_empty=6.4),
        ["3{d}41", "6"],
    ),
    "low_battery:no_trend": (
        LowBatteryFigures(volts=3.41, threshold_volts=3.5, days_to_empty=None),
        ["3{d}41", "3{d}5"],
    ),
    "drought": (DroughtFigures(moisture_factor=0.42, days=8), ["0{d}42", "8"]),
}


def alert(
    variant: str,
    *,
    subject: Subject = CYRILLIC,
    severity: Severity = Severity.critical,
    transition: Transition = Transition.opened,
    alert_id: str = "al-0001",
    seq: int = 1,
) -> Alert:
    figures, _ = FIGURES[variant]
    return Alert(
        alert_id=alert_id,
        seq=seq,
        rule=figures.rule,
        severity=severity,
        transition=transition,
        subject=subject,
        figures=figures,
        at=AT,
    )
