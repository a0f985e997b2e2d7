"""A ticket's SLA clock after rules ran: the policy, which deadlines to write, pauses.

Pure. ``plan_sla`` says what changes; the caller writes it. The clock stops while the
ticket is in one of the policy's ``pause_on`` statuses (pending = waiting on the customer);
when it leaves, every deadline still ahead moves later by the business time it was stopped.
A change of policy (urgency, tier or a rule changed) recomputes the deadlines: first
response and resolution from when the ticket started, plus the time the clock was stopped.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailhelpdesk.domain.sla import TARGETS, SlaPolicy, format_duration
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.sla.calendar import BusinessCalendar
from mailhelpdesk.sla.deadlines import Deadline, SlaRules, add_time, choose_policy, compute_deadlines, policy_calendar

# Targets counted from when the ticket started; the others from the latest message.
_FROM_START = ("first_response", "resolution")
# Targets an event restarts (from now) or meets (cleared), when the policy stays the same.
_RESTARTS = {"customer_replied": ("next_response",), "agent_replied": ("update_every",)}
_MEETS = {"agent_replied": ("first_response", "next_response")}


@dataclass(frozen=True, slots=True)
class SlaTicket:
    """The stored SLA side of an existing ticket."""

    policy: str
    created_at: datetime
    paused_at: datetime | None
    paused: timedelta
    dues: dict[str, datetime | None]


@dataclass(frozen=True, slots=True)
class ClockChange:
    kind: str  # "sla.paused" or "sla.resumed"
    paused_at: datetime | None  # the new value
    paused: timedelta  # total stopped so far
    stopped: timedelta = timedelta(0)  # on resume: how long this pause was, in the clock's time
    since: datetime | None = None  # on resume: deadlines after this moment move later by ``stopped``


@dataclass(frozen=True, slots=True)
class SlaPlan:
    policy: SlaPolicy | None
    reason: str
    deadlines: tuple[Deadline, ...]  # the policy's deadlines as computed now, for the record
    writes: dict[str, Deadline | None] = field(default_factory=dict)  # target → new deadline; None = met
    policy_changed: bool = False
    clock: ClockChange | None = None
    calendar: BusinessCalendar | None = None

    def shifted(self, due: datetime) -> datetime:
        """A stored deadline after a resume (unchanged if it was already past when the clock stopped)."""
        clock = self.clock
        if clock is None or clock.since is None or due <= clock.since or not clock.stopped:
            return due
        return add_time(self.calendar, due, clock.stopped)


def plan_sla(ruleset: SlaRules, event: str, state: TicketState, tier: str, at: datetime,
             stored: SlaTicket | None) -> SlaPlan:
    """What the SLA clock does after ``event``: ``stored`` is None for a new ticket."""
    policy, reason = choose_policy(ruleset, state, tier)
    calendar = policy_calendar(ruleset, policy) if policy else None
    if policy is None:
        writes: dict[str, Deadline | None] = {t: None for t in TARGETS} if stored and stored.policy else {}
        return SlaPlan(None, reason, (), writes, bool(stored and stored.policy), _clock(None, None, state, stored, at))
    if stored is None:
        deadlines = compute_deadlines(ruleset, policy, state, at)
        return SlaPlan(policy, reason, deadlines, {d.target: d for d in deadlines}, True,
                       _clock(policy, calendar, state, None, at), calendar)
    if policy.name != stored.policy:
        return _recomputed(ruleset, event, policy, reason, (state, at), stored, calendar)
    deadlines = compute_deadlines(ruleset, policy, state, at)
    return SlaPlan(policy, reason, deadlines, _event_writes(event, state, deadlines), False,
                   _clock(policy, calendar, state, stored, at), calendar)


def _recomputed(ruleset: SlaRules, event: str, policy: SlaPolicy, reason: str, moment: tuple[TicketState, datetime],
                stored: SlaTicket, calendar: BusinessCalendar | None) -> SlaPlan:
    state, at = moment
    starts = {t: stored.created_at for t in _FROM_START}
    computed = compute_deadlines(ruleset, policy, state, at, starts)
    deadlines = tuple(_after_pauses(d, calendar, stored.paused) if d.target in _FROM_START else d for d in computed)
    by_target = {d.target: d for d in deadlines}
    met = _met(ruleset, stored) | set(_MEETS.get(event, ()))
    writes = {t: None if t in met else by_target.get(t) for t in TARGETS}
    return SlaPlan(policy, reason, deadlines, writes, True, _clock(policy, calendar, state, stored, at), calendar)


def _met(ruleset: SlaRules, stored: SlaTicket) -> set[str]:
    """Targets the old policy had whose deadline was cleared: they stay met under the new one."""
    old = next((p for p in ruleset.sla.policies if p.name == stored.policy), None)
    return {t for t in old.targets if stored.dues.get(t) is None} if old else set()


def _event_writes(event: str, state: TicketState, deadlines: tuple[Deadline, ...]) -> dict[str, Deadline | None]:
    by_target = {d.target: d for d in deadlines}
    writes: dict[str, Deadline | None] = {t: None for t in _MEETS.get(event, ())}
    ruled = {change.target for change in state.deadlines}
    writes.update({t: by_target[t] for t in (*_RESTARTS.get(event, ()), *ruled) if t in by_target})
    return writes


def _after_pauses(deadline: Deadline, calendar: BusinessCalendar | None, paused: timedelta) -> Deadline:
    if not paused:
        return deadline
    return Deadline(deadline.target, add_time(calendar, deadline.due, paused),
                    f"{deadline.how}, plus {format_duration(paused)} stopped",
                    add_time(calendar, deadline.warn, paused) if deadline.warn else None)


def _clock(policy: SlaPolicy | None, calendar: BusinessCalendar | None, state: TicketState,
           stored: SlaTicket | None, at: datetime) -> ClockChange | None:
    """Stop the clock on entering a pausing status; restart it on leaving one."""
    paused_at = stored.paused_at if stored else None
    total = stored.paused if stored else timedelta(0)
    pausing = policy is not None and state.status in policy.pause_on
    if pausing and paused_at is None:
        return ClockChange("sla.paused", at, total)
    if paused_at is not None and not pausing:
        stopped = _stopped(calendar, paused_at, at)
        return ClockChange("sla.resumed", None, total + stopped, stopped, paused_at)
    return None


def _stopped(calendar: BusinessCalendar | None, start: datetime, end: datetime) -> timedelta:
    if end <= start:
        return timedelta(0)
    return calendar.between(start, end) if calendar else end - start
