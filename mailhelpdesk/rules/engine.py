"""Running the rules of one event over a ticket's state, recording why each change happened.

Pure: no database, no clock. The caller supplies the facts (what conditions look at) and the
ticket's current state, and gets the new state plus a ``Decision`` that explains it: which rules
fired with the values they matched, every change as old → new, the rules that nearly fired
(some but not all of their conditions held), and the rule that stopped the list.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, ne
from typing import Any, Protocol

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.rules.actions import Action
from mailhelpdesk.rules.conditions import AllOf, Condition, Facts, Hit
from mailhelpdesk.rules.ruleset import Rule, RuleSet


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
    shown: TicketState | None = None  # the state ``facts`` shows; with_state only when it changed
    for rule, single, conjuncts, described, stops in _plan(ruleset, event):
        if current is not shown:
            facts, shown = facts.with_state(current), current
        if single is not None:  # the usual rule, with one condition: tested without its ``all``
            hits, miss = single.test(facts), None
        else:
            hits, miss = _test(rule, conjuncts, described, facts)
        if hits is None:
            if miss is not None:
                near.append(miss)
            continue
        current, changes = apply(current, rule.actions)
        fired.append(Fired(rule, tuple(hits), tuple(changes)))
        if stops:
            return Decision(event, state, current, tuple(fired), tuple(near), rule.name)
    return Decision(event, state, current, tuple(fired), tuple(near))


# A rule; its only condition, if it has one; all its conditions, and as near misses show them; whether it stops.
_Step = tuple[Rule, Condition | None, tuple[Condition, ...], tuple[str, ...], bool]

# The steps of each rule set and event, prepared once rather than for every mail. Keyed by the
# rule set's identity (it is immutable, and not hashable); each entry holds its rule set, so the
# id cannot be reused while the entry exists.
_PLANS: dict[tuple[int, str], tuple[RuleSet, tuple[_Step, ...]]] = {}
_PLANS_KEPT = 32


def _plan(ruleset: RuleSet, event: str) -> tuple[_Step, ...]:
    cached = _PLANS.get((id(ruleset), event))
    if cached is not None and cached[0] is ruleset:
        return cached[1]
    if len(_PLANS) >= _PLANS_KEPT:
        _PLANS.clear()  # rule sets are replaced rarely (a reload); old ones need not stay alive
    steps = tuple(_step(rule) for rule in ruleset.rules_for(event))
    _PLANS[(id(ruleset), event)] = (ruleset, steps)
    return steps


def _step(rule: Rule) -> _Step:
    conjuncts = _conjuncts(rule.when)
    single = conjuncts[0] if len(conjuncts) == 1 else None
    return rule, single, conjuncts, tuple(c.describe() for c in conjuncts), rule.stops


def _test(rule: Rule, conjuncts: tuple[Condition, ...], described: tuple[str, ...],
          facts: Facts) -> tuple[list[Hit] | None, NearMiss | None]:
    """The rule's hits if it holds, else None and maybe a near miss.

    A rule of several conditions has each tested once, for both answers: the near miss needs
    to know about every condition, not only up to the first that failed.
    """
    hits: list[Hit] = []
    failed: list[str] = []
    for part, description in zip(conjuncts, described, strict=True):
        found = part.test(facts)
        if found is None:
            failed.append(description)
        elif not failed:
            hits.extend(found)
    if not failed:
        return hits, None
    return None, _near_miss(rule, len(conjuncts), failed)


def _near_miss(rule: Rule, total: int, failed: list[str]) -> NearMiss | None:
    held = total - len(failed)
    return NearMiss(rule, held, total, tuple(failed)) if held else None


def _conjuncts(condition: Condition) -> tuple[Condition, ...]:
    """The conditions that must all hold, with nested ``all`` flattened."""
    if not isinstance(condition, AllOf):
        return (condition,)
    return tuple(c for part in condition.parts for c in _conjuncts(part))


def apply(state: TicketState, actions: tuple[Action, ...]) -> tuple[TicketState, list[Change]]:
    changes: list[Change] = []
    for action in actions:
        new = _applied(state, action)
        changes.extend(_diff(state, new))
        state = new
    return state, changes


# Every field in one call, by position: these run for every action of every rule that fires.
_STATE_FIELDS = tuple(TicketState.__dataclass_fields__)
_state_values = attrgetter(*_STATE_FIELDS)
_FIELD_INDEX = {name: index for index, name in enumerate(_STATE_FIELDS)}


def _replace(state: TicketState, **changes: Any) -> TicketState:
    """``dataclasses.replace`` for a TicketState, without its per-call look at the fields."""
    values = list(_state_values(state))
    for name, value in changes.items():
        values[_FIELD_INDEX[name]] = value
    return TicketState(*values)


# What each action does to the state, by name (actions.py parses them; this applies them).
ACTION_EFFECTS: dict[str, Callable[[TicketState, Any], TicketState]] = {
    "urgency": lambda s, v: _replace(s, urgency=v),
    "line": lambda s, v: _replace(s, line=v),
    "team": lambda s, v: _replace(s, team=v),
    "assignee": lambda s, v: _replace(s, assignee=v),
    "status": lambda s, v: _replace(s, status=v),
    "sla": lambda s, v: _replace(s, sla_policy=v),
    "escalate": lambda s, v: _replace(s, line=min(s.line + 1, 4)) if v else s,
    "tags": lambda s, v: _replace(s, tags=s.tags | frozenset(v)),
    "deadline": lambda s, v: _replace(s, deadlines=(*s.deadlines, *v)),
    "notify": lambda s, v: _replace(s, notify=(*s.notify, v)),
    "template": lambda s, v: _replace(s, templates=(*s.templates, v)),
    "note": lambda s, v: _replace(s, notes=(*s.notes, v)),
    "spam": lambda s, v: _replace(s, spam=bool(v)),
    "stop": lambda s, v: s,  # ends the list: see ``evaluate``
}


def _applied(state: TicketState, action: Action) -> TicketState:
    return ACTION_EFFECTS[action.kind](state, action.value)


def _diff(old: TicketState, new: TicketState) -> list[Change]:
    before, after = _state_values(old), _state_values(new)
    if before == after:
        return []
    differ = compress(enumerate(_STATE_FIELDS), map(ne, before, after))  # compared without a Python loop
    return [Change(name, before[index], after[index]) for index, name in differ]


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(value)) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if value == "" else str(value)

