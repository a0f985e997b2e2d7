"""What a mail about a ticket needs to know: the ticket, its requester and company, its thread."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.types import Direction, Visibility
from mailhelpdesk.store.sql import Sql, from_db_datetime

_TICKET = ("id", "number", "subject", "status", "urgency", "line", "team", "assignee", "mailbox", "created_at",
           "status_since", "sla_policy", *DUE_COLUMNS.values(), "history_only")
_CONTACT = ("email", "name", "preferred_name", "salutation", "language", "timezone")
_COMPANY = ("id", "name", "tier", "language", "timezone")
THREAD_IDS_KEPT = 50  # the References of a long thread: its first message and the latest ones


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str = ""
    preferred_name: str = ""
    salutation: str = ""
    language: str = ""
    timezone: str = ""


@dataclass(frozen=True, slots=True)
class CompanyView:
    id: int | None
    name: str = ""
    tier: str = ""
    language: str = ""
    timezone: str = ""


@dataclass(frozen=True, slots=True)
class TicketView:
    id: int
    number: int
    subject: str
    status: str
    urgency: str
    line: int
    team: str
    assignee: str
    mailbox: str
    created_at: datetime
    status_since: datetime
    sla_policy: str
    dues: dict[str, datetime | None]  # SLA target → due
    requester: Person
    company: CompanyView
    thread: tuple[str, ...]  # Message-IDs, oldest first (capped, see THREAD_IDS_KEPT)
    last_customer_id: str  # the Message-ID our customer mail answers ('' if none)
    last_customer_text: str  # what they wrote last, without quoted history
    history_only: bool = False  # made from archived mail: nothing it causes mails anyone


async def ticket_view(sql: Sql, ticket_id: int) -> TicketView | None:
    row = await sql.first(
        f'SELECT {", ".join(f"t.{_q(c)}" for c in _TICKET)}, {", ".join(f"p.{_q(c)}" for c in _CONTACT)},'
        f' {", ".join(f"c.{_q(c)}" for c in _COMPANY)} FROM "ticket" t JOIN "contact" p ON p."id" = t."requester_id"'
        ' LEFT JOIN "company" c ON c."id" = t."company_id" WHERE t."id" = ?', ticket_id)
    if row is None:
        return None
    ticket = dict(zip(_TICKET, row[:len(_TICKET)], strict=True))
    person = Person(*(str(v or "") for v in row[len(_TICKET):len(_TICKET) + len(_CONTACT)]))
    company_row = row[len(_TICKET) + len(_CONTACT):]
    company = CompanyView(int(company_row[0]) if company_row[0] is not None else None,
                          *(str(v or "") for v in company_row[1:]))
    thread, last_id, last_text = await _thread(sql, ticket_id)
    return _view(ticket, person, company, thread, last_id, last_text)


def _view(t: dict[str, Any], person: Person, company: CompanyView, thread: tuple[str, ...], last_id: str,
          last_text: str) -> TicketView:
    created = from_db_datetime(t["created_at"])
    return TicketView(
        int(t["id"]), int(t["number"]), str(t["subject"]), str(t["status"]), str(t["urgency"]), int(t["line"]),
        str(t["team"]), str(t["assignee"]), str(t["mailbox"]), created,
        from_db_datetime(t["status_since"]) if t["status_since"] is not None else created, str(t["sla_policy"]),
        {target: _moment(t[column]) for target, column in DUE_COLUMNS.items()},
        person, company, thread, last_id, last_text, bool(t["history_only"]))


def _moment(value: Any) -> datetime | None:
    return from_db_datetime(value) if value is not None else None


async def _thread(sql: Sql, ticket_id: int) -> tuple[tuple[str, ...], str, str]:
    rows = await sql.rows('SELECT "id", "message_id", "direction" FROM "message" WHERE "ticket_id" = ?'
                          ' AND "visibility" = ? ORDER BY "id"', ticket_id, Visibility.PUBLIC.value)
    ids = [str(r[1]) for r in rows]
    kept = ids if len(ids) <= THREAD_IDS_KEPT else [ids[0], *ids[-(THREAD_IDS_KEPT - 1):]]
    last = next((r for r in reversed(rows) if r[2] == Direction.INBOUND.value), None)
    if last is None:
        return tuple(kept), "", ""
    text = await sql.first('SELECT "reply_text" FROM "message" WHERE "id" = ?', last[0])
    return tuple(kept), str(last[1]), str(text[0] or "") if text else ""


def _q(name: str) -> str:
    return f'"{name}"'


async def cc_people(sql: Sql, ticket_id: int) -> list[Person]:
    """The ticket's cc contacts: an agent's answer goes to them too."""
    rows = await sql.rows(f'SELECT {", ".join(f"p.{_q(c)}" for c in _CONTACT)} FROM "ticket_cc" tc'
                          ' JOIN "contact" p ON p."id" = tc."contact_id" WHERE tc."ticket_id" = ? ORDER BY p."id"',
                          ticket_id)
    return [Person(*(str(v or "") for v in row)) for row in rows]
