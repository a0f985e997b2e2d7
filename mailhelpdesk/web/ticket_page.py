"""The ticket page: the thread, each mail of ours with its delivery state, deadlines, the "why",
and the forms that act on the ticket (``ticket_actions``); a mail's HTML in a sandboxed frame;
attachments as downloads."""

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.commands.explain import ticket_events, write_story
from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.types import Direction
from mailhelpdesk.mail.parse import attachment_payloads
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.models import Attachment, Message, Outbox, Ticket
from mailhelpdesk.store.outbox import QUEUED, SENDING, SENT
from mailhelpdesk.store.repository import Repository
from mailhelpdesk.web.canned import CannedReplies
from mailhelpdesk.web.flash import take_flash
from mailhelpdesk.web.pages import known_id, page, time_left, user_of

_REMOTE_IMAGE = re.compile(r"""<img[^>]+src=["']?https?:""", re.I)
# The frame's own policy: nothing runs, nothing loads but inline data images (remote ones only
# when the agent asks), no forms, links open outside; only the panel may frame it.
_FRAME_POLICY = ("default-src 'none'; img-src data:{images}; style-src 'none'; font-src 'none'; "
                 "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
                 "sandbox allow-popups allow-popups-to-escape-sandbox")
_TARGETS = {"first_response": "first response", "next_response": "next response", "update_every": "update",
            "resolution": "resolution"}


@dataclass(frozen=True, slots=True)
class TicketPage:
    rules: Callable[[], RuleSet]
    repo: Repository
    canned: CannedReplies
    language_of: Callable[[int], Any]  # ticket id → awaitable language of its customer
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        section = self

        @get("/tickets/{number:int}", name="ticket")
        async def ticket_page(request: Request[Any, Any, Any], number: FromPath[int],
                              canned: FromQuery[str] = "") -> Response[Any]:
            return await section._page(request, known_id(number), canned)

        @get("/tickets/{number:int}/messages/{message_id:int}/html", name="mail_frame")
        async def mail_frame(number: FromPath[int], message_id: FromPath[int],
                             images: FromQuery[bool] = False) -> Response[str]:
            message = await _message(known_id(number), known_id(message_id, "message"))
            policy = _FRAME_POLICY.format(images=" https: http:" if images else "")
            document = f'<!doctype html><meta charset="utf-8"><base target="_blank">{message.html_sanitized}'
            return Response(document, media_type="text/html; charset=utf-8",
                            headers={"content-security-policy": policy, "x-frame-options": "SAMEORIGIN"})

        @get("/tickets/{number:int}/attachments/{attachment_id:int}", name="attachment")
        async def attachment(number: FromPath[int], attachment_id: FromPath[int]) -> Response[bytes]:
            return await download(known_id(number), known_id(attachment_id, "attachment"))

        return [ticket_page, mail_frame, attachment]

    async def _page(self, request: Request[Any, Any, Any], number: int, canned: str) -> Response[Any]:
        ticket = await Ticket.get_or_none(number=number).prefetch_related(
            "requester", "company", "cc", "messages__attachments", "rating")
        if ticket is None:
            raise NotFoundException(f"no ticket #{number}")
        messages = sorted(ticket.messages, key=lambda m: (m.date, m.id))
        outbox = await Outbox.filter(ticket_id=ticket.id).order_by("id").only(
            "id", "template", "audience", "recipient", "status", "reason", "attempts", "created_at", "sent_at")
        story = io.StringIO()
        events = await ticket_events(ticket.id)  # read once: the story, and the links of its creation
        write_story(story, ticket, messages, events)  # the page's ticket and thread, not read again
        created = next((e for e in events if e.kind == "ticket.created"), None)
        language = await self.language_of(ticket.id)
        draft = await self.canned.render(canned, ticket, user_of(request), language) if canned else ""
        now, flash = self.clock(), take_flash(request)
        response = page(
            "ticket.html.j2", request, ticket=ticket, messages=messages, outbox=outbox, now=now,
            delivery=deliveries(messages, outbox), deadlines=deadlines(ticket, now), story=story.getvalue(),
            remote_images={m.id for m in messages if _REMOTE_IMAGE.search(m.html_sanitized)},
            rules=self.rules(), collaborators=sorted(await self.repo.collaborators(ticket.id)),
            canned=self.canned.names(),
            draft=draft, flash=flash, customer_mails=sum(m.direction == Direction.INBOUND.value for m in messages),
            links=created.data if created is not None else {})
        return _without_flash(response) if flash else response


def deadlines(ticket: Ticket, now: datetime) -> list[tuple[str, str, str]]:
    """The ticket's deadlines: (target, when, time left); met or unset ones are left out."""
    found = []
    for target, column in DUE_COLUMNS.items():
        due = getattr(ticket, column)
        if due is not None:
            found.append((_TARGETS[target], due.strftime("%Y-%m-%d %H:%M UTC"), time_left(due, now)))
    return found


def deliveries(messages: Sequence[Message], outbox: Sequence[Outbox]) -> dict[int, str]:
    """Who each message of ours is for and what became of it, by message id.

    Our mail joins the thread when it is queued, so its place there says nothing about whether
    it went out: its outbox row (``flags["outbox"]``) does.
    """
    rows = {row.id: row for row in outbox}
    return {m.id: delivery_label(rows.get(m.flags.get("outbox"))) for m in messages
            if m.direction == Direction.OUTBOUND.value}


def delivery_label(row: Outbox | None) -> str:
    """E.g. "to customer · queued", "to customer · failed: 550 no such user"."""
    if row is None:
        return "not in the outbox"
    if row.status == QUEUED and row.attempts and row.reason:  # a temporary failure: it is retried
        status = f"queued, tried {row.attempts}x: {row.reason}"
    elif row.status in (QUEUED, SENDING, SENT) or not row.reason:
        status = row.status
    else:  # failed, suppressed or held: the reason is the point
        status = f"{row.status}: {row.reason}"
    return f"to {row.audience} · {status}"


async def _message(number: int, message_id: int) -> Message:
    message = await Message.get_or_none(id=message_id, ticket__number=number)
    if message is None:
        raise NotFoundException("no such message on this ticket")
    return message


async def download(number: int, attachment_id: int) -> Response[bytes]:
    """The file as sent, always as a download: a browser never renders it in the panel's origin."""
    found = await Attachment.get_or_none(id=attachment_id, message__ticket__number=number).prefetch_related(
        "message__inbound")
    raw = await _source(found.message) if found is not None else None
    payloads = attachment_payloads(raw) if raw else []
    if found is None or found.position >= len(payloads):
        raise NotFoundException("no such attachment on this ticket")
    data = payloads[found.position][1]
    name = quote(found.filename or f"attachment-{found.position + 1}", safe="")
    return Response(data, media_type="application/octet-stream", headers={
        "content-disposition": f"attachment; filename*=UTF-8''{name}", "x-content-type-options": "nosniff"})


async def _source(message: Message) -> bytes | None:
    """The raw mail an attachment came in: the inbound message, or our outbox row for our own mail."""
    if message.inbound is not None:
        return bytes(message.inbound.raw_message)
    outbox_id = message.flags.get("outbox")
    row = await Outbox.get_or_none(id=outbox_id).only("id", "raw_message") if outbox_id else None
    return bytes(row.raw_message) if row is not None else None


def _without_flash(response: Template) -> Template:
    response.delete_cookie("mhd_flash", path="/")
    return response
