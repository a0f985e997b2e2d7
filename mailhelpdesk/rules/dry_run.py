"""``rules test``: what the rules would do with one mail as a new ticket, and why. No side effects.

The company comes from the rules file's ``companies`` (not the database), so a rule change
can be tried before anything is seeded or deployed.
"""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.companies.domains import FreemailList, domain_of, parent_domains
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.sla import SlaPolicy
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.rules.engine import Decision
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.result import RulesResult, run_rules
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.sla.deadlines import Deadline


@dataclass(frozen=True, slots=True)
class DryRun:
    mail: ParsedMail
    mailbox: str
    company: str
    tier: str
    at: datetime
    result: RulesResult

    @property
    def decision(self) -> Decision:
        """The ``ticket_created`` decision (``result`` also has ``status_changed``'s, if any)."""
        return self.result.decisions[0]

    @property
    def policy(self) -> SlaPolicy | None:
        return self.result.sla.policy

    @property
    def deadlines(self) -> tuple[Deadline, ...]:
        return self.result.sla.deadlines


def dry_run(ruleset: RuleSet, mail: ParsedMail, box: MailboxSettings, at: datetime,
            freemail: FreemailList) -> DryRun:
    company, tier = company_of(ruleset, mail.sender[1] if mail.sender else "", freemail)
    calendar = ruleset.sla_calendar
    start = TicketState(line=box.line, team=box.team)
    facts = MailFacts(mail, box.name, company, tier, start, at, calendar, created_at=at)
    return DryRun(mail, box.name, company, tier, at, run_rules(ruleset, "ticket_created", facts, start, tier, at))


def company_of(ruleset: RuleSet, address: str, freemail: FreemailList) -> tuple[str, str]:
    domain = domain_of(address) if address else ""
    if not domain or freemail.contains(domain):
        return "", ""
    owners = {d: c for c in ruleset.companies for d in c.domains}
    for candidate in parent_domains(domain):
        if candidate in owners:
            return owners[candidate].name, owners[candidate].tier
    return "", ""
