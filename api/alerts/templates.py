"""Every English source string of an alert message, marked for extraction with `N_`.

The catalogs in api/alerts/locale translate these. SMS templates are short on purpose: with
Cyrillic names a message is UCS-2 and must fit 70 characters, so a template's fixed text plus
its numbers stays near 40 characters and the names get the rest. No template holds a literal
"%": percentages come formatted for the locale in {pct}, and gettext tools would otherwise read
"% o" as a printf conversion. Names are given as labels
("Herd X") rather than inflected, because Kazakh and Russian case endings cannot be glued to a
name we do not know.
"""

from __future__ import annotations

from api.alerts.model import Rule, Severity, Transition


def N_(message: str) -> str:  # noqa: N802 - the gettext convention, read by the extractor
    """Mark a string for extraction; translation happens when a message is rendered."""
    return message


# Short, for SMS. Keys are rule names, or rule names with a variant after a colon.
SMS: dict[str, str] = {
    "overgrazing": N_("{pasture}: {pct} of season grass used. Herd {herd}"),
    "overstocked": N_("{pasture}: {density} LU/ha, limit {limit}, {minutes} min. Herd {herd}"),
    "off_plan:closed": N_("Herd {herd} on closed pasture {pasture}, {minutes} min"),
    "off_plan:outside_window": N_("Herd {herd} off plan dates on {pasture}, {minutes} min"),
    "stray": N_("Herd {herd} off pasture: {metres} m from {pasture}, {minutes} min"),
    "immobile": N_("Not moving: {device} ({herd}), {metres} m in {hours} h"),
    "device_offline": N_("No signal: {device} ({owner}) {minutes} min, last {time}"),
    "low_battery": N_("Low battery: {device} ({owner}) {volts} V, ~{days} days left"),
    "low_battery:no_trend": N_("Low battery: {device} ({owner}) {volts} V, limit {threshold} V"),
    "drought": N_("{pasture}: drought, moisture {factor} for {days} d. Herd {herd}"),
    "resolved": N_("Resolved: {title}. {place}"),
}

TITLES: dict[Rule, str] = {
    Rule.overgrazing: N_("Overgrazing"),
    Rule.overstocked: N_("Pasture overstocked"),
    Rule.off_plan: N_("Off-plan grazing"),
    Rule.stray: N_("Herd off pasture"),
    Rule.immobile: N_("Animal not moving"),
    Rule.device_offline: N_("Device offline"),
    Rule.low_battery: N_("Low battery"),
    Rule.drought: N_("Drought"),
}

SEVERITIES: dict[Severity, str] = {
    Severity.info: N_("Info"),
    Severity.warning: N_("Warning"),
    Severity.critical: N_("Critical"),
}

TRANSITIONS: dict[Transition, str] = {
    Transition.opened: N_("New alert"),
    Transition.escalated: N_("Alert escalated"),
    Transition.renotify: N_("Reminder"),
    Transition.resolved: N_("Resolved"),
}

# One sentence that explains the number, for Telegram and webhooks.
DETAILS: dict[str, str] = {
    "overgrazing": N_("This season the pasture has been grazed to {pct} of what it can carry."),
    "overstocked": N_(
        "Stocking density is {density} LU/ha against a limit of {limit} LU/ha, "
        "for {minutes} minutes."
    ),
    "off_plan:closed": N_(
        "The herd has been on a pasture that is closed or resting for {minutes} minutes."
    ),
    "off_plan:outside_window": N_(
        "The herd has been grazing outside its plan dates for {minutes} minutes."
    ),
    "stray": N_(
        "Collars have been outside every pasture of the okrug for {minutes} minutes, "
        "{metres} m from the nearest pasture."
    ),
    "immobile": N_(
        "The collar moved only {metres} m in {hours} hours: the animal may be stuck or ill, "
        "or the collar has dropped off."
    ),
    "device_offline": N_("No reading from the device for {minutes} minutes; last at {time}."),
    "low_battery": N_(
        "Battery at {volts} V (threshold {threshold} V); about {days} days until empty."
    ),
    "low_battery:no_trend": N_("Battery at {volts} V (threshold {threshold} V)."),
    "drought": N_(
        "Soil moisture factor has been {factor} (below the threshold) for {days} days; "
        "grass will grow slowly."
    ),
    "resolved": N_("The condition has cleared."),
}

ADVICE: dict[Rule, str] = {
    Rule.overgrazing: N_("Move the herd to another pasture."),
    Rule.overstocked: N_("Move the herd to another pasture."),
    Rule.off_plan: N_("Move the herd as the pasture plan says."),
    Rule.stray: N_("Find the herd and bring it back to pasture."),
    Rule.immobile: N_("Check the animal and the collar."),
    Rule.device_offline: N_("Check or charge the device."),
    Rule.low_battery: N_("Check or charge the device."),
    Rule.drought: N_("Reduce the number of animals or move part of the herd."),
}

LABELS: dict[str, str] = {
    "pasture": N_("Pasture"),
    "herd": N_("Herd"),
    "device": N_("Device"),
    "okrug": N_("Okrug"),
    "time": N_("Time"),
    "alert": N_("Alert"),
}
