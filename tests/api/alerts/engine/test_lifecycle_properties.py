"""Property tests: whatever sequence of conditions, acknowledgements and clock steps, the
lifecycle keeps its invariants."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from api.alerts.engine import (
    AlertState,
    Condition,
    EngineConfig,
    InMemoryRepository,
    Severity,
    Subject,
    SubjectKind,
    TransitionKind,
    lifecycle,
)
from api.alerts.engine.model import Alert, RuleResult

RULES = ("overgrazing", "stray")
SUBJECTS = tuple(Subject(SubjectKind.PASTURE, "sogety", pasture_id=f"p{i}") for i in range(3))
LEVELS = ("warning", "critical", "band", "absent")
CFG = EngineConfig.model_validate(
    {
        "repeat_interval_s": 3600,
        "overgrazing": {"clear_hold_s": 1800},
        "stray": {"clear_hold_s": 0},
    }
)


@dataclass(frozen=True)
class Cycle:
    dt_ms: int
    levels: tuple[tuple[str, ...], ...]  # per rule, per subject
    evaluated: tuple[bool, ...]  # per rule
    ack: int | None  # index into the open alerts, sorted by id


cycles = st.builds(
    Cycle,
    dt_ms=st.sampled_from([0, 60_000, 1_800_000, 3_600_000, 7 * 3_600_000]),
    levels=st.tuples(*[st.tuples(*[st.sampled_from(LEVELS) for _ in SUBJECTS]) for _ in RULES]),
    evaluated=st.tuples(*[st.booleans() for _ in RULES]).filter(any),
    ack=st.none() | st.integers(0, 5),
)


def results_for(c: Cycle) -> list[RuleResult]:
    out = []
    for r, rule in enumerate(RULES):
        conds = tuple(
            Condition(
                rule,
                subj,
                None if level == "band" else Severity(level),
                {"warning": 0.85, "critical": 1.1, "band": 0.77}[level],
                "ratio",
            )
            for subj, level in zip(SUBJECTS, c.levels[r], strict=True)
            if level != "absent"
        )
        out.append(RuleResult(rule, conds, evaluated=c.evaluated[r]))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(cycles, min_size=1, max_size=25))
def test_condition_sequences_keep_the_lifecycle_invariants(sequence: list[Cycle]) -> None:
    repo = InMemoryRepository()
    ids = (f"a{i}" for i in range(10_000))
    now = 1_780_000_000_000
    resolved: dict[str, Alert] = {}
    notified: list[tuple[str, int]] = []
    for c in sequence:
        now += c.dt_ms
        before = {a.id: a for a in repo.load_open()}
        if c.ack is not None and before:
            target = sorted(before)[c.ack % len(before)]
            repo.apply(lifecycle.acknowledge(before[target], "herder", now))
            before = {a.id: a for a in repo.load_open()}
        changes = lifecycle.step(before.values(), results_for(c), now, CFG, ids.__next__)
        repo.apply(changes)  # never a duplicate open alert, never a stale write
        notified += [e.key for e in changes.notifications]
        after = {a.id: a for a in repo.load_open()}

        open_keys = [(a.rule, a.subject.key) for a in after.values()]
        assert len(open_keys) == len(set(open_keys))
        for r, rule in enumerate(RULES):
            for subj, level in zip(SUBJECTS, c.levels[r], strict=True):
                if c.evaluated[r] and level in ("warning", "critical"):
                    # A firing condition always has its (single) open alert.
                    assert (rule, subj.key) in open_keys
            if not c.evaluated[r]:
                # Not evaluated: the rule's alerts keep state, severity, value and hold;
                # only the clock-driven repeat may still happen.
                for aid, a in before.items():
                    if a.rule == rule:
                        b = after[aid]
                        assert (b.state, b.severity, b.value, b.clear_since_ms) == (
                            a.state,
                            a.severity,
                            a.value,
                            a.clear_since_ms,
                        )
                        new = [t.kind for t in changes.transitions if t.alert_id == aid]
                        assert new in ([], [TransitionKind.RENOTIFIED])
        for aid, a in before.items():
            if aid in after:
                assert after[aid].severity.rank >= a.severity.rank
        for w in changes.writes:
            if not w.alert.is_open:
                resolved[w.alert.id] = w.alert

    assert len(notified) == len(set(notified))
    for aid, a in resolved.items():
        assert repo.get(aid) == a  # a resolved alert never changes again
    for a in [*resolved.values(), *repo.load_open()]:
        trail = repo.transitions(a.id)
        assert [t.seq for t in trail] == list(range(1, len(trail) + 1))
        assert trail[0].kind is TransitionKind.OPENED
        assert a.seq == len(trail)
        acknowledged = False
        by_kind: dict[TransitionKind, int] = defaultdict(int)
        for t in trail:
            by_kind[t.kind] += 1
            if t.kind is TransitionKind.ACKNOWLEDGED:
                acknowledged = True
            elif t.kind is TransitionKind.ESCALATED:
                acknowledged = False
            elif t.kind is TransitionKind.RENOTIFIED:
                assert not acknowledged, "re-notified after an acknowledgement"
        assert by_kind[TransitionKind.RESOLVED] == (0 if a.is_open else 1)
        assert by_kind[TransitionKind.OPENED] == 1
        assert a.state is not AlertState.RESOLVED or trail[-1].kind is TransitionKind.RESOLVED
