"""Running the rules of one event over a ticket's state, recording why each change happened.

Pure: no database, no clock. The caller supplies the facts (what conditions look at) and the
ticket's current state, and gets the new state plus a ``Decision`` that explains it: which rules
fired with the values they matched, every change as old → new, the rules that nearly fired
(some but not all of their conditions held), and the rule that stopped the list.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mailhelpdesk.rules.actions import Action, DeadlineChange
from mailhelpdesk.rules.conditions import AllOf, Condition, Facts, Hit
from mailhelpdesk.rules.ruleset import Rule, RuleSet


@dataclass(frozen=True, slots=True)
class TicketState:
    """The ticket fields rules may change, and what they asked to happen."""

    urgency: str = "normal"
    line: int = 1
    team: str = ""
    assignee: str = ""
    status: str = "new"
    tags: frozenset[str] = frozenset()
    sla_policy: str = ""  # chosen by a rule; '' = by urgency and tier
    deadlines: tuple[DeadlineChange, ...] = ()
    notify: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    spam: bool = False


class TicketFacts(Facts, Protocol):
    """Facts that can show a changed ticket: later rules see what earlier ones did."""

    def with_state(self, state: TicketState) -> "TicketFacts": ...


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.old)} → {_show(self.new)}"


@dataclass(frozen=True, slots=True)
class Fired:
    rule: Rule
    hits: tuple[Hit, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class NearMiss:
    rule: Rule
    held: int
    total: int
    failed: tuple[str, ...]  # the conditions that did not hold


@dataclass(frozen=True, slots=True)
class Decision:
    event: str
    before: TicketState
    after: TicketState
    fired: tuple[Fired, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    stopped_by: str = ""


def evaluate(ruleset: RuleSet, event: str, facts: TicketFacts, state: TicketState) -> Decision:
    """Run the rules listening to ``event`` in order; ``stop`` ends the list."""
    current, fired, near = state, [], []
    for rule in ruleset.rules_for(event):
        facts = facts.with_state(current)
        hits = rule.when.test(facts)
        if hits is None:
            miss = _near_miss(rule, facts)
            if miss is not None:
                near.append(miss)
            continue
        current, changes = apply(current, rule.actions)
        fired.append(Fired(rule, tuple(hits), tuple(changes)))
        if rule.stops:
            return Decision(event, state, current, tuple(fired), tuple(near), rule.name)
    return Decision(event, state, current, tuple(fired), tuple(near))


def _near_miss(rule: Rule, facts: Facts) -> NearMiss | None:
    parts = _conjuncts(rule.when)
    if len(parts) < 2:
        return None
    failed = tuple(p.describe() for p in parts if p.test(facts) is None)
    held = len(parts) - len(failed)
    return NearMiss(rule, held, len(parts), failed) if held else None


def _conjuncts(condition: Condition) -> list[Condition]:
    """The conditions that must all hold, with nested ``all`` flattened."""
    if not isinstance(condition, AllOf):
        return [condition]
    return [c for part in condition.parts for c in _conjuncts(part)]


def apply(state: TicketState, actions: tuple[Action, ...]) -> tuple[TicketState, list[Change]]:
    changes: list[Change] = []
    for action in actions:
        new = _applied(state, action)
        changes.extend(_diff(state, new))
        state = new
    return state, changes


# What each action does to the state, by name (actions.py parses them; this applies them).
ACTION_EFFECTS: dict[str, Callable[[TicketState, Any], TicketState]] = {
    "urgency": lambda s, v: replace(s, urgency=v),
    "line": lambda s, v: replace(s, line=v),
    "team": lambda s, v: replace(s, team=v),
    "assignee": lambda s, v: replace(s, assignee=v),
    "status": lambda s, v: replace(s, status=v),
    "sla": lambda s, v: replace(s, sla_policy=v),
    "escalate": lambda s, v: replace(s, line=min(s.line + 1, 4)) if v else s,
    "tags": lambda s, v: replace(s, tags=s.tags | frozenset(v)),
    "deadline": lambda s, v: replace(s, deadlines=(*s.deadlines, *v)),
    "notify": lambda s, v: replace(s, notify=(*s.notify, v)),
    "template": lambda s, v: replace(s, templates=(*s.templates, v)),
    "note": lambda s, v: replace(s, notes=(*s.notes, v)),
    "spam": lambda s, v: replace(s, spam=bool(v)),
    "stop": lambda s, v: s,  # ends the list: see ``evaluate``
}


def _applied(state: TicketState, action: Action) -> TicketState:
    return ACTION_EFFECTS[action.kind](state, action.value)


def _diff(old: TicketState, new: TicketState) -> list[Change]:
    found = []
    for name in TicketState.__dataclass_fields__:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            found.append(Change(name, before, after))
    return found


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(value)) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if value == "" else str(value)

