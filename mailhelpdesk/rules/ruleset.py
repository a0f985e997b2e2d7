"""The whole rules file: calendars, lines, teams, SLA policies, companies and the ordered rules.

    rules:
      - name: VIP mail is urgent
        on: ticket_created           # or a list; timed: {pending_for: 3d}, {no_update_for: 2d}
        when: {company_tier: vip}    # see conditions.py; omitted: always
        then: {urgency: high, line: 2}

``load_rules`` reads everything and returns either a ``RuleSet`` or every problem found,
each as ``file:line:column: message``.
"""

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import yaml

from mailhelpdesk.domain.sla import SlaSection, format_duration
from mailhelpdesk.rules.actions import Action, Names, read_then
from mailhelpdesk.rules.agents import Agent, merge_agents, read_agents
from mailhelpdesk.rules.calendars import read_calendars
from mailhelpdesk.rules.companies import CompanySeed, read_companies
from mailhelpdesk.rules.conditions import AllOf, Condition, read_when
from mailhelpdesk.rules.replies import Replies, read_replies
from mailhelpdesk.rules.sla import read_sla
from mailhelpdesk.rules.source import Problem, Reader, compose_file
from mailhelpdesk.rules.teams import Line, Team, read_lines, read_teams
from mailhelpdesk.rules.template_names import known_templates
from mailhelpdesk.sla.calendar import BusinessCalendar

EVENTS = ("ticket_created", "customer_replied", "agent_replied", "status_changed", "sla_warning", "sla_breached")
TIMED_EVENTS = ("pending_for", "no_update_for")
SECTIONS = ("calendars", "lines", "teams", "agents", "sla", "companies", "replies", "rules")
_RULE_FIELDS = ("name", "on", "when", "then")


@dataclass(frozen=True, slots=True)
class Trigger:
    event: str
    after: timedelta | None = None  # for pending_for / no_update_for

    @property
    def label(self) -> str:
        """The duration as written for a timed trigger ("5d"), '' for an event."""
        return format_duration(self.after) if self.after is not None else ""

    def __str__(self) -> str:
        return f"{self.event} {self.label}" if self.after is not None else self.event


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    triggers: tuple[Trigger, ...]
    when: Condition
    actions: tuple[Action, ...]
    line: int  # where the rule starts in the file, for explanations

    @property
    def stops(self) -> bool:
        return any(a.kind == "stop" and a.value is True for a in self.actions)

    @property
    def unconditional(self) -> bool:
        return isinstance(self.when, AllOf) and not self.when.parts


@dataclass(frozen=True, slots=True)
class RuleSet:
    path: Path
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    lines: dict[int, Line] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    sla: SlaSection = field(default_factory=lambda: SlaSection("", ()))
    companies: tuple[CompanySeed, ...] = ()
    rules: tuple[Rule, ...] = ()
    sources: tuple[Path, ...] = ()  # every file read: the rules file and those it names
    replies: Replies = field(default_factory=Replies)
    agents: dict[str, Agent] = field(default_factory=dict)  # by address, lower case
    # Their domains are ours, never a customer company: asked for every address of every mail.
    agent_domains: frozenset[str] = frozenset()

    @property
    def sla_calendar(self) -> BusinessCalendar | None:
        """The calendar named in ``sla.calendar``: local times and business hours of conditions."""
        return self.calendars.get(self.sla.calendar)

    def agent(self, address: str) -> Agent | None:
        return self.agents.get(address.lower())

    def is_agent(self, address: str) -> bool:
        """A declared agent or team member: mail from them on a ticket is an agent's reply."""
        return address.lower() in self.agents

    def agent_lines(self, address: str) -> set[int]:
        """The support lines of an agent's teams."""
        agent = self.agent(address)
        return {self.teams[t].line for t in agent.teams if t in self.teams} if agent else set()

    def writes_to_customers(self, address: str) -> bool:
        """Whether an agent's replies go to customers: one of their teams is on a line that does."""
        lines = self.agent_lines(address)
        return not lines or any(self.lines[n].writes_to_customers for n in lines if n in self.lines)

    def rules_for(self, event: str) -> list[Rule]:
        return [r for r in self.rules if any(t.event == event for t in r.triggers)]

    def timed_triggers(self) -> list[Trigger]:
        """The distinct ``pending_for`` / ``no_update_for`` triggers, for the timer job."""
        return list(dict.fromkeys(t for r in self.rules for t in r.triggers if t.after is not None))

    def for_trigger(self, trigger: Trigger) -> "RuleSet":
        """These rules with only the rules of one timed trigger (and ``status_changed``'s) listening."""
        kept = tuple(r for r in self.rules if trigger in r.triggers or any(t.event == "status_changed"
                                                                           for t in r.triggers))
        return replace(self, rules=tuple(_only(r, trigger) for r in kept))

    def summary(self) -> str:
        counts = (("calendar", len(self.calendars)), ("team", len(self.teams)),
                  ("SLA policy", len(self.sla.policies)), ("company", len(self.companies)), ("rule", len(self.rules)))
        return ", ".join(f"{n} {name if n == 1 else _plural(name)}" for name, n in counts)


def _plural(name: str) -> str:
    return {"SLA policy": "SLA policies", "company": "companies"}.get(name, name + "s")


def _only(rule: Rule, trigger: Trigger) -> Rule:
    """The rule without its other timed triggers: ``pending_for 5d`` must not run ``pending_for 10d`` rules."""
    triggers = tuple(t for t in rule.triggers if t == trigger or t.after is None)
    return rule if triggers == rule.triggers else replace(rule, triggers=triggers)


@dataclass(frozen=True, slots=True)
class LoadResult:
    rules: RuleSet | None
    problems: tuple[Problem, ...]


def load_rules(path: Path, templates_dir: Path | None = None) -> LoadResult:
    """``templates_dir``: the admin's templates (default ``templates/`` next to the file), for names."""
    reader = Reader(path)
    root = compose_file(path, reader)
    if root is None and not reader.problems:
        return LoadResult(RuleSet(path), ())  # an empty file: no rules
    sections = reader.mapping(root, "the rules file", SECTIONS) if root is not None else None
    if sections is None:
        return LoadResult(None, tuple(reader.problems))
    ruleset = _read(reader, path, sections, templates_dir or path.parent / "templates")
    return LoadResult(None if reader.problems else ruleset, tuple(reader.problems))


def _read(reader: Reader, path: Path, sections: dict[str, yaml.Node], templates_dir: Path) -> RuleSet:
    calendars = read_calendars(reader, sections["calendars"]) if "calendars" in sections else {}
    teams = read_teams(reader, sections.get("teams"))
    declared = read_agents(reader, sections.get("agents"), teams)
    agents, teams = merge_agents(reader, sections.get("teams"), declared, teams)
    sla = read_sla(reader, sections.get("sla"), set(calendars))
    names = Names(frozenset(teams), frozenset(p.name for p in sla.policies), known_templates(templates_dir))
    rules = _rules(reader, sections.get("rules"), names)
    companies = tuple(read_companies(reader, sections.get("companies")))
    return RuleSet(path, calendars, read_lines(reader, sections.get("lines")), teams, sla, companies, rules,
                   (path, *reader.included), read_replies(reader, sections.get("replies")), agents,
                   frozenset(a.rpartition("@")[2] for a in agents))


def _rules(reader: Reader, node: yaml.Node | None, names: Names) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for item in reader.sequence(node, "rules") if node is not None else []:
        rule = _rule(reader, item, names, len(rules) + 1)
        if rule is not None:
            _check_reachable(reader, item, rule, rules)
            rules.append(rule)
    return tuple(rules)


def _rule(reader: Reader, node: yaml.Node, names: Names, number: int) -> Rule | None:
    fields = reader.mapping(node, f"rule {number}", _RULE_FIELDS, required=("name", "on", "then"))
    if fields is None:
        return None
    name = reader.string(fields["name"], "rule name") if "name" in fields else None
    label = f"rule {name!r}" if name else f"rule {number}"
    triggers = _triggers(reader, fields["on"]) if "on" in fields else ()
    when = read_when(reader, fields.get("when"), f"when of {label}")
    actions = read_then(reader, fields.get("then"), label, names) if "then" in fields else ()
    return Rule(name or f"rule {number}", triggers, when, actions, node.start_mark.line + 1)


def _triggers(reader: Reader, node: yaml.Node) -> tuple[Trigger, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    found = []
    for item in items:
        if isinstance(item, yaml.MappingNode):
            for event, value in (reader.mapping(item, "a timed trigger", TIMED_EVENTS) or {}).items():
                after = reader.duration(value, event)
                if after is not None:
                    found.append(Trigger(event, after))
        elif (name := reader.choice(item, "on", EVENTS)) is not None:
            found.append(Trigger(name))
    if not found and not reader.problems:
        reader.error(node, "a rule needs at least one event in 'on'")
    return tuple(found)


def _check_reachable(reader: Reader, node: yaml.Node, rule: Rule, earlier: list[Rule]) -> None:
    """A rule after an unconditional ``stop`` on all of its events can never run."""
    blocked = {t for r in earlier if r.stops and r.unconditional for t in r.triggers}
    if rule.triggers and all(t in blocked for t in rule.triggers):
        stopper = next(r for r in earlier if r.stops and r.unconditional and set(r.triggers) & set(rule.triggers))
        reader.error(node, f"rule {rule.name!r} can never run: rule {stopper.name!r} stops every "
                           f"{', '.join(str(t) for t in rule.triggers)} before it")
