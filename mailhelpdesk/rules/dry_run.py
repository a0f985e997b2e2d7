"""``rules test``: what the rules would do with one mail as a new ticket, and why. No side effects.

The company comes from the rules file's ``companies`` (not the database), so a rule change
can be tried before anything is seeded or deployed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailhelpdesk.companies.domains import FreemailList, domain_of, parent_domains
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.pipeline.parse import ParsedMail
from mailhelpdesk.rules.engine import Decision, TicketState, evaluate
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.rules.sla import SlaPolicy
from mailhelpdesk.sla.calendar import BusinessCalendar


@dataclass(frozen=True, slots=True)
class Deadline:
    target: str
    due: datetime
    how: str  # "2h business time (office)", "set by rule X"…


@dataclass(frozen=True, slots=True)
class DryRun:
    mail: ParsedMail
    mailbox: str
    company: str
    tier: str
    at: datetime
    decision: Decision
    policy: SlaPolicy | None
    policy_reason: str
    deadlines: tuple[Deadline, ...]


def dry_run(ruleset: RuleSet, mail: ParsedMail, box: MailboxSettings, at: datetime,
            freemail: FreemailList) -> DryRun:
    company, tier = company_of(ruleset, mail.sender[1] if mail.sender else "", freemail)
    calendar = ruleset.calendars.get(ruleset.sla.calendar)
    start = TicketState(line=box.line, team=box.team)
    facts = MailFacts(mail, box.name, company, tier, start, at, calendar, created_at=at)
    decision = evaluate(ruleset, "ticket_created", facts, start)
    policy, reason = choose_policy(ruleset, decision.after, tier)
    deadlines = compute_deadlines(ruleset, policy, decision.after, at) if policy else ()
    return DryRun(mail, box.name, company, tier, at, decision, policy, reason, deadlines)


def company_of(ruleset: RuleSet, address: str, freemail: FreemailList) -> tuple[str, str]:
    domain = domain_of(address) if address else ""
    if not domain or freemail.contains(domain):
        return "", ""
    owners = {d: c for c in ruleset.companies for d in c.domains}
    for candidate in parent_domains(domain):
        if candidate in owners:
            return owners[candidate].name, owners[candidate].tier
    return "", ""


def choose_policy(ruleset: RuleSet, state: TicketState, tier: str) -> tuple[SlaPolicy | None, str]:
    if state.sla_policy:
        chosen = next((p for p in ruleset.sla.policies if p.name == state.sla_policy), None)
        return chosen, f"set by a rule to {state.sla_policy!r}"
    policy = ruleset.sla.policy_for(tier, state.urgency)
    if policy is None:
        return None, f"no policy fits tier {tier or '-'!r} and urgency {state.urgency!r}"
    return policy, f"first policy for tier {tier or '-'!r} and urgency {state.urgency!r}"


def compute_deadlines(ruleset: RuleSet, policy: SlaPolicy, state: TicketState, at: datetime) -> tuple[Deadline, ...]:
    calendar = ruleset.calendars.get(policy.calendar) if policy.business_time else None
    kind = f"business time ({policy.calendar})" if calendar else "clock time"
    due = {t: Deadline(t, _add(calendar, at, amount), f"{_duration(amount)} {kind}")
           for t, amount in policy.targets.items()}
    for change in state.deadlines:
        base = due[change.target].due if change.shift and change.target in due else at
        verb = "shifted" if change.shift and change.target in due else "set"
        due[change.target] = Deadline(change.target, _add(calendar, base, change.amount),
                                      f"{verb} by a rule: {'+' if change.shift else ''}{_duration(change.amount)}")
    return tuple(sorted(due.values(), key=lambda d: d.due))


def _add(calendar: BusinessCalendar | None, start: datetime, amount: timedelta) -> datetime:
    return calendar.add(start, amount) if calendar is not None else start + amount


def _duration(amount: timedelta) -> str:
    minutes = int(amount.total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return f"{hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
