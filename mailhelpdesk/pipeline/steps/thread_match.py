"""Find the ticket a message belongs to, in DESIGN's order of trust.

1. In-Reply-To / References against every stored Message-ID (and our signed ones);
2. the signed per-ticket reply address;
3. a ``[#1042]`` subject token, only from someone who belongs to that ticket;
4. a reply stored before it that names it as its parent (it arrived late: IMAP order, imports);
5. a ``Re:``-style subject: the sender's own recent ticket of that subject, else the most recently
   active one of the sender's company (a colleague answering; never on a free-mail domain);
otherwise a new ticket.

Two kinds of match make a new ticket instead: a forward (``Fwd:``, ``WG:``, ``Пересл:`` …) of a
ticket's mail by someone who is not on that ticket is a new request, linked to it; and a weak
subject-only match (a generic subject such as "Problem" on a ticket quiet for a week, or with a
second ticket of that subject active the same day) is a new ticket flagged as a possible
duplicate, which an agent merges with one action.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailhelpdesk.companies.domains import FreemailList, domain_of, parent_domains
from mailhelpdesk.domain.outcomes import CONTINUE, Ignore, Outcome
from mailhelpdesk.domain.types import ThreadSignal
from mailhelpdesk.mail.subjects import has_reply_prefix, is_forward, is_generic, normalize_subject, ticket_tokens
from mailhelpdesk.pipeline.context import MailContext, ThreadMatch, thread_ids
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.repository import CompanyRef, Repository, TicketRef, first_ticket

# A generic subject ("Problem") matched on a ticket quiet for longer than this is only a guess.
FRESH_GENERIC = timedelta(days=7)
# Two tickets of the same generic subject active this close together: which one is answered is a guess.
AMBIGUOUS_GENERIC = timedelta(hours=24)
_FORWARDS_JOIN = frozenset((ThreadSignal.REPLY_ADDRESS,))  # the signed address was written to on purpose


@dataclass(frozen=True, slots=True)
class ThreadMatchStep:
    repo: Repository
    signer: Signer
    subject_match_days: int
    freemail: FreemailList
    name: str = "thread_match"

    async def run(self, ctx: MailContext) -> Outcome:
        match = (
            await self._by_references(ctx)
            or await self._by_reply_address(ctx)
            or await self._by_subject_token(ctx)
            or self._by_later_reply(ctx)
            or await self._by_subject(ctx)
        )
        if match is not None and not ctx.is_automatic:
            match = await self._unless_new_request(ctx, match)
            if match is None and ctx.forwarded_from is not None:  # a forward still follows its own reply
                match = self._by_later_reply(ctx)
        ctx.thread = match or ThreadMatch(None, ThreadSignal.NEW)
        if ctx.thread.ticket is None and ctx.is_automatic:
            kind = "bounce" if ctx.bounce else "auto-reply"
            return Ignore(f"{kind} not related to any ticket ({ctx.bounce or ctx.auto_reply})")
        return CONTINUE

    async def _unless_new_request(self, ctx: MailContext, match: ThreadMatch) -> ThreadMatch | None:
        """A forward by someone not on the ticket, or a weak subject match: a new ticket, linked."""
        assert match.ticket is not None
        sender = ctx.parsed.sender[1] if ctx.parsed.sender else ""
        if (is_forward(ctx.parsed.subject) and match.signal not in _FORWARDS_JOIN
                and not await self._on_ticket(sender, match.ticket)):
            ctx.forwarded_from = match.ticket
            ctx.notes.append(f"forward of #{match.ticket.number} by {sender or 'someone'} not on it: a new request")
            return None
        if match.confidence == "low":
            ctx.possible_duplicate = match.ticket
            ctx.notes.append(f"possible duplicate of #{match.ticket.number} ({match.detail})")
            return None
        return match

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

    @staticmethod
    def _by_later_reply(ctx: MailContext) -> ThreadMatch | None:
        """Looked up with the duplicate check; a synthesized ID was never named by anyone."""
        if ctx.later_reply is None or ctx.parsed.message_id_synthesized:
            return None
        message_id, reply = ctx.later_reply
        return ThreadMatch(reply.ticket, ThreadSignal.REFERENCED_BY, f"<{message_id}> replied to it")

    async def _on_ticket(self, sender: str, ticket: TicketRef) -> bool:
        return sender == ticket.requester_email or sender in await self.repo.ticket_cc_emails(ticket.id)

    async def _belongs(self, sender: str, ticket: TicketRef) -> bool:
        if await self._on_ticket(sender, ticket):
            return True
        company = await self._company_of(sender) if ticket.company_id is not None else None
        return company is not None and company.id == ticket.company_id

    async def _company_of(self, sender: str) -> CompanyRef | None:
        """The sender's company by domain; none for a free-mail address (its users share nothing)."""
        domain = domain_of(sender)
        if not domain or self.freemail.contains(domain):
            return None
        return await self.repo.company_for_domains(parent_domains(domain))

    async def _by_subject(self, ctx: MailContext) -> ThreadMatch | None:
        mail = ctx.parsed
        if not has_reply_prefix(mail.subject) or mail.sender is None:
            return None  # a new mail that reuses an old subject is a new request
        normalized = normalize_subject(mail.subject)
        when = mail.date or ctx.accepted_at
        since = when - timedelta(days=self.subject_match_days)
        own = await self.repo.tickets_by_subject(normalized, since, requester=mail.sender[1])
        if own:
            return _subject_match(own, normalized, when, "requester")
        company = None if is_forward(mail.subject) else await self._company_of(mail.sender[1])
        if company is None:
            return None
        theirs = await self.repo.tickets_by_subject(normalized, since, company_id=company.id)
        return _subject_match(theirs, normalized, when, f"colleague at {company.name}") if theirs else None


def _subject_match(found: list[tuple[TicketRef, datetime]], normalized: str, when: datetime,
                   who: str) -> ThreadMatch:
    """The most recently active candidate (people answer their latest request); weak when the
    subject is generic and the ticket has been quiet for a week, or another ticket of that subject
    was active within a day of it."""
    ticket, active = found[0]
    rival = len(found) > 1 and active - found[1][1] < AMBIGUOUS_GENERIC
    weak = is_generic(normalized) and (rival or when - active > FRESH_GENERIC)
    match = ThreadMatch(ticket, ThreadSignal.SUBJECT_FALLBACK, f"{who} and subject {normalized!r}")
    return replace(match, confidence="low" if weak else "high")
