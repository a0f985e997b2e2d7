"""The typed context one message carries through the pipeline."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.outcomes import Outcome
from mailhelpdesk.domain.types import ThreadSignal
from mailhelpdesk.pipeline.parse import ParsedMail
from mailhelpdesk.rules.result import RulesResult
from mailhelpdesk.store.repository import StoredTicket, TicketRef


@dataclass(slots=True)
class ThreadMatch:
    ticket: TicketRef | None
    signal: ThreadSignal
    detail: str = ""


@dataclass(slots=True)
class SenderInfo:
    email: str
    name: str
    contact_id: int | None
    company_id: int | None
    company_reason: str
    company_name: str = ""
    company_tier: str = ""


@dataclass(slots=True)
class MailContext:
    inbound_id: int
    mailbox: MailboxSettings
    raw: bytes
    accepted_at: datetime
    now: datetime | None = None  # the pipeline's clock when processing began: events carry it
    preparsed: ParsedMail | None = None  # parsed ahead by a worker process; the parse step takes it
    mail: ParsedMail | None = None
    auto_reply: str = ""  # why it is an automatic reply, '' if not
    bounce: str = ""  # why it is a bounce, '' if not
    thread: ThreadMatch | None = None
    sender: SenderInfo | None = None
    rules: RulesResult | None = None  # what the rules decided, for ``persist`` to write
    rules_at: datetime | None = None  # the moment the rules ran for (the mail's date, never the future)
    stored_ticket: StoredTicket | None = None  # the replied-to ticket as the rules saw it
    from_agent: bool = False  # a team member's reply on a ticket
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
    def is_automatic(self) -> bool:
        return bool(self.auto_reply or self.bounce)


class Step(Protocol):
    """One concern of processing; returns an outcome, raises only on bugs and outages."""

    @property
    def name(self) -> str: ...

    async def run(self, ctx: MailContext) -> Outcome: ...
