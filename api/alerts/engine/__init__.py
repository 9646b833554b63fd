"""The alert rules and lifecycle engine: a pure core the API process and `jaylym alerts` run.

- `inputs`: the plain typed snapshot the rules read (registry, fixes, grazing outputs);
- `rules`: one module per rule, registered in `rules.RULES`;
- `lifecycle`: open -> acknowledged -> resolved, hysteresis, hold time, repeats, escalation;
- `repository` / `sql_repository` / `tables`: where alerts and their audit trail live;
- `engine`: rules + lifecycle + repository + hand-over to the delivery layer (outbox);
- `loop`: the clock-driven evaluation loop.

Message texts and delivery live outside this package (api/alerts/), keyed on
`NotificationEvent.key` = (alert id, transition seq).
"""

from api.alerts.engine.config import EngineConfig
from api.alerts.engine.engine import AlertEngine, CycleReport, NotificationSink
from api.alerts.engine.inputs import (
    Herd,
    Pasture,
    PastureGrazing,
    PastureStatus,
    PlanEntry,
    Sample,
    Snapshot,
)
from api.alerts.engine.lifecycle import LifecycleError
from api.alerts.engine.loop import Clock, LoopReport, LoopThread, SystemClock, run_loop
from api.alerts.engine.model import (
    Alert,
    AlertState,
    Condition,
    NotificationEvent,
    Severity,
    Subject,
    SubjectKind,
    Transition,
    TransitionKind,
)
from api.alerts.engine.repository import (
    AlertFilter,
    AlertRepository,
    ConcurrentUpdate,
    InMemoryRepository,
)
from api.alerts.engine.rules import RULES

__all__ = [
    "RULES",
    "Alert",
    "AlertEngine",
    "AlertFilter",
    "AlertRepository",
    "AlertState",
    "Clock",
    "ConcurrentUpdate",
    "Condition",
    "CycleReport",
    "EngineConfig",
    "Herd",
    "InMemoryRepository",
    "LifecycleError",
    "LoopReport",
    "LoopThread",
    "NotificationEvent",
    "NotificationSink",
    "Pasture",
    "PastureGrazing",
    "PastureStatus",
    "PlanEntry",
    "Sample",
    "Severity",
    "Snapshot",
    "Subject",
    "SubjectKind",
    "SystemClock",
    "Transition",
    "TransitionKind",
    "run_loop",
]
