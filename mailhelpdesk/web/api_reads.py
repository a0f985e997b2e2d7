"""The API's reads: a ticket, its thread a page at a time, companies and contacts.

Queues come from ``store/queues.py`` and the cards from ``store/cards.py``, as the panel reads
them; only what no panel page lists (a ticket's fields as data, a thread by keyset, companies
and contacts by id) is read here. Every list is bounded and cut by keyset, so a script that
pages through ten thousand contacts costs what a person paging does.
"""

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from litestar.exceptions import NotFoundException, ValidationException

from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.types import Direction
from mailhelpdesk.store.cards import CardStore
from mailhelpdesk.store.models import INT4_MAX, Company, Contact, Message, Outbox, Ticket, TicketCollaborator
from mailhelpdesk.store.queues import URGENCY_RANK, QueuePage
from mailhelpdesk.web.api_types import (
    ROW_ID_MAX,
    Address,
    AttachmentOut,
    CompanyList,
    CompanyOut,
    CompanyRef,
    CompanyRow,
    ContactList,
    ContactOut,
    ContactRef,
    ContactRow,
    Deadlines,
    DeliveryOut,
    MessageList,
    MessageOut,
    RatingOut,
    TicketList,
    TicketOut,
    TicketRow,
)
from mailhelpdesk.web.ticket_page import delivery_label

_DIGITS = re.compile(r"[0-9]{1,19}")
_BAD_CURSOR = "after: not a cursor this API gave (start without one, then pass back `next`)"


# --- cursors ------------------------------------------------------------------------------------

def encode_cursor(kind: str, text: str) -> str | None:
    """A store's keyset cursor as an opaque, URL-safe token that names what it pages (a queue's
    sort, the thread): a script passes it back as it came (the store's own cursor holds '+' and
    ':', which a hand-built query string mangles), and a token of another list is refused."""
    return base64.urlsafe_b64encode(f"{kind}|{text}".encode()).decode().rstrip("=") if text else None


def decode_cursor(kind: str, token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationException(_BAD_CURSOR) from None
    named, _, cursor = text.partition("|")
    if named != kind:
        raise ValidationException(_BAD_CURSOR)
    return cursor


def queue_cursor(sort: str, token: str) -> str:
    """The store's cursor in ``token``, checked: the store starts a malformed one from the top
    (right for a hand-edited panel URL, an endless loop for a script) and would hand a number
    beyond PostgreSQL's integer to the driver."""
    if not token:
        return ""
    text = decode_cursor(sort, token)
    value, _, number = text.rpartition("~")
    if not _row_number(number, INT4_MAX) or not _sort_value(sort, value):
        raise ValidationException(_BAD_CURSOR)
    return text


def _sort_value(sort: str, value: str) -> bool:
    if sort == "urgency":
        return value in {str(rank) for rank in (*URGENCY_RANK.values(), 9)}
    if sort == "due" and value == "-":
        return True
    return _moment(value) is not None


def _row_number(text: str, largest: int) -> bool:
    return bool(_DIGITS.fullmatch(text)) and int(text) <= largest


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def message_cursor(token: str) -> tuple[datetime, int] | None:
    """(date, id) of the last message of the previous page; None for the first page."""
    if not token:
        return None
    value, _, number = decode_cursor("thread", token).rpartition("~")
    moment = _moment(value)
    if moment is None or moment.tzinfo is None or not _row_number(number, ROW_ID_MAX):
        raise ValidationException(_BAD_CURSOR)
    return moment, int(number)


# --- tickets ------------------------------------------------------------------------------------

def ticket_list(found: QueuePage, sort: str, now: datetime) -> TicketList:
    rows = [TicketRow(r.number, r.subject, r.status, r.urgency, r.line, r.team, r.assignee,  # type: ignore[arg-type]
                      r.company, r.requester, r.updated_at, r.next_due, r.overdue(now)) for r in found.rows]
    return TicketList(rows, encode_cursor(sort, found.next_cursor))


async def ticket_id(number: int) -> int:
    found = await Ticket.get_or_none(number=number).only("id")
    if found is None:
        raise NotFoundException(f"no ticket #{number}")
    return found.id


async def ticket_out(number: int) -> TicketOut:
    ticket = await Ticket.get_or_none(number=number).prefetch_related("requester", "company", "cc", "rating")
    if ticket is None:
        raise NotFoundException(f"no ticket #{number}")
    followers = await TicketCollaborator.filter(ticket_id=ticket.id).order_by("agent").values_list("agent", flat=True)
    company, requester = ticket.company, ticket.requester
    rating = getattr(ticket, "rating", None)  # a reverse one-to-one: absent when unrated
    dues = {target: getattr(ticket, column) for target, column in DUE_COLUMNS.items()}
    return TicketOut(
        ticket.number, ticket.subject, ticket.status, ticket.urgency, ticket.line,  # type: ignore[arg-type]
        ticket.team, ticket.assignee, sorted(ticket.tags), ticket.mailbox,
        CompanyRef(company.id, company.name, company.tier) if company else None,
        ContactRef(requester.id, requester.email, requester.name),
        [ContactRef(c.id, c.email, c.name) for c in sorted(ticket.cc, key=lambda c: c.email)],
        [str(agent) for agent in followers], ticket.created_at, ticket.updated_at, ticket.closed_at,
        ticket.status_since,
        Deadlines(dues["first_response"], dues["next_response"], dues["update_every"], dues["resolution"],
                  ticket.next_due),
        ticket.sla_policy, ticket.merged_into,
        RatingOut(rating.score, rating.comment, rating.source, rating.updated_at) if rating else None,
        ticket.history_only)


async def message_list(number: int, after: tuple[datetime, int] | None, limit: int) -> MessageList:
    """A page of the thread in the panel's order (date, then id), cut by keyset on both."""
    found = await _thread_after(await ticket_id(number), after, limit + 1)
    shown = found[:limit]
    outbox_ids = [m.flags.get("outbox") for m in shown if m.direction == Direction.OUTBOUND.value]
    rows = {row.id: row for row in await Outbox.filter(id__in=[i for i in outbox_ids if isinstance(i, int)]).only(
        "id", "audience", "status", "reason", "attempts")}
    last = shown[-1] if len(found) > limit else None
    return MessageList([_message(m, rows) for m in shown],
                       encode_cursor("thread", f"{last.date.isoformat()}~{last.id}") if last else None)


async def _thread_after(ticket: int, after: tuple[datetime, int] | None, count: int) -> list[Message]:
    """Up to ``count`` messages after (date, id): the rest of that date, then later dates (two
    plain filters rather than one OR, which the ORM's filters cannot say without its expressions)."""
    thread = Message.filter(ticket_id=ticket)
    if after is None:
        return list(await thread.order_by("date", "id").limit(count).prefetch_related("attachments"))
    moment, last_id = after
    same = await thread.filter(date=moment, id__gt=last_id).order_by("id").limit(count).prefetch_related(
        "attachments")
    if len(same) >= count:
        return list(same)
    later = await Message.filter(ticket_id=ticket, date__gt=moment).order_by("date", "id").limit(
        count - len(same)).prefetch_related("attachments")
    return [*same, *later]


def _message(message: Message, outbox: dict[int, Outbox]) -> MessageOut:
    flags: dict[str, Any] = message.flags if isinstance(message.flags, dict) else {}
    delivery = None
    if message.direction == Direction.OUTBOUND.value and not flags.get("note"):
        row = outbox.get(flags.get("outbox"))  # type: ignore[arg-type]
        delivery = DeliveryOut(row.id if row else None, row.audience if row else "", row.status if row else "",
                               row.reason if row else "", row.attempts if row else 0, delivery_label(row))
    return MessageOut(
        message.id, message.direction, message.visibility,  # type: ignore[arg-type]
        bool(flags.get("note")), bool(flags.get("auto_reply")), bool(flags.get("bounce")), bool(flags.get("automated")),
        Address(message.from_addr, message.from_name), _addresses(message.to), _addresses(message.cc),
        message.subject, message.date, message.text, message.reply_text,
        [AttachmentOut(a.id, a.filename, a.content_type, a.size)
         for a in sorted(message.attachments, key=lambda a: a.position)],
        delivery)


def _addresses(pairs: Any) -> list[Address]:
    """The stored ``[[name, address], …]`` of a header."""
    return [Address(str(pair[1]), str(pair[0])) for pair in pairs or () if isinstance(pair, list) and len(pair) == 2]


# --- companies and contacts ---------------------------------------------------------------------

async def company_list(after: int, limit: int) -> CompanyList:
    found = await Company.filter(id__gt=after).order_by("id").limit(limit + 1).prefetch_related("domains")
    rows = [CompanyRow(c.id, c.name, c.tier, sorted(d.domain for d in c.domains)) for c in found[:limit]]
    return CompanyList(rows, rows[-1].id if len(found) > limit else None)


async def company_out(company_id: int) -> CompanyOut:
    shown = await CardStore().company_page(company_id)
    if shown is None:
        raise NotFoundException(f"no company {company_id}")
    c = shown.company
    return CompanyOut(c.id, c.name, c.tier, c.language, c.timezone, c.auto_created, c.created_at, shown.domains,
                      shown.contacts.total, shown.tickets.total, shown.by_status)


async def contact_list(after: int, limit: int, email: str | None, company: int | None) -> ContactList:
    query = Contact.filter(id__gt=after)
    if email is not None:
        query = query.filter(email=email.strip().lower())
    if company is not None:
        query = query.filter(company_id=company)
    found = await query.order_by("id").limit(limit + 1).values_list("id", "email", "name", "company_id")
    rows = [ContactRow(int(i), str(e), str(n), None if c is None else int(c)) for i, e, n, c in found[:limit]]
    return ContactList(rows, rows[-1].id if len(found) > limit else None)


async def contact_out(contact_id: int) -> ContactOut:
    card = await CardStore().contact_card(contact_id)
    if card is None:
        raise NotFoundException(f"no contact {contact_id}")
    company = CompanyRef(card.company.id, card.company.name, card.company.tier) if card.company else None
    return ContactOut(card.id, card.email, card.name, card.preferred_name, card.salutation, card.language,
                      card.timezone, card.created_at, company, card.tickets.total)
