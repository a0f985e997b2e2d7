"""Queries and writes used by the pipeline and commands; callers get plain values or models."""

import hashlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tortoise.expressions import F
from tortoise.functions import Max

from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import Direction, InboundState, TicketStatus, Visibility
from mailhelpdesk.sla.clock import SlaTicket
from mailhelpdesk.store.models import (
    INBOUND_SUMMARY_FIELDS,
    Company,
    CompanyDomain,
    Inbound,
    Ticket,
)
from mailhelpdesk.store.sql import Sql, from_db_datetime, from_json, to_json
from mailhelpdesk.store.transactions import transaction as transaction  # callers import it from here


@dataclass(frozen=True, slots=True)
class AcceptResult:
    inbound_id: int
    created: bool
    state: str


@dataclass(frozen=True, slots=True)
class PendingInbound:
    """An accepted row claimed for processing, with what the pipeline needs to start."""

    inbound_id: int
    mailbox: str
    raw: bytes
    accepted_at: datetime

    @property
    def loaded(self) -> tuple[str, bytes, datetime]:
        """What ``Pipeline.process`` would otherwise read again."""
        return self.mailbox, self.raw, self.accepted_at


@dataclass(frozen=True, slots=True)
class CompanyRef:
    id: int
    name: str
    tier: str


@dataclass(frozen=True, slots=True)
class TicketRef:
    id: int
    number: int
    status: str
    company_id: int | None
    requester_email: str
    merged_into: int | None = None  # the number of the ticket it was merged into


ContactRow = tuple[int, str, int | None, str]  # id, name, company id, language


@dataclass(slots=True)
class GatheredEvents:
    """The events one mail records, written together (see ``Repository.gathered_events``)."""

    deferred: bool  # a batch writes them at its commit
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SplitSource:
    """A customer mail to be split off its ticket."""

    message_id: int
    subject: str
    sender: str
    date: datetime
    raw: bytes
    contact_id: int | None  # the sender's contact (a colleague of the requester, perhaps)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    fingerprint: str
    ticket: TicketRef
    ticket_row: Sequence[Any] = ()  # its ticket's row for ``StoredTicket``, read with it

    def stored_ticket(self) -> "StoredTicket":
        """Its ticket as rules see it (built on demand: most of a mail's references are not needed)."""
        return _stored_ticket(self.ticket_row)


@dataclass(frozen=True, slots=True)
class ThreadLookup:
    stored: dict[str, StoredMessage]  # the mail's own and its thread's Message-IDs that we store
    later_reply: tuple[str, StoredMessage] | None = None  # a stored reply naming the mail as its parent


def first_ticket(stored: dict[str, StoredMessage], message_ids: Sequence[str]) -> tuple[str, TicketRef] | None:
    """The ticket of the first of ``message_ids`` (in the given order) found in ``stored``."""
    found = next((m for m in message_ids if m in stored), None)
    return (found, stored[found].ticket) if found is not None else None


@dataclass(frozen=True, slots=True)
class StoredTicket:
    """A ticket as rules and SLA clocks see it."""

    id: int
    number: int
    state: TicketState
    policy: str  # the SLA policy in force
    mailbox: str
    company: str
    tier: str
    created_at: datetime
    updated_at: datetime
    status_since: datetime
    paused_at: datetime | None  # the SLA clock is stopped since then
    paused: timedelta  # SLA time stopped so far
    dues: dict[str, datetime | None]  # SLA target → due
    merged_into: int | None = None  # the ticket number it was merged into
    history_only: bool = False  # made from archived mail: nothing it causes mails anyone
    followed: bool = False  # some agent collaborates on it
    requester: str = ""  # the requester's address
    company_id: int | None = None

    def sla(self) -> SlaTicket:
        return SlaTicket(self.policy, self.created_at, self.paused_at, self.paused, self.dues)


class Repository:
    """The one place that knows how intake state is stored."""

    def __init__(self) -> None:
        self._next_number: int | None = None
        self._sql = Sql()

    # --- accept / spool ------------------------------------------------------------------

    async def accept(self, mailbox: str, raw: bytes, source: str, now: datetime) -> AcceptResult:
        """Store raw bytes durably; the same bytes for the same mailbox are stored once."""
        # Insert first: new mail is the common case, and the unique key settles races.
        inbound_id = await self.insert_inbound(mailbox, raw, source, now)
        if inbound_id is None:
            stored = await self.stored_inbound(mailbox, raw)
            assert stored is not None, "the unique key just said these bytes are stored"
            return stored
        return AcceptResult(inbound_id, True, InboundState.ACCEPTED.value)

    async def stored_inbound(self, mailbox: str, raw: bytes) -> AcceptResult | None:
        """The row already holding these bytes for this mailbox, if any."""
        row = await self._sql.first(
            'SELECT "id", "state" FROM "inbound" WHERE "mailbox" = ? AND "raw_sha256" = ?', mailbox, _digest(raw)
        )
        return AcceptResult(int(row[0]), False, str(row[1])) if row else None

    async def insert_inbound(self, mailbox: str, raw: bytes, source: str, now: datetime,
                             state: InboundState = InboundState.ACCEPTED, processed_at: datetime | None = None,
                             **info: Any) -> int | None:
        """A new row (``accepted``, or with what processing found: ``info`` as ``finish_inbound``);
        None if these bytes are stored for this mailbox already."""
        values = {**_NO_INBOUND_INFO, **info}
        return await self._sql.insert_new(
            'INSERT INTO "inbound" ("mailbox", "raw_message", "raw_sha256", "size", "source", "state", "processed_at",'
            ' "reason", "step", "error", "message_id", "sender", "subject", "flags", "accepted_at", "attempts")'
            ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING',
            mailbox, raw, _digest(raw), len(raw), source[:1000], state.value, processed_at,
            *(values[n] for n in ("reason", "step", "error", "message_id", "sender", "subject")),
            to_json(values["flags"]), now,
        )

    async def claim_inbound(self, inbound_id: int) -> str:
        """Lock the row for this transaction and return its state (PostgreSQL: concurrent claims wait)."""
        claimed = await self._sql.execute(
            'UPDATE "inbound" SET "attempts" = "attempts" + 1 WHERE "id" = ? AND "state" = ?',
            inbound_id, InboundState.ACCEPTED.value,
        )
        if claimed:
            return InboundState.ACCEPTED.value
        states = _flat(await Inbound.filter(id=inbound_id).values_list("state", flat=True))
        return str(states[0])

    async def requeue(self, inbound_ids: Sequence[int]) -> int:
        """Send quarantined messages back to ``accepted`` so the pipeline takes them again."""
        return await Inbound.filter(id__in=list(inbound_ids), state=InboundState.QUARANTINED.value).update(
            state=InboundState.ACCEPTED.value
        )

    async def inbound_raw(self, inbound_id: int) -> tuple[str, bytes, datetime]:
        row = await Inbound.get(id=inbound_id).only("id", "mailbox", "raw_message", "accepted_at")
        return row.mailbox, bytes(row.raw_message), row.accepted_at

    async def claim_pending(self, limit: int, max_bytes: int, skip: Sequence[int] = ()) -> list[PendingInbound]:
        """The oldest accepted rows, at most ``limit`` of them and about ``max_bytes`` (at least
        one), each with its bytes. Inside a transaction on PostgreSQL the rows stay locked until
        it ends, and rows another worker holds are skipped rather than waited for (SKIP LOCKED);
        on SQLite one writer runs at a time and a row processed meanwhile is not claimed again
        (see ``claim_inbound``). Rows in ``skip`` (held back by the caller) are left alone."""
        lock = " FOR UPDATE SKIP LOCKED" if self._sql.postgres else ""
        held = f' AND "id" NOT IN ({", ".join("?" * len(skip))})' if skip else ""
        sized = await self._sql.rows(
            f'SELECT "id", "size" FROM "inbound" WHERE "state" = ?{held} ORDER BY "id" LIMIT ?{lock}',
            InboundState.ACCEPTED.value, *skip, limit)
        ids: list[int] = []
        total = 0
        for inbound_id, size in sized:
            if ids and total + int(size) > max_bytes:
                break
            ids.append(int(inbound_id))
            total += int(size)
        if not ids:
            return []
        rows = await self._sql.rows('SELECT "id", "mailbox", "raw_message", "accepted_at" FROM "inbound"'
                                    f' WHERE "id" IN ({", ".join("?" * len(ids))}) ORDER BY "id"', *ids)
        return [PendingInbound(int(r[0]), str(r[1]), bytes(r[2]), from_db_datetime(r[3])) for r in rows]

    async def pending_inbound_ids(self) -> list[int]:
        rows = await Inbound.filter(state=InboundState.ACCEPTED.value).order_by("id").values_list("id", flat=True)
        return [int(r) for r in _flat(rows)]

    async def finish_inbound(self, inbound_id: int, state: InboundState, now: datetime, *, reason: str, step: str,
                             error: str, flags: dict[str, Any], message_id: str, sender: str, subject: str) -> None:
        await self._sql.execute(
            'UPDATE "inbound" SET "state" = ?, "processed_at" = ?, "reason" = ?, "step" = ?, "error" = ?,'
            ' "flags" = ?, "message_id" = ?, "sender" = ?, "subject" = ? WHERE "id" = ?',
            state.value, now, reason, step, error, to_json(flags), message_id, sender, subject, inbound_id,
        )

    async def fail_inbound(self, inbound_id: int, now: datetime, **info: Any) -> None:
        """Quarantine after an error; the failed attempt counts (its own claim was rolled back)."""
        await Inbound.filter(id=inbound_id).update(
            state=InboundState.QUARANTINED.value, processed_at=now, attempts=F("attempts") + 1, **info
        )

    async def inbound_list(self, states: Sequence[InboundState]) -> list[Inbound]:
        return await Inbound.filter(state__in=[s.value for s in states]).order_by("id").only(*INBOUND_SUMMARY_FIELDS)

    # --- messages and threads ------------------------------------------------------------

    async def message_by_message_id(self, message_id: str) -> tuple[int, str, int] | None:
        row = await self._sql.first(
            'SELECT "id", "fingerprint", "ticket_id" FROM "message" WHERE "message_id" = ?', message_id
        )
        return (int(row[0]), str(row[1]), int(row[2])) if row else None

    async def thread_lookup(self, own_id: str, thread_ids: Sequence[str]) -> ThreadLookup:
        """In one query: the stored messages among a mail's own ID (is it a re-delivery?) and the
        IDs it refers to (at most 200, its thread), with their tickets; and the earliest stored
        reply that names the mail as its parent (the mail arrived after it)."""
        ids = list(dict.fromkeys([own_id, *thread_ids]))[:200]
        head = f'm."message_id", m."id", m."fingerprint", {_STORED_TICKET_COLUMNS} FROM "message" m' \
               f' JOIN "ticket" t ON t."id" = m."ticket_id" {_STORED_TICKET_JOINS}'
        rows = await self._sql.rows(
            f'SELECT 0, {head} WHERE m."message_id" IN ({_marks(len(ids))}) UNION ALL SELECT 1, {head}'
            ' WHERE m."id" = (SELECT MIN(r."message_id") FROM "message_ref" r WHERE r."ref" = ?)',
            *ids, own_id,
        )
        stored = {str(r[1]): _stored_message(r[1:]) for r in rows if not r[0]}
        later = next(((str(r[1]), _stored_message(r[1:])) for r in rows if r[0]), None)
        return ThreadLookup(stored, later)

    async def ticket_ref(self, *, ticket_id: int | None = None, number: int | None = None) -> TicketRef | None:
        column, value = ('"id"', ticket_id) if ticket_id is not None else ('"number"', number)
        row = await self._sql.first(
            'SELECT t."id", t."number", t."status", t."company_id", c."email", t."merged_into" FROM "ticket" t'
            f' JOIN "contact" c ON c."id" = t."requester_id" WHERE t.{column} = ?',
            value,
        )
        if row is None:
            return None
        tid, num, status, company_id, email, merged_into = row
        return TicketRef(int(tid), int(num), str(status), company_id, str(email),
                         int(merged_into) if merged_into is not None else None)

    async def live_ticket_ref(self, number: int) -> TicketRef | None:
        """The ticket ``number``, or the one it was merged into (a few hops at most)."""
        ref = await self.ticket_ref(number=number)
        for _ in range(5):
            if ref is None or ref.merged_into is None:
                return ref
            ref = await self.ticket_ref(number=ref.merged_into)
        return ref

    async def ticket_cc_emails(self, ticket_id: int) -> set[str]:
        rows = await self._sql.rows(
            'SELECT c."email" FROM "ticket_cc" tc JOIN "contact" c ON c."id" = tc."contact_id"'
            ' WHERE tc."ticket_id" = ?',
            ticket_id,
        )
        return {str(r[0]) for r in rows}

    async def tickets_by_subject(self, normalized_subject: str, since: datetime, *, requester: str = "",
                                 company_id: int | None = None) -> list[tuple[TicketRef, datetime]]:
        """The two most recently active tickets, not closed nor merged, of ``requester`` (or of
        ``company_id``) with this subject since ``since``, with when each was last active."""
        who, value = ('c."email" = ?', requester) if requester else ('t."company_id" = ?', company_id)
        rows = await self._sql.rows(
            'SELECT t."id", t."number", t."status", t."company_id", c."email", t."updated_at" FROM "ticket" t'
            ' JOIN "contact" c ON c."id" = t."requester_id"'
            f' WHERE {who} AND t."normalized_subject" = ? AND t."updated_at" >= ? AND t."status" <> ?'
            ' AND t."merged_into" IS NULL ORDER BY t."updated_at" DESC, t."id" DESC LIMIT 2',
            value, normalized_subject, since, TicketStatus.CLOSED.value,
        )
        return [(TicketRef(int(r[0]), int(r[1]), str(r[2]), r[3], str(r[4])), from_db_datetime(r[5])) for r in rows]

    # --- companies and contacts ----------------------------------------------------------

    async def company_for_domains(self, candidates: Sequence[str]) -> CompanyRef | None:
        """The company owning the most specific of ``candidates`` (a domain and its parents)."""
        if not candidates:
            return None
        rows = await self._sql.rows(
            'SELECT d."domain", c."id", c."name", c."tier" FROM "company_domain" d'
            f' JOIN "company" c ON c."id" = d."company_id" WHERE d."domain" IN ({_marks(len(candidates))})',
            *candidates,
        )
        owners = {str(r[0]): CompanyRef(int(r[1]), str(r[2]), str(r[3])) for r in rows}
        return next((owners[d] for d in candidates if d in owners), None)

    async def create_company(self, name: str, domains: Sequence[str], tier: str, auto: bool) -> CompanyRef:
        company = await Company.create(name=name, tier=tier, auto_created=auto)
        for domain in domains:
            await CompanyDomain.create(domain=domain, company_id=company.id)
        return CompanyRef(company.id, name, tier)

    async def upsert_company(self, name: str, domains: Sequence[str], tier: str, language: str = "",
                             timezone: str = "") -> int:
        """Seed a company: create it or update its tier, language and time zone; move the listed domains to it."""
        company = await Company.get_or_none(name=name)
        if company is None:
            company = await Company.create(name=name, tier=tier, auto_created=False, language=language,
                                           timezone=timezone)
        elif (company.tier, company.auto_created, company.language, company.timezone) != (tier, False, language,
                                                                                             timezone):
            company.tier, company.auto_created, company.language, company.timezone = tier, False, language, timezone
            await company.save(update_fields=["tier", "auto_created", "language", "timezone"])
        for domain in domains:
            existing = await CompanyDomain.get_or_none(domain=domain)
            if existing is None:
                await CompanyDomain.create(domain=domain, company_id=company.id)
            elif existing.company_id != company.id:  # type: ignore[attr-defined]
                await CompanyDomain.filter(id=existing.id).update(company_id=company.id)
        return company.id

    async def contact_and_company(self, email: str, domains: Sequence[str]) -> tuple[ContactRow | None,
                                                                                      CompanyRef | None]:
        """The contact of ``email`` and the company owning the most specific of ``domains``, in one
        query (every mail needs both)."""
        rows = await self._sql.rows(
            'SELECT 1, "email", "id", "name", CAST("company_id" AS TEXT), "language" FROM "contact" WHERE "email" = ?'
            + (' UNION ALL SELECT 0, d."domain", c."id", c."name", c."tier", \'\' FROM "company_domain" d'
               f' JOIN "company" c ON c."id" = d."company_id" WHERE d."domain" IN ({_marks(len(domains))})'
               if domains else ''),
            email, *domains,
        )
        contact = next(((int(r[2]), str(r[3]), int(r[4]) if r[4] is not None else None, str(r[5] or ""))
                        for r in rows if int(r[0]) == 1), None)
        owners = {str(r[1]): CompanyRef(int(r[2]), str(r[3]), str(r[4])) for r in rows if int(r[0]) == 0}
        return contact, next((owners[d] for d in domains if d in owners), None)

    async def write_contact(self, existing: ContactRow | None, email: str, name: str, company_id: int | None,
                            language: str = "") -> ContactRow:
        """Create the contact (knowing ``language``, that of its first mail), or fill in a name and company
        it lacks; ``existing`` is its row, if any. Returns the row as written."""
        if existing is None:
            contact_id = await self._sql.insert(
                'INSERT INTO "contact" ("email", "name", "company_id", "language", "created_at")'
                ' VALUES (?, ?, ?, ?, ?)',
                email, name[:200], company_id, language, datetime.now(UTC),
            )
            return contact_id, name[:200], company_id, language
        cid, old_name, old_company, known = existing
        new_name = name[:200] if name and not old_name else old_name
        new_company = company_id if company_id is not None and old_company is None else old_company
        if (new_name, new_company) != (old_name, old_company):
            await self._sql.execute(
                'UPDATE "contact" SET "name" = ?, "company_id" = ? WHERE "id" = ?', new_name, new_company, cid
            )
        return cid, new_name, new_company, known

    async def learn_language(self, contact_id: int, language: str) -> None:
        """The language of a contact's first mail, unless one is known (detected or set) already."""
        await self._sql.execute('UPDATE "contact" SET "language" = ? WHERE "id" = ? AND "language" = ?',
                                language, contact_id, "")

    # --- tickets -------------------------------------------------------------------------

    async def stored_ticket(self, ticket_id: int | None = None, *, number: int | None = None) -> StoredTicket | None:
        """What rules, SLA clocks and the ticket service need of a stored ticket (by id or number),
        with its company and requester, in one query."""
        column, value = ('"id"', ticket_id) if ticket_id is not None else ('"number"', number)
        row = await self._sql.first(
            f'SELECT {_STORED_TICKET_COLUMNS} FROM "ticket" t {_STORED_TICKET_JOINS} WHERE t.{column} = ?', value,
        )
        return _stored_ticket(row) if row is not None else None

    async def latest_customer_mail(self, ticket_id: int) -> bytes | None:
        """The raw bytes of the ticket's latest public inbound message: what timed rules look at."""
        row = await self._sql.first(
            'SELECT i."raw_message" FROM "message" m JOIN "inbound" i ON i."id" = m."inbound_id"'
            ' WHERE m."ticket_id" = ? AND m."direction" = ? AND m."visibility" = ? ORDER BY m."id" DESC LIMIT 1',
            ticket_id, Direction.INBOUND.value, Visibility.PUBLIC.value,
        )
        return bytes(row[0]) if row is not None else None

    def rolled_back(self) -> None:
        """The caller's transaction was rolled back: forget what it wrote (the next ticket number)."""
        self._next_number = None

    async def next_ticket_number(self, start: int) -> int:
        rows = _flat(await Ticket.annotate(top=Max("number")).values_list("top", flat=True))
        top = rows[0] if rows else None
        return max(int(top) + 1, start) if top is not None else start

    async def create_ticket(self, requester_email: str, number_start: int, **fields: Any) -> TicketRef:
        """Insert a ticket with the next number.

        The number is remembered between calls (one query less per ticket). If another
        process took it, the unique key fails, the memory is dropped and the caller's
        transaction is retried (see ``Pipeline.process``).
        """
        number = self._next_number or await self.next_ticket_number(number_start)
        self._next_number = None
        values = {**_TICKET_DEFAULTS, **fields}
        ticket_id = await self._sql.insert(
            f'INSERT INTO "ticket" ("number", {_columns(_TICKET_FIELDS)}) VALUES ({_marks(len(_TICKET_FIELDS) + 1)})',
            number, *(to_json(values[n]) if n == "tags" else values[n] for n in _TICKET_FIELDS),
        )
        self._next_number = number + 1
        return TicketRef(ticket_id, number, fields["status"], fields["company_id"], requester_email)

    async def touch_ticket(self, ticket_id: int, when: datetime) -> None:
        """Move ``updated_at`` forward (never back: mail clocks are often wrong)."""
        await self._sql.execute(
            'UPDATE "ticket" SET "updated_at" = ? WHERE "id" = ? AND "updated_at" < ?', when, ticket_id, when
        )

    async def update_ticket(self, ticket_id: int, **changes: Any) -> None:
        """Write the named columns of a ticket (hand-written: every reply writes one)."""
        if not changes:
            return
        unknown = changes.keys() - Ticket._meta.db_fields
        if unknown or "id" in changes:
            raise ValueError(f"not a ticket column to update: {', '.join(sorted(unknown)) or 'id'}")
        assignments = ", ".join(f'"{name}" = ?' for name in changes)
        await self._sql.execute(f'UPDATE "ticket" SET {assignments} WHERE "id" = ?',
                                *(to_json(v) if n == "tags" else v for n, v in changes.items()), ticket_id)

    async def add_cc(self, ticket_id: int, contact_ids: Iterable[int]) -> list[int]:
        wanted = list(dict.fromkeys(contact_ids))
        if not wanted:
            return []
        rows = await self._sql.rows(
            'SELECT "requester_id" FROM "ticket" WHERE "id" = ?'
            ' UNION ALL SELECT "contact_id" FROM "ticket_cc" WHERE "ticket_id" = ?',
            ticket_id, ticket_id,
        )
        present = {int(r[0]) for r in rows}
        new = [cid for cid in wanted if cid not in present]
        await self._sql.insert_many(
            'INSERT INTO "ticket_cc" ("ticket_id", "contact_id") VALUES (?, ?)', [(ticket_id, c) for c in new]
        )
        return new

    async def add_message(self, attachments: Sequence[dict[str, Any]], **fields: Any) -> int:
        values = [to_json(fields[n]) if n in _MESSAGE_JSON else fields[n] for n in _MESSAGE_FIELDS]
        message_id = await self._sql.insert(
            f'INSERT INTO "message" ({_columns(_MESSAGE_FIELDS)}, "created_at")'
            f' VALUES ({_marks(len(_MESSAGE_FIELDS) + 1)})',
            *values, datetime.now(UTC),
        )
        await self._sql.insert_many(
            f'INSERT INTO "attachment" ("message_id", "position", {_columns(_ATTACHMENT_FIELDS)})'
            f' VALUES ({_marks(len(_ATTACHMENT_FIELDS) + 2)})',
            [(message_id, i, *(a[n] for n in _ATTACHMENT_FIELDS)) for i, a in enumerate(attachments)],
        )
        refs = dict.fromkeys([*fields["in_reply_to"], *reversed(fields["references"])])
        refs.pop(fields["message_id"], None)
        await self._sql.insert_many('INSERT INTO "message_ref" ("message_id", "ref") VALUES (?, ?)',
                                    [(message_id, ref[:998]) for ref in list(refs)[:MAX_REFS]])
        return message_id

    async def event(self, kind: str, data: dict[str, Any], ticket_id: int | None = None,
                    inbound_id: int | None = None, actor: str = "system", at: datetime | None = None) -> None:
        """Record an event; ``at`` is the clock of the action (``timers --at``, replay), else now."""
        await self.events([(kind, data)], ticket_id, inbound_id, actor, at)

    async def events(self, events: Sequence[tuple[str, dict[str, Any]]], ticket_id: int | None = None,
                     inbound_id: int | None = None, actor: str = "system", at: datetime | None = None) -> None:
        """Several events of one action in one statement (or gathered: see ``gathered_events``)."""
        moment = at or datetime.now(UTC)
        rows = [(kind, actor, to_json(data), moment, inbound_id, ticket_id) for kind, data in events]
        pending = _PENDING_EVENTS.get()
        if pending is not None:
            pending.rows.extend(rows)
        else:
            await self._sql.insert_many(_INSERT_EVENT, rows)

    @asynccontextmanager
    async def gathered_events(self) -> AsyncIterator[GatheredEvents]:
        """Events recorded inside are written in one statement at the end (a mail records several;
        each statement is a round trip), or, while a batch collects them (``batch_events``), left
        for the caller to hand over with ``keep_events`` once its savepoint is released. Nothing
        is written if the block raises: its transaction is rolled back anyway."""
        gathered = GatheredEvents(deferred=_BATCH_EVENTS.get() is not None)
        token = _PENDING_EVENTS.set(gathered)
        try:
            yield gathered
        finally:
            _PENDING_EVENTS.reset(token)
        if not gathered.deferred:
            await self._sql.insert_many(_INSERT_EVENT, gathered.rows)

    def keep_events(self, gathered: GatheredEvents) -> None:
        """The events of a mail whose savepoint was released: the batch writes them at its commit."""
        batch = _BATCH_EVENTS.get()
        if gathered.deferred and batch is not None:
            batch.extend(gathered.rows)

    def batch_events(self) -> Token[list[tuple[Any, ...]] | None]:
        """Collect the events of a batch's mails until ``write_batch_events`` (one statement per
        200 events instead of one per mail); the token ends the collecting."""
        return _BATCH_EVENTS.set([])

    async def write_batch_events(self) -> None:
        """Write what the batch collected, inside its transaction, before it commits."""
        batch = _BATCH_EVENTS.get()
        if batch:
            await self._sql.insert_many(_INSERT_EVENT, batch)
            batch.clear()

    @staticmethod
    def end_batch_events(token: Token[list[tuple[Any, ...]] | None]) -> None:
        _BATCH_EVENTS.reset(token)

    # --- collaborators and merging -------------------------------------------------------

    async def collaborators(self, ticket_id: int) -> tuple[str, ...]:
        rows = await self._sql.rows('SELECT "agent" FROM "ticket_collaborator" WHERE "ticket_id" = ? ORDER BY "id"',
                                    ticket_id)
        return tuple(str(r[0]) for r in rows)

    async def add_collaborators(self, ticket_id: int, agents: Sequence[str], now: datetime) -> list[str]:
        present = set(await self.collaborators(ticket_id))
        new = [a for a in dict.fromkeys(agents) if a not in present]
        await self._sql.insert_many(
            'INSERT INTO "ticket_collaborator" ("ticket_id", "agent", "created_at") VALUES (?, ?, ?)',
            [(ticket_id, a, now) for a in new])
        return new

    async def remove_collaborators(self, ticket_id: int, agents: Sequence[str]) -> list[str]:
        present = set(await self.collaborators(ticket_id))
        gone = [a for a in dict.fromkeys(agents) if a in present]
        for agent in gone:
            await self._sql.execute('DELETE FROM "ticket_collaborator" WHERE "ticket_id" = ? AND "agent" = ?',
                                    ticket_id, agent)
        return gone

    async def contact_ids(self, ticket_id: int) -> tuple[int, list[int]]:
        """The requester's contact id and the cc contacts' ids of a ticket."""
        row = await self._sql.first('SELECT "requester_id" FROM "ticket" WHERE "id" = ?', ticket_id)
        rows = await self._sql.rows('SELECT "contact_id" FROM "ticket_cc" WHERE "ticket_id" = ?', ticket_id)
        return (int(row[0]) if row else 0), [int(r[0]) for r in rows]

    async def move_thread(self, source_id: int, target_id: int) -> int:
        """Move a ticket's messages to another ticket (a merge); how many moved."""
        moved = await self._sql.execute('UPDATE "message" SET "ticket_id" = ? WHERE "ticket_id" = ?',
                                        target_id, source_id)
        await self._sql.execute('UPDATE "outbox" SET "ticket_id" = ? WHERE "ticket_id" = ?', target_id, source_id)
        return moved

    async def split_source(self, ticket_id: int, message_id: int) -> SplitSource | None:
        """A customer's mail of the ticket that can become a ticket of its own (None: not one of its
        public inbound messages, or the ticket's only mail from the customer side)."""
        row = await self._sql.first(
            'SELECT m."subject", m."from_addr", m."date", i."raw_message", c."id",'
            ' (SELECT COUNT(*) FROM "message" o'
            '  WHERE o."ticket_id" = m."ticket_id" AND o."direction" = m."direction")'
            ' FROM "message" m JOIN "inbound" i ON i."id" = m."inbound_id"'
            ' LEFT JOIN "contact" c ON c."email" = m."from_addr"'
            ' WHERE m."id" = ? AND m."ticket_id" = ? AND m."direction" = ? AND m."visibility" = ?',
            message_id, ticket_id, Direction.INBOUND.value, Visibility.PUBLIC.value)
        if row is None or int(row[5]) < 2:
            return None
        return SplitSource(message_id, str(row[0]), str(row[1]), from_db_datetime(row[2]), bytes(row[3]),
                           int(row[4]) if row[4] is not None else None)

    async def move_message(self, message_id: int, ticket_id: int) -> None:
        await self._sql.execute('UPDATE "message" SET "ticket_id" = ? WHERE "id" = ?', ticket_id, message_id)


_NO_INBOUND_INFO: dict[str, Any] = {"reason": "", "step": "", "error": "", "message_id": "", "sender": "",
                                    "subject": "", "flags": {}}
_INSERT_EVENT = ('INSERT INTO "event" ("kind", "actor", "data", "created_at", "inbound_id", "ticket_id")'
                 ' VALUES (?, ?, ?, ?, ?, ?)')
# The events of the task's current mail, while ``gathered_events`` is open (per task: mails are
# processed concurrently by ``serve``).
_PENDING_EVENTS: ContextVar["GatheredEvents | None"] = ContextVar("pending_events", default=None)
# The events of an ingest batch's processed mails, written when the batch commits.
_BATCH_EVENTS: ContextVar[list[tuple[Any, ...]] | None] = ContextVar("batch_events", default=None)
_TICKET_FIELDS = ("subject", "normalized_subject", "status", "urgency", "line", "team", "mailbox", "company_id",
                  "requester_id", "created_at", "updated_at", "assignee", "tags", "sla_policy", "sla_policy_rule",
                  "first_response_due", "next_response_due", "update_due", "resolution_due", "next_due",
                  "status_since", "sla_paused_at", "sla_paused_seconds", "history_only")
_TICKET_DEFAULTS: dict[str, Any] = {"assignee": "", "tags": [], "sla_policy": "", "sla_policy_rule": "",
                                    "first_response_due": None, "next_response_due": None, "update_due": None,
                                    "resolution_due": None, "next_due": None, "status_since": None,
                                    "sla_paused_at": None, "sla_paused_seconds": 0, "history_only": False}
_STORED_FIELDS = ("id", "number", "sla_policy", "urgency", "line", "team", "assignee", "status", "tags",
                  "sla_policy_rule", "mailbox", "created_at", "updated_at", "status_since", "sla_paused_at",
                  "sla_paused_seconds", *DUE_COLUMNS.values(), "merged_into", "history_only", "company_id")
MAX_REFS = 50  # a References header of hundreds of IDs (long threads): its newest few name the thread

_MESSAGE_FIELDS = ("ticket_id", "inbound_id", "message_id", "fingerprint", "in_reply_to", "references", "direction",
                   "visibility", "from_name", "from_addr", "to", "cc", "subject", "date", "text", "reply_text", "html",
                   "html_sanitized", "flags", "thread_signal")
_MESSAGE_JSON = frozenset(("in_reply_to", "references", "to", "cc", "flags"))
_ATTACHMENT_FIELDS = ("filename", "content_type", "size", "sha256", "content_id", "inline")


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _columns(names: Sequence[str], table: str = "") -> str:
    prefix = f"{table}." if table else ""
    return ", ".join(f'{prefix}"{n}"' for n in names)


# A ticket with its company and requester, and whether an agent follows it (``_stored_ticket``).
_STORED_TICKET_COLUMNS = (
    f'{_columns(_STORED_FIELDS, "t")}, c."name", c."tier", p."email",'
    ' EXISTS (SELECT 1 FROM "ticket_collaborator" tc WHERE tc."ticket_id" = t."id")'
)
_STORED_TICKET_JOINS = 'LEFT JOIN "company" c ON c."id" = t."company_id" JOIN "contact" p ON p."id" = t."requester_id"'


def _stored_message(row: Sequence[Any]) -> StoredMessage:
    """A row of ``stored_messages``: the message's ID, id and fingerprint, then its ticket's columns."""
    ticket_row = row[3:]
    values = dict(zip((*_STORED_FIELDS, "company", "tier", "requester"), ticket_row, strict=False))
    ref = TicketRef(int(values["id"]), int(values["number"]), str(values["status"]),
                    _int_or_none(values["company_id"]), str(values["requester"]), _int_or_none(values["merged_into"]))
    return StoredMessage(int(row[1]), str(row[2]), ref, ticket_row)


def _stored_ticket(row: Sequence[Any]) -> "StoredTicket":
    values = dict(zip((*_STORED_FIELDS, "company", "tier", "requester", "followed"), row, strict=True))
    state = TicketState(urgency=str(values["urgency"]), line=int(values["line"]), team=str(values["team"]),
                        assignee=str(values["assignee"]), status=str(values["status"]),
                        tags=frozenset(from_json(values["tags"]) or ()), sla_policy=str(values["sla_policy_rule"]))
    created = from_db_datetime(values["created_at"])
    return StoredTicket(
        id=int(values["id"]), number=int(values["number"]), state=state, policy=str(values["sla_policy"]),
        mailbox=str(values["mailbox"]),
        company=str(values["company"] or ""), tier=str(values["tier"] or ""), created_at=created,
        updated_at=from_db_datetime(values["updated_at"]),
        status_since=_moment(values["status_since"]) or created,
        paused_at=_moment(values["sla_paused_at"]), paused=timedelta(seconds=int(values["sla_paused_seconds"] or 0)),
        dues={target: _moment(values[column]) for target, column in DUE_COLUMNS.items()},
        merged_into=_int_or_none(values["merged_into"]),
        history_only=bool(values["history_only"]), followed=bool(values["followed"]),
        requester=str(values["requester"]), company_id=_int_or_none(values["company_id"]),
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _moment(value: Any) -> datetime | None:
    return from_db_datetime(value) if value is not None else None


def _flat(rows: Any) -> list[Any]:
    """``values_list(..., flat=True)`` returns plain values; Tortoise's stubs say tuples."""
    return cast(list[Any], rows)



