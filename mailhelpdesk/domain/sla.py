"""SLA policies as the rules file defines them: targets by urgency, tier and line."""

from dataclasses import dataclass
from datetime import timedelta

TARGETS = ("first_response", "next_response", "update_every", "resolution")
# The ticket column holding each target's due date.
DUE_COLUMNS = {"first_response": "first_response_due", "next_response": "next_response_due",
               "update_every": "update_due", "resolution": "resolution_due"}


@dataclass(frozen=True, slots=True)
class WarnAt:
    """When to warn before a deadline: a share of the target left, or a fixed time before it."""

    percent: int | None = None
    before: timedelta | None = None

    def lead(self, target: timedelta) -> timedelta:
        if self.before is not None:
            return min(self.before, target)
        return target * (self.percent or 0) // 100


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    name: str
    tiers: frozenset[str]  # empty: any tier
    urgencies: frozenset[str]  # empty: any urgency
    lines: frozenset[int]  # empty: any support line
    targets: dict[str, timedelta]  # keys from TARGETS
    business_time: bool
    calendar: str
    pause_on: frozenset[str]
    warning: WarnAt

    def fits(self, tier: str, urgency: str, line: int) -> bool:
        return ((not self.tiers or tier in self.tiers) and (not self.urgencies or urgency in self.urgencies)
                and (not self.lines or line in self.lines))


@dataclass(frozen=True, slots=True)
class SlaSection:
    calendar: str
    policies: tuple[SlaPolicy, ...]

    def policy_for(self, tier: str, urgency: str, line: int) -> SlaPolicy | None:
        return next((p for p in self.policies if p.fits(tier, urgency, line)), None)


DEFAULT_WARNING = WarnAt(percent=20)


def format_duration(amount: timedelta) -> str:
    """The shortest text ``parse_duration`` reads back as ``amount`` (whole minutes)."""
    minutes = int(amount.total_seconds()) // 60
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0m"
