"""Which SLA policy applies to a ticket, and its deadlines from a moment on."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from mailhelpdesk.domain.sla import SlaPolicy, SlaSection
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.sla.calendar import BusinessCalendar


class SlaRules(Protocol):
    """What the SLA clock reads of the rules file (``rules.ruleset.RuleSet`` is one)."""

    @property
    def sla(self) -> SlaSection: ...

    @property
    def calendars(self) -> Mapping[str, BusinessCalendar]: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    target: str
    due: datetime
    how: str  # "2h business time (office)", "set by rule X"…
    warn: datetime | None = None  # when the SLA warning is due



def choose_policy(ruleset: SlaRules, state: TicketState, tier: str) -> tuple[SlaPolicy | None, str]:
    if state.sla_policy:
        chosen = next((p for p in ruleset.sla.policies if p.name == state.sla_policy), None)
        return chosen, f"set by a rule to {state.sla_policy!r}"
    policy = ruleset.sla.policy_for(tier, state.urgency, state.line)
    fitting = f"tier {tier or '-'!r}, urgency {state.urgency!r} and line {state.line}"
    if policy is None:
        return None, f"no policy fits {fitting}"
    return policy, f"first policy for {fitting}"


def policy_calendar(ruleset: SlaRules, policy: SlaPolicy) -> BusinessCalendar | None:
    """The calendar the policy's clock runs in; ``None`` for plain clock time."""
    return ruleset.calendars.get(policy.calendar) if policy.business_time else None


def compute_deadlines(ruleset: SlaRules, policy: SlaPolicy, state: TicketState, at: datetime,
                      starts: dict[str, datetime] | None = None) -> tuple[Deadline, ...]:
    """Deadlines counted from ``at``, or per target from ``starts`` (a recomputation keeps
    first response and resolution running from when the ticket started)."""
    calendar = policy_calendar(ruleset, policy)
    kind = f"business time ({policy.calendar})" if calendar else "clock time"
    spans = {t: (starts.get(t, at) if starts else at, amount, f"{_duration(amount)} {kind}")
             for t, amount in policy.targets.items()}
    for change in state.deadlines:
        shifted = change.shift and change.target in spans
        start, base = spans[change.target][:2] if shifted else (at, timedelta(0))
        spans[change.target] = (start, base + change.amount, f"{'shifted' if shifted else 'set'} by a rule: "
                                f"{'+' if change.shift else ''}{_duration(change.amount)}")
    due = [Deadline(t, add_time(calendar, start, amount), how,
                    add_time(calendar, start, amount - policy.warning.lead(amount)))
           for t, (start, amount, how) in spans.items()]
    return tuple(sorted(due, key=lambda d: d.due))


def add_time(calendar: BusinessCalendar | None, start: datetime, amount: timedelta) -> datetime:
    """``amount`` after ``start`` in the clock's time: business time of ``calendar``, or plain time."""
    return calendar.add(start, amount) if calendar is not None else start + amount


def _duration(amount: timedelta) -> str:
    minutes = int(amount.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return f"{hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
