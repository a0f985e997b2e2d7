"""Store the message: a new ticket or a message on an existing one, with its events."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from mailhelpdesk.addresses import is_ours
from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import Direction, TicketStatus, Urgency, Visibility
from mailhelpdesk.mail.subjects import normalize_subject
from mailhelpdesk.pipeline.agent_reply import AgentReplyHandler
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.steps.sender import CompanyResolver
from mailhelpdesk.rules.facts import guess_language
from mailhelpdesk.store.repository import Repository, TicketRef
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.service import TicketService

MAX_CC_PER_MESSAGE = 50

ClosedReplyAction = Literal["reopen", "new_ticket"]


class ClosedReplyPolicy(Protocol):
    """What a customer reply to a closed ticket does (the rules engine will provide one)."""

    def decide(self, ticket: TicketRef, ctx: MailContext) -> ClosedReplyAction: ...


@dataclass(frozen=True, slots=True)
class AlwaysReopen:
    def decide(self, ticket: TicketRef, ctx: MailContext) -> ClosedReplyAction:
        return "reopen"


@dataclass(frozen=True, slots=True)
class PersistStep:
    repo: Repository
    companies: CompanyResolver
    our_addresses: frozenset[str]
    closed_policy: ClosedReplyPolicy
    service: TicketService
    agent_replies: AgentReplyHandler
    name: str = "persist"
    needs_inbound_row: ClassVar[bool] = True  # the message refers to its inbound row: the runner writes it first

    async def run(self, ctx: MailContext) -> Outcome:
        thread = ctx.thread
        ticket = thread.ticket if thread else None
        if ticket is not None and self._wants_new_ticket(ctx, ticket):
            ctx.notes.append(f"reply to closed ticket #{ticket.number}: new ticket per policy")
            return await self._store(ctx, await self._new_ticket(ctx, linked_from=ticket), created=True)
        if ticket is None:
            return await self._store(ctx, await self._new_ticket(ctx), created=True)
        return await self._store(ctx, ticket, created=False)

    def _wants_new_ticket(self, ctx: MailContext, ticket: TicketRef) -> bool:
        closed = ticket.status == TicketStatus.CLOSED.value
        return closed and not ctx.is_automatic and self.closed_policy.decide(ticket, ctx) == "new_ticket"

    async def _new_ticket(self, ctx: MailContext, linked_from: TicketRef | None = None) -> TicketRef:
        mail, sender, box = ctx.parsed, ctx.sender, ctx.mailbox
        assert sender is not None and sender.contact_id is not None
        when = self._when(ctx)
        fields: dict[str, Any] = {
            "subject": mail.subject or "(no subject)", "normalized_subject": normalize_subject(mail.subject),
            "status": TicketStatus.NEW.value, "urgency": Urgency.NORMAL.value, "line": box.line, "team": box.team,
            "mailbox": box.name, "company_id": sender.company_id, "requester_id": sender.contact_id,
            "created_at": when, "updated_at": when, "status_since": when,
        }
        data: dict[str, Any] = {"mailbox": box.name, "company": sender.company_reason}
        if linked_from is not None:
            data["follows"] = linked_from.number
        if ctx.forwarded_from is not None:
            data["forwarded_from"] = ctx.forwarded_from.number
        if ctx.possible_duplicate is not None:  # the panel offers to merge it there
            data["possible_duplicate_of"] = ctx.possible_duplicate.number
            data["duplicate_because"] = next((n for n in ctx.notes if n.startswith("possible duplicate")), "")
        return await self.service.open_ticket(sender.email, fields, ctx.rules, _actor(ctx), self._moment(ctx),
                                              ctx.inbound_id, data)

    async def _store(self, ctx: MailContext, ticket: TicketRef, created: bool) -> Outcome:
        ctx.ticket_number, ctx.created_ticket = ticket.number, created
        await self._add_message(ctx, ticket)
        if ctx.agent is not None:
            return await self._agent_mail(ctx, ticket)
        if ctx.is_automatic:
            kind = "bounce" if ctx.bounce else "auto_reply"
            await self.repo.event(f"message.{kind}", {"reason": ctx.bounce or ctx.auto_reply} | ctx.bounce_details,
                                  ticket_id=ticket.id, inbound_id=ctx.inbound_id, at=self._moment(ctx).now)
            return CONTINUE
        if ctx.looks_automated:
            await self.repo.event("message.automated", {"signals": ctx.automated}, ticket_id=ticket.id,
                                  inbound_id=ctx.inbound_id, at=self._moment(ctx).now)
        if ctx.survey_score is not None:
            await self.service.rate(ticket.id, ctx.survey_score, "reply", _actor(ctx), self._moment(ctx),
                                    inbound_id=ctx.inbound_id)
            return CONTINUE
        await self._add_people(ctx, ticket)
        await self._update_ticket(ctx, ticket, created)
        if created:  # after the customer's message: our reply follows it in the thread
            await self._greet(ctx, ticket)
        return CONTINUE

    async def _agent_mail(self, ctx: MailContext, ticket: TicketRef) -> Outcome:
        """A verified agent's answer and commands go to the ticket service; the rest is recorded."""
        agent, moment = ctx.agent, self._moment(ctx)
        assert agent is not None
        if agent.kind == "verified":
            await self.repo.event("message.agent_reply", _signal(ctx) | {"proof": agent.reason}, ticket_id=ticket.id,
                                  inbound_id=ctx.inbound_id, actor=f"agent:{agent.address}", at=moment.now)
            await self.agent_replies.handle(ctx, ticket, moment)
            return CONTINUE
        # Direct and unverified mail proves nothing about its sender: recorded, it changes nothing
        # (not even who is copied on the ticket: a forged From must not add a reader).
        kind = "message.agent_direct" if agent.kind == "direct" else "message.unverified"
        await self.repo.event(kind, {"from": agent.address, "reason": agent.reason}, ticket_id=ticket.id,
                              inbound_id=ctx.inbound_id, actor=f"agent:{agent.address}", at=moment.now)
        return CONTINUE

    async def _greet(self, ctx: MailContext, ticket: TicketRef) -> None:
        """A new ticket: learn the customer's language from their mail (a new contact knows it from
        its first mail already), then acknowledge it."""
        sender = ctx.sender
        if sender is not None and sender.contact_id is not None and not sender.language:
            language = guess_language(f"{ctx.parsed.subject}\n{ctx.parsed.text}")
            if language:
                await self.repo.learn_language(sender.contact_id, language)
        box = ctx.mailbox
        after = ctx.rules.after if ctx.rules else TicketState(line=box.line, team=box.team)
        await self.service.ticket_opened(ticket.id, after, ctx.rules.fired if ctx.rules else (), self._moment(ctx),
                                         ctx.quiet)

    async def _add_message(self, ctx: MailContext, ticket: TicketRef) -> None:
        mail, thread = ctx.parsed, ctx.thread
        flags: dict[str, Any] = {"auto_reply": ctx.auto_reply, "bounce": ctx.bounce} if ctx.is_automatic else {}
        if ctx.bounce_details:
            flags["bounce_details"] = ctx.bounce_details
        if ctx.looks_automated:
            flags["automated"] = ctx.automated
        if ctx.agent is not None:
            flags["agent"] = {"kind": ctx.agent.kind, "reason": ctx.agent.reason}
        if mail.defects:
            flags["defects"] = mail.defects[:20]
        if mail.message_id_synthesized:
            flags["message_id_synthesized"] = True
        name, address = mail.sender or ("", "")
        await self.repo.add_message(
            [_attachment_fields(a) for a in mail.attachments],
            ticket_id=ticket.id, inbound_id=ctx.inbound_id, message_id=mail.message_id,
            fingerprint=mail.fingerprint, in_reply_to=mail.in_reply_to, references=mail.references,
            direction=(Direction.OUTBOUND if _direct(ctx) else Direction.INBOUND).value,
            visibility=(Visibility.INTERNAL if ctx.is_automatic or _internal(ctx) else Visibility.PUBLIC).value,
            from_name=name[:200], from_addr=address, to=[list(a) for a in mail.to], cc=[list(a) for a in mail.cc],
            subject=mail.subject, date=self._when(ctx), text=mail.text, reply_text=mail.reply_text,
            html=mail.html, html_sanitized=mail.html_sanitized, flags=flags,
            thread_signal=thread.signal.value if thread else "",
        )

    async def _add_people(self, ctx: MailContext, ticket: TicketRef) -> None:
        """Everyone the customer copied (and a colleague who replies) joins the ticket's cc."""
        mail, sender = ctx.parsed, ctx.sender
        assert sender is not None
        everyone = [(n, a) for n, a in (*mail.to, *mail.cc) if not is_ours(a, self.our_addresses)]
        people = everyone[:MAX_CC_PER_MESSAGE]  # a 40,000-address To: must not stall intake
        if len(everyone) > len(people):
            ctx.notes.append(f"only the first {MAX_CC_PER_MESSAGE} of {len(everyone)} recipients added as cc")
        joins = sender.contact_id is not None and sender.email != ticket.requester_email
        ids = [sender.contact_id] if joins and sender.contact_id is not None else []
        for name, address in people:
            if address != ticket.requester_email:
                ids.append((await self.companies.contact(address, name)).id)
        await self.service.copy_people(ticket.id, ids, _actor(ctx), self._moment(ctx), ctx.inbound_id,
                                       announce=not ctx.created_ticket)

    async def _update_ticket(self, ctx: MailContext, ticket: TicketRef, created: bool) -> None:
        if created:
            return
        moment = self._moment(ctx)
        await self.service.customer_replied(ticket, ctx.stored_ticket, ctx.rules, _actor(ctx), moment,
                                            ctx.inbound_id, self._when(ctx), ctx.quiet, reopens=not ctx.stays_closed)
        signal = _signal(ctx)
        await self.repo.event("message.customer_reply", signal, ticket_id=ticket.id, inbound_id=ctx.inbound_id,
                              at=moment.now)

    @staticmethod
    def _when(ctx: MailContext) -> datetime:
        return ctx.written_at

    def _moment(self, ctx: MailContext) -> Moment:
        """The mail's moment (deadlines count from it) and the pipeline's clock (events carry it)."""
        return Moment(ctx.rules_at or self._when(ctx), ctx.now or ctx.accepted_at)


def _signal(ctx: MailContext) -> dict[str, Any]:
    """How the mail found its ticket, for the event: the signal, its detail and a subject match's confidence."""
    thread = ctx.thread
    if thread is None:
        return {}
    return {"signal": thread.signal.value, "detail": thread.detail} | (
        {"confidence": thread.confidence} if thread.confidence else {})


def _direct(ctx: MailContext) -> bool:
    """An agent's mail to a customer, the desk copied: the customer has it, as mail from us."""
    return ctx.agent is not None and ctx.agent.kind == "direct"


def _internal(ctx: MailContext) -> bool:
    """An agent's own mail is for the team: what the customer gets of it is a message of its own."""
    return ctx.agent is not None and ctx.agent.kind != "direct"


def _actor(ctx: MailContext) -> Actor:
    if ctx.agent is not None:  # an agent's direct mail opens a ticket for the customer: the agent acted
        return Actor.agent(ctx.agent.address)
    return Actor("customer", ctx.sender.email.lower() if ctx.sender else "")


def _attachment_fields(a: Any) -> dict[str, Any]:
    return {"filename": a.filename, "content_type": a.content_type[:255], "size": a.size, "sha256": a.sha256,
            "content_id": a.content_id, "inline": a.inline}
