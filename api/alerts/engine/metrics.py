"""Prometheus metrics of the alert engine (default registry, served by the API's /metrics
when that is wired). Counted here: what went wrong as well as what happened."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVALUATIONS = Counter("jaylym_alert_evaluations_total", "Alert evaluations run.")
EVALUATION_SECONDS = Histogram(
    "jaylym_alert_evaluation_seconds",
    "Wall time of one alert evaluation (rules, lifecycle, write, hand-over).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TRANSITIONS = Counter(
    "jaylym_alert_transitions_total", "Alert transitions written.", ["rule", "kind"]
)
RULE_FAILURES = Counter(
    "jaylym_alert_rule_failures_total", "Rule evaluations that raised.", ["rule"]
)
RULE_SKIPPED = Counter(
    "jaylym_alert_rule_skipped_total", "Rule evaluations skipped for missing inputs.", ["rule"]
)
CONFLICTS = Counter(
    "jaylym_alert_write_conflicts_total", "Writes refused because an alert changed meanwhile."
)
DISPATCHED = Counter(
    "jaylym_alert_notifications_dispatched_total", "Notification events the sink accepted."
)
DISPATCH_FAILURES = Counter(
    "jaylym_alert_dispatch_failures_total", "Hand-overs the delivery layer refused."
)
OPEN_ALERTS = Gauge("jaylym_alerts_unresolved", "Unresolved alerts after the last evaluation.")
