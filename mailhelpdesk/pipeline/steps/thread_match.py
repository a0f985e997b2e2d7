"""Find the ticket a message belongs to, in DESIGN's order of trust.

1. In-Reply-To / References against every stored Message-ID (and our signed ones);
2. the signed per-ticket reply address;
3. a ``[#1042]`` subject token, only from someone who belongs to that ticket;
4. same requester + same normalised subject with a reply prefix, ticket not closed, recent;
otherwise a new ticket.
"""

from dataclasses import dataclass
from datetime import timedelta

from mailhelpdesk.companies.domains import domain_of, parent_domains
from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.domain.types import ThreadSignal
from mailhelpdesk.mail.subjects import has_reply_prefix, normalize_subject, ticket_tokens
from mailhelpdesk.pipeline.context import MailContext, ThreadMatch, thread_ids
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.repository import Repository, TicketRef, first_ticket


@dataclass(frozen=True, slots=True)
class ThreadMatchStep:
    repo: Repository
    signer: Signer
    subject_match_days: int
    name: str = "thread_match"

    async def run(self, ctx: MailContext) -> Outcome:
        match = (
            await self._by_references(ctx)
            or await self._by_reply_address(ctx)
            or await self._by_subject_token(ctx)
            or await self._by_subject(ctx)
        )
        ctx.thread = match or ThreadMatch(None, ThreadSignal.NEW)
        if ctx.thread.ticket is None and ctx.is_automatic:
            kind = "bounce" if ctx.bounce else "auto-reply"
            return Ignore(f"{kind} not related to any ticket ({ctx.bounce or ctx.auto_reply})")
        return CONTINUE

    async def _by_references(self, ctx: MailContext) -> ThreadMatch | None:
        candidates = thread_ids(ctx.parsed)
        known = first_ticket(ctx.known_messages, candidates)  # looked up with the duplicate check
        if known is not None:
            return ThreadMatch(known[1], ThreadSignal.REFERENCES, f"<{known[0]}>")
        for message_id in candidates:
            number = self.signer.ticket_from_message_id(message_id)
            if number is not None and (ticket := await self.repo.live_ticket_ref(number)):
                return ThreadMatch(ticket, ThreadSignal.SIGNED_MESSAGE_ID, f"<{message_id}>")
        return None

    async def _by_reply_address(self, ctx: MailContext) -> ThreadMatch | None:
        mail = ctx.parsed
        recipients = [a for _, a in (*mail.to, *mail.cc)]
        recipients += [v.strip("<> ").lower() for v in mail.header_all("Delivered-To")]
        for address in recipients:
            number = self.signer.ticket_from_reply_address(address)
            if number is not None and (ticket := await self.repo.live_ticket_ref(number)):
                return ThreadMatch(ticket, ThreadSignal.REPLY_ADDRESS, address)
        return None

    async def _by_subject_token(self, ctx: MailContext) -> ThreadMatch | None:
        sender = ctx.parsed.sender[1] if ctx.parsed.sender else ""
        for number in ticket_tokens(ctx.parsed.subject):
            ticket = await self.repo.live_ticket_ref(number)
            if ticket is not None and await self._belongs(sender, ticket):
                return ThreadMatch(ticket, ThreadSignal.SUBJECT_TOKEN, f"[#{number}] from {sender}")
            if ticket is not None:
                ctx.notes.append(f"subject token [#{number}] ignored: {sender} does not belong to the ticket")
        return None

    async def _belongs(self, sender: str, ticket: TicketRef) -> bool:
        if sender == ticket.requester_email or sender in await self.repo.ticket_cc_emails(ticket.id):
            return True
        if ticket.company_id is None:
            return False
        company = await self.repo.company_for_domains(parent_domains(domain_of(sender)))
        return company is not None and company.id == ticket.company_id

    async def _by_subject(self, ctx: MailContext) -> ThreadMatch | None:
        mail = ctx.parsed
        if not has_reply_prefix(mail.subject) or mail.sender is None:
            return None  # a new mail that reuses an old subject is a new request
        normalized = normalize_subject(mail.subject)
        if not normalized:
            return None
        since = (mail.date or ctx.accepted_at) - timedelta(days=self.subject_match_days)
        ticket = await self.repo.recent_ticket_by_subject(mail.sender[1], normalized, since)
        if ticket is None:
            return None
        return ThreadMatch(ticket, ThreadSignal.SUBJECT_FALLBACK, f"requester and subject {normalized!r}")
