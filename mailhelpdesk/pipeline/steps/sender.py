"""Identify the sender: a contact, and the company of their domain (never a free-mail one)."""

from collections.abc import Callable
from dataclasses import dataclass

from mailhelpdesk.companies.domains import (
    FreemailList,
    domain_of,
    is_plausible_domain,
    organisation_domain,
    parent_domains,
)
from mailhelpdesk.domain.outcomes import CONTINUE, Hold, Outcome
from mailhelpdesk.pipeline.context import MailContext, SenderInfo
from mailhelpdesk.rules.facts import guess_language
from mailhelpdesk.store.repository import CompanyRef, Repository


@dataclass(frozen=True, slots=True)
class FoundContact:
    id: int
    company: CompanyRef | None
    reason: str  # why that company (or none)
    language: str  # the contact's language, '' if not known yet


@dataclass(frozen=True, slots=True)
class CompanyResolver:
    repo: Repository
    freemail: FreemailList
    auto_create: bool
    our_domains: Callable[[], frozenset[str]] = frozenset  # agents' domains

    async def contact(self, address: str, name: str, language: Callable[[], str] | None = None) -> "FoundContact":
        """The contact of an address (created or completed), its company and a short reason for the
        company; both looked up in one query. ``language`` guesses a new contact's language from its
        first mail (called only for a new contact)."""
        domain = domain_of(address)
        excluded = self._excluded(domain)
        existing, company = await self.repo.contact_and_company(address, [] if excluded else parent_domains(domain))
        if excluded:
            reason = excluded
        elif company is not None:
            reason = f"domain {domain}"
        else:
            company, reason = await self._unknown(domain)
        first_language = language() if existing is None and language is not None else ""
        row = await self.repo.write_contact(existing, address, name, company.id if company else None, first_language)
        return FoundContact(row[0], company, reason, row[3])

    def _excluded(self, domain: str) -> str:
        """Why a domain never has a company ('' if it may)."""
        if self.freemail.contains(domain):
            return f"free-mail domain {domain}"
        if domain in self.our_domains():  # a customer who copies an agent makes no company of us
            return f"our own domain {domain}"
        return ""

    async def _unknown(self, domain: str) -> tuple[CompanyRef | None, str]:
        """A domain no company owns: its organisation's company, a new one, or none."""
        if not self.auto_create or not is_plausible_domain(domain):
            return None, f"no company for {domain}"
        org = organisation_domain(domain)
        company = await self.repo.company_for_domains([org])
        if company is None:
            company = await self.repo.create_company(org, [org], "standard", auto=True)
            return company, f"created for new domain {org}"
        return company, f"domain {org}"


@dataclass(frozen=True, slots=True)
class SenderStep:
    repo: Repository
    companies: CompanyResolver
    name: str = "sender"

    async def run(self, ctx: MailContext) -> Outcome:
        mail = ctx.parsed
        name, email = mail.sender or ("", "")
        if ctx.is_automatic:  # a mailer daemon is not a customer: no contact, no company
            ctx.sender = SenderInfo(email, name, None, None, "automatic message")
            return CONTINUE
        if not email:  # checked here, not at parse: a bounce from "<>" still reaches its ticket
            return Hold("no sender address (From, Sender, Reply-To and Return-Path are missing or invalid)")
        agent = ctx.agent
        if agent is not None and (agent.kind != "direct" or (ctx.thread and ctx.thread.ticket)):
            # Agents' domains are ours: an agent is never a contact, nor their domain a company.
            ctx.sender = SenderInfo(email, name, None, None, "agent")
            return CONTINUE
        if agent is not None:  # an agent wrote to a customer with the desk copied: the ticket is theirs
            name, email = agent.customer
        found = await self.companies.contact(email, name, lambda: guess_language(f"{mail.subject}\n{mail.text}"))
        company = found.company
        ctx.sender = SenderInfo(email, name, found.id, company.id if company else None, found.reason,
                                company.name if company else "", company.tier if company else "", found.language)
        return CONTINUE
