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
from mailhelpdesk.store.repository import CompanyRef, Repository


@dataclass(frozen=True, slots=True)
class CompanyResolver:
    repo: Repository
    freemail: FreemailList
    auto_create: bool
    our_domains: Callable[[], frozenset[str]] = frozenset  # agents' domains

    async def resolve(self, address: str) -> tuple[CompanyRef | None, str]:
        """The company of an address and a short reason for the decision."""
        domain = domain_of(address)
        if self.freemail.contains(domain):
            return None, f"free-mail domain {domain}"
        if domain in self.our_domains():  # a customer who copies an agent makes no company of us
            return None, f"our own domain {domain}"
        company = await self.repo.company_for_domains(parent_domains(domain))
        if company is not None:
            return company, f"domain {domain}"
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
        company, reason = await self.companies.resolve(email)
        contact_id = await self.repo.contact(email, name, company.id if company else None)
        ctx.sender = SenderInfo(email, name, contact_id, company.id if company else None, reason,
                                company.name if company else "", company.tier if company else "")
        return CONTINUE
