"""The typed context one message carries through the pipeline."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.outcomes import Outcome
from mailhelpdesk.domain.types import ThreadSignal
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.rules.result import RulesResult
from mailhelpdesk.store.repository import StoredMessage, StoredTicket, TicketRef


@dataclass(slots=True)
class ThreadMatch:
    ticket: TicketRef | None
    signal: ThreadSignal
    detail: str = ""
    confidence: str = ""  # subject-only matches: "high", or "low" (a new ticket, flagged as a possible duplicate)


@dataclass(slots=True)
class SenderInfo:
    email: str
    name: str
    contact_id: int | None
    company_id: int | None
    company_reason: str
    company_name: str = ""
    company_tier: str = ""
    language: str = ""  # the contact's, '' if not known yet


@dataclass(frozen=True, slots=True)
class AgentMail:
    """Mail from a declared agent, and whether it proves they got our notification.

    ``verified``: sent to their signed reply address or in reply to mail we sent them: it may
    answer the customer and carry commands. ``direct``: written to a customer with the desk
    copied: recorded on the ticket as the agent's. ``unverified``: kept as an internal record.
    """

    address: str
    kind: Literal["verified", "direct", "unverified"]
    reason: str  # how it was verified, or why it was not
    customer: tuple[str, str] = ("", "")  # direct mail: the customer it was written to (name, address)


@dataclass(slots=True)
class MailContext:
    inbound_id: int
    mailbox: MailboxSettings
    raw: bytes
    accepted_at: datetime
    now: datetime | None = None  # the pipeline's clock when processing began: events carry it
    received: datetime | None = None  # archives: when it was delivered (mbox separator, file time)
    preparsed: ParsedMail | None = None  # parsed ahead by a worker process; the parse step takes it
    mail: ParsedMail | None = None
    auto_reply: str = ""  # why it is an automatic reply, '' if not
    bounce: str = ""  # why it is a bounce, complaint or list manager's notice, '' if not
    bounce_details: dict[str, Any] = field(default_factory=dict)  # its status code, failed recipients …
    automated: list[str] = field(default_factory=list)  # weak signs of machine mail: no auto-reply, no reopening
    # Our receiving server says the sender is forged (DMARC or SPF failed): why, '' if it does not.
    unauthenticated: str = ""
    thread: ThreadMatch | None = None
    forwarded_from: TicketRef | None = None  # a forward of this ticket's thread by someone else: a new request
    possible_duplicate: TicketRef | None = None  # a weak subject-only match: a new ticket that may be this one
    sender: SenderInfo | None = None
    rules: RulesResult | None = None  # what the rules decided, for ``persist`` to write
    rules_at: datetime | None = None  # the moment the rules ran for (the mail's date, never the future)
    stored_ticket: StoredTicket | None = None  # the replied-to ticket as the rules saw it
    agent: AgentMail | None = None  # mail from a declared agent (see ``AgentMailStep``)
    stored_messages: dict[str, StoredMessage] | None = None  # its own and its thread's IDs we store
    later_reply: tuple[str, StoredMessage] | None = None  # a stored reply that names this mail as its parent
    survey_score: int | None = None  # the mail is a one-digit answer to the satisfaction survey
    ticket_number: int | None = None
    created_ticket: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def parsed(self) -> ParsedMail:
        """The parsed mail; steps after ``parse`` may rely on it."""
        if self.mail is None:
            raise RuntimeError("step ordering error: message not parsed yet")
        return self.mail

    @property
    def known_messages(self) -> dict[str, StoredMessage]:
        """The mail's own and its thread's Message-IDs that we store; the duplicate step looks them up."""
        if self.stored_messages is None:
            raise RuntimeError("step ordering error: stored Message-IDs not looked up yet")
        return self.stored_messages

    def known_ticket(self, ticket_id: int) -> StoredTicket | None:
        """The ticket ``ticket_id`` as read with the mail's thread IDs, if it was (no query needed)."""
        found = next((m for m in (self.stored_messages or {}).values() if m.ticket.id == ticket_id), None)
        return found.stored_ticket() if found is not None else None

    @property
    def written_at(self) -> datetime:
        """When the mail was written: its Date, else when an archive says it arrived, else now."""
        return self.parsed.date or self.received or self.accepted_at

    @property
    def is_automatic(self) -> bool:
        """Clearly machine mail about other mail: kept out of tickets (an internal record at most)."""
        return bool(self.auto_reply or self.bounce)

    @property
    def looks_automated(self) -> bool:
        """Weak signs of machine mail only: it makes or joins a ticket, quietly."""
        return bool(self.automated) and not self.is_automatic

    @property
    def quiet(self) -> str:
        """Why this mail, though it makes or joins a ticket, must cause no automatic mail ('' for a
        person's mail that may). Mail whose sender our receiving server calls forged is quiet too:
        an answer would go to the real owner of the address, who wrote nothing (a storm of forged
        mail is made of such)."""
        return self.unauthenticated or self.stays_closed

    @property
    def stays_closed(self) -> str:
        """Why this mail must not reopen the ticket it joins ('' if it may): machine-sent mail, or
        an earlier mail arriving late. Mail that failed DMARC or SPF still reopens: a real
        customer behind a forwarder that breaks DMARC is still waiting for an answer."""
        if self.looks_automated:
            return "automated mail: " + "; ".join(self.automated)
        if self.thread is not None and self.thread.signal is ThreadSignal.REFERENCED_BY:
            return "an earlier mail of the thread, arriving after its reply"
        return ""


def thread_ids(mail: ParsedMail) -> list[str]:
    """The Message-IDs a mail refers to, most specific first: its parent, then References newest
    to oldest, then those of messages it embeds (a forwarded mail, a bounce)."""
    return [*mail.in_reply_to, *reversed(mail.references), *mail.embedded_message_ids]


class Step(Protocol):
    """One concern of processing; returns an outcome, raises only on bugs and outages."""

    @property
    def name(self) -> str: ...

    async def run(self, ctx: MailContext) -> Outcome: ...
