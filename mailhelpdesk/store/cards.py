"""What the client card and the company page show, and the one write of how we address a contact.

Every list here is bounded: the newest ``SHOWN`` rows and a count of all. A customer with ten
thousand tickets costs one page of rows and one count, never ten thousand rows in memory or
in the page.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from mailhelpdesk.store.models import Contact
from mailhelpdesk.store.repository import Repository, transaction
from mailhelpdesk.store.sql import Sql, from_db_datetime

SHOWN = 100
# The fields of a contact that say how our mail addresses them, and their column lengths.
CONTACT_FIELDS = ("preferred_name", "salutation", "language", "timezone")
FIELD_MAX = {"preferred_name": 200, "salutation": 200, "language": 20, "timezone": 64}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Shown(Generic[T]):
    """The newest rows of a list and how many there are in all."""

    rows: list[T]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


@dataclass(frozen=True, slots=True)
class TicketLine:
    number: int
    subject: str
    status: str
    created_at: datetime
    updated_at: datetime
    merged_into: int | None  # the number of the ticket it was merged into
    requester_id: int
    requester_email: str


@dataclass(frozen=True, slots=True)
class RatingLine:
    ticket_number: int
    ticket_subject: str
    score: int
    comment: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CompanyBrief:
    id: int
    name: str
    tier: str
    language: str  # '' = not set: the mailbox's
    timezone: str
    auto_created: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ContactLine:
    id: int
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class ContactCard:
    id: int
    email: str
    name: str
    preferred_name: str
    salutation: str
    language: str
    timezone: str
    created_at: datetime
    company: CompanyBrief | None
    tickets: Shown[TicketLine]  # as requester, newest first
    by_status: dict[str, int]  # all their tickets, counted by status
    ratings: Shown[RatingLine]  # newest first
    average_score: float | None  # of all their ratings


@dataclass(frozen=True, slots=True)
class CompanyPage:
    company: CompanyBrief
    domains: list[str]
    contacts: Shown[ContactLine]  # by address
    tickets: Shown[TicketLine]  # newest first
    by_status: dict[str, int]


_CONTACT = ('SELECT "id", "email", "name", "preferred_name", "salutation", "language", "timezone", "created_at",'
            ' "company_id" FROM "contact" WHERE "id" = ?')
_COMPANY = ('SELECT "id", "name", "tier", "language", "timezone", "auto_created", "created_at"'
            ' FROM "company" WHERE "id" = ?')
# {where} is a fixed column test chosen below, never text from a request.
_TICKETS = ('SELECT t."number", t."subject", t."status", t."created_at", t."updated_at", t."merged_into",'
            ' c."id", c."email" FROM "ticket" t JOIN "contact" c ON c."id" = t."requester_id"'
            ' WHERE t."{column}" = ? ORDER BY t."created_at" DESC, t."number" DESC LIMIT ?')
_BY_STATUS = 'SELECT "status", COUNT(*) FROM "ticket" WHERE "{column}" = ? GROUP BY "status"'
_RATINGS = ('SELECT t."number", t."subject", r."score", r."comment", r."updated_at" FROM "rating" r'
            ' JOIN "ticket" t ON t."id" = r."ticket_id" WHERE t."requester_id" = ?'
            ' ORDER BY r."updated_at" DESC, r."id" DESC LIMIT ?')
_RATING_STATS = ('SELECT COUNT(*), AVG(r."score") FROM "rating" r JOIN "ticket" t ON t."id" = r."ticket_id"'
                 ' WHERE t."requester_id" = ?')
_DOMAINS = 'SELECT "domain" FROM "company_domain" WHERE "company_id" = ? ORDER BY "domain"'
_CONTACTS = 'SELECT "id", "email", "name" FROM "contact" WHERE "company_id" = ? ORDER BY "email" LIMIT ?'
_CONTACT_COUNT = 'SELECT COUNT(*) FROM "contact" WHERE "company_id" = ?'
_CONTACT_BY_EMAIL = 'SELECT "id" FROM "contact" WHERE "email" = ?'


class CardStore:
    """The reads of the client card and the company page."""

    def __init__(self) -> None:
        self._sql = Sql()

    async def contact_id(self, email: str) -> int | None:
        row = await self._sql.first(_CONTACT_BY_EMAIL, email.strip().lower())
        return int(row[0]) if row else None

    async def contact_card(self, contact_id: int) -> ContactCard | None:
        row = await self._sql.first(_CONTACT, contact_id)
        if row is None:
            return None
        company = await self.company(int(row[8])) if row[8] is not None else None
        by_status = await self._by_status("requester_id", contact_id)
        tickets = Shown(await self._tickets("requester_id", contact_id), sum(by_status.values()))
        stats = await self._sql.first(_RATING_STATS, contact_id)
        count, average = (int(stats[0]), stats[1]) if stats else (0, None)
        ratings = [RatingLine(int(r[0]), str(r[1]), int(r[2]), str(r[3]), from_db_datetime(r[4]))
                   for r in await self._sql.rows(_RATINGS, contact_id, SHOWN)]
        return ContactCard(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                           str(row[6]), from_db_datetime(row[7]), company, tickets, by_status,
                           Shown(ratings, count), None if average is None else float(average))

    async def company(self, company_id: int) -> CompanyBrief | None:
        row = await self._sql.first(_COMPANY, company_id)
        if row is None:
            return None
        return CompanyBrief(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), bool(row[5]),
                            from_db_datetime(row[6]))

    async def company_page(self, company_id: int) -> CompanyPage | None:
        company = await self.company(company_id)
        if company is None:
            return None
        domains = [str(r[0]) for r in await self._sql.rows(_DOMAINS, company_id)]
        contacts = [ContactLine(int(r[0]), str(r[1]), str(r[2]))
                    for r in await self._sql.rows(_CONTACTS, company_id, SHOWN)]
        counted = await self._sql.first(_CONTACT_COUNT, company_id)
        by_status = await self._by_status("company_id", company_id)
        tickets = Shown(await self._tickets("company_id", company_id), sum(by_status.values()))
        return CompanyPage(company, domains, Shown(contacts, int(counted[0]) if counted else 0), tickets, by_status)

    async def _tickets(self, column: str, value: int) -> list[TicketLine]:
        rows = await self._sql.rows(_TICKETS.format(column=_column(column)), value, SHOWN)
        return [TicketLine(int(r[0]), str(r[1]), str(r[2]), from_db_datetime(r[3]), from_db_datetime(r[4]),
                           None if r[5] is None else int(r[5]), int(r[6]), str(r[7])) for r in rows]

    async def _by_status(self, column: str, value: int) -> dict[str, int]:
        rows = await self._sql.rows(_BY_STATUS.format(column=_column(column)), value)
        return {str(r[0]): int(r[1]) for r in rows}


def _column(name: str) -> str:
    """Only the two columns a card lists tickets by reach the SQL text."""
    if name not in ("requester_id", "company_id"):
        raise ValueError(f"tickets are not listed by {name!r}")
    return name


async def update_contact(repo: Repository, key: int | str, changes: Mapping[str, str], actor: str,
                         now: datetime) -> dict[str, list[str]] | None:
    """Set how our mail addresses a contact (by id or address): the given ``CONTACT_FIELDS``, ''
    clearing one. Returns what changed as ``{field: [old, new]}`` ({} if nothing did), or None if
    there is no such contact.

    A contact is not ticket state, so the row is written directly; a ``contact.changed`` event
    (of no ticket) keeps who changed what, as the only record of it.
    """
    unknown = sorted(set(changes) - set(CONTACT_FIELDS))
    if unknown:
        raise ValueError(f"not a contact field: {', '.join(unknown)}")
    lookup: dict[str, Any] = {"id": key} if isinstance(key, int) else {"email": key.strip().lower()}
    async with transaction():
        contact = await Contact.select_for_update().get_or_none(**lookup)
        if contact is None:
            return None
        changed = {name: [str(getattr(contact, name)), value] for name, value in changes.items()
                   if getattr(contact, name) != value}
        if changed:
            for name, (_, new) in changed.items():
                setattr(contact, name, new)
            await contact.save(update_fields=list(changed))
            await repo.event("contact.changed", {"contact": contact.id, "email": contact.email, "changes": changed},
                             actor=actor, at=now)
    return changed
