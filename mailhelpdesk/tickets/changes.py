"""The ticket fields an agent (or admin) asks to change, checked against the rules file."""

from dataclasses import dataclass, replace

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import TicketStatus, Urgency
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.rules.source import suggestion
from mailhelpdesk.rules.teams import LINE_NUMBERS

SETTABLE_STATUSES = tuple(s.value for s in TicketStatus if s is not TicketStatus.NEW)
URGENCIES = tuple(u.value for u in Urgency)


@dataclass(frozen=True, slots=True)
class FieldChanges:
    """None: leave as it is. ``assignee`` '' unassigns; ``tags``: "+x" (or "x") adds, "-y" removes."""

    status: str | None = None
    urgency: str | None = None
    line: int | None = None
    team: str | None = None
    assignee: str | None = None
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.status, self.urgency, self.line, self.team, self.assignee)) \
            or bool(self.tags)

    def problems(self, ruleset: RuleSet) -> list[str]:
        """Why these changes cannot be made under ``ruleset`` (empty: they can)."""
        found = []
        if self.status is not None and self.status not in SETTABLE_STATUSES:
            found.append(f"unknown status {self.status!r} ({', '.join(SETTABLE_STATUSES)})")
        if self.urgency is not None and self.urgency not in URGENCIES:
            found.append(f"unknown urgency {self.urgency!r} ({', '.join(URGENCIES)})")
        if self.line is not None and self.line not in LINE_NUMBERS:
            found.append(f"support lines are numbered 1 to 4, not {self.line}")
        if self.team is not None and self.team and self.team not in ruleset.teams:
            found.append(f"unknown team {self.team!r}{suggestion(self.team, ruleset.teams)}"
                         f" (teams: {', '.join(sorted(ruleset.teams)) or 'none'})")
        if self.assignee and not ruleset.is_agent(self.assignee):
            found.append(f"{self.assignee} is not a declared agent")
        found += [f"not a tag: {tag!r}" for tag in self.tags if not _tag_name(tag)]
        return found

    def applied(self, state: TicketState, ruleset: RuleSet) -> TicketState:
        """``state`` with these changes; a new team brings its line unless a line is given too."""
        changed = replace(state, **{name: getattr(self, name) for name in ("status", "urgency", "line", "assignee")
                                    if getattr(self, name) is not None})
        if self.team is not None:
            team = ruleset.teams.get(self.team)
            line = self.line if self.line is not None else team.line if team else changed.line
            changed = replace(changed, team=self.team, line=line)
        if self.assignee is not None:
            changed = replace(changed, assignee=self.assignee.lower())
        added = {_tag_name(t) for t in self.tags if not t.startswith("-")}
        removed = {_tag_name(t) for t in self.tags if t.startswith("-")}
        return replace(changed, tags=(changed.tags | added) - removed) if self.tags else changed


def _tag_name(tag: str) -> str:
    return tag.strip().lstrip("+-").strip()[:50]
