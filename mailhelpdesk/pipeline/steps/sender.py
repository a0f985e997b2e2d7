"""Identify the sender: a contact, and the company of their domain (never a free-mail one)."""

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

    async def resolve(self, address: str) -> tuple[CompanyRef | None, str]:
        """The company of an address and a short reason for the decision."""
        domain = domain_of(address)
        if self.freemail.contains(domain):
            return None, f"free-mail domain {domain}"
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
        company, reason = await self.companies.resolve(email)
        contact_id = await self.repo.contact(email, name, company.id if company else None)
        ctx.sender = SenderInfo(email, name, contact_id, company.id if company else None, reason,
                                company.name if company else "", company.tier if company else "")
        return CONTINUE
