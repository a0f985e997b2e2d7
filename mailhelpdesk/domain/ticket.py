"""The ticket fields rules may change: the state the rules engine, the SLA clock and the
ticket service all speak of."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class DeadlineChange:
    target: str  # one of sla.TARGETS
    amount: timedelta
    shift: bool  # +2h moves the current deadline; 4h sets it from now



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
