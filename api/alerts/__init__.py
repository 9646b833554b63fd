"""Alerts: the notification model, localised messages, channels and delivery.

The rule engine and lifecycle (open, escalate, re-notify, resolve) live beside this package
and hand `Alert` objects to `api.alerts.delivery`.
"""
