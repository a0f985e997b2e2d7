"""Who changes a ticket, and when: every action of the ticket service carries both."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ActorKind = Literal["customer", "agent", "rule", "timer", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    address: str = ""  # the customer's or agent's address, lower case; '' for the others

    def __str__(self) -> str:
        """How events name the actor: ``agent:anna@example.com``, ``timer``."""
        return f"{self.kind}:{self.address}" if self.address else self.kind

    @staticmethod
    def agent(address: str) -> "Actor":
        return Actor("agent", address.lower())


SYSTEM = Actor("system")
TIMER = Actor("timer")


@dataclass(frozen=True, slots=True)
class Moment:
    """``at``: when it happened (a mail's date), what deadlines count from; ``now``: the clock of
    the action (wall time, ``timers --at``, a replay's arrival time), what events carry."""

    at: datetime
    now: datetime

    @staticmethod
    def of(now: datetime) -> "Moment":
        return Moment(now, now)
