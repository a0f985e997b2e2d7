"""Queries and writes used by the pipeline and commands; callers get plain values or models."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from mailhelpdesk.domain.types import InboundState, TicketStatus
from mailhelpdesk.store.models import (
    INBOUND_SUMMARY_FIELDS,
    Attachment,
    Company,
    CompanyDomain,
    Contact,
    Event,
    Inbound,
    Message,
    Ticket,
)


@dataclass(frozen=True, slots=True)
class AcceptResult:
    inbound_id: int
    created: bool
    state: str


@dataclass(frozen=True, slots=True)
class TicketRef:
    id: int
    number: int
    status: str
    company_id: int | None
    requester_email: str


class Repository:
    """The one place that knows how intake state is stored."""

    def __init__(self) -> None:
        self._next_number: int | None = None

    # --- accept / spool ------------------------------------------------------------------

    async def accept(self, mailbox: str, raw: bytes, source: str, now: datetime) -> AcceptResult:
        """Store raw bytes durably; the same bytes for the same mailbox are stored once."""
        digest = hashlib.sha256(raw).hexdigest()
        try:  # insert first: new mail is the common case, and the unique key settles races
            row = await Inbound.create(
                mailbox=mailbox, raw_message=raw, raw_sha256=digest, size=len(raw), source=source[:1000],
                state=InboundState.ACCEPTED.value, accepted_at=now,
            )
        except IntegrityError:
            same = await Inbound.get(mailbox=mailbox, raw_sha256=digest).only("id", "state")
            return AcceptResult(same.id, False, same.state)
        return AcceptResult(row.id, True, row.state)

    async def claim_inbound(self, inbound_id: int) -> str:
        """Lock the row for this transaction and return its state (PostgreSQL: concurrent claims wait)."""
        claimed = await Inbound.filter(id=inbound_id, state=InboundState.ACCEPTED.value).update(
            attempts=F("attempts") + 1
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

    async def pending_inbound_ids(self) -> list[int]:
        rows = await Inbound.filter(state=InboundState.ACCEPTED.value).order_by("id").values_list("id", flat=True)
        return [int(r) for r in _flat(rows)]

    async def finish_inbound(self, inbound_id: int, state: InboundState, now: datetime, **info: Any) -> None:
        await Inbound.filter(id=inbound_id).update(state=state.value, processed_at=now, **info)

    async def fail_inbound(self, inbound_id: int, now: datetime, **info: Any) -> None:
        """Quarantine after an error; the failed attempt counts (its own claim was rolled back)."""
        await Inbound.filter(id=inbound_id).update(
            state=InboundState.QUARANTINED.value, processed_at=now, attempts=F("attempts") + 1, **info
        )

    async def inbound_list(self, states: Sequence[InboundState]) -> list[Inbound]:
        return await Inbound.filter(state__in=[s.value for s in states]).order_by("id").only(*INBOUND_SUMMARY_FIELDS)

    # --- messages and threads ------------------------------------------------------------

    async def message_by_message_id(self, message_id: str) -> tuple[int, str, int] | None:
        row = await Message.filter(message_id=message_id).values_list("id", "fingerprint", "ticket_id")
        return (int(row[0][0]), str(row[0][1]), int(row[0][2])) if row else None

    async def ticket_by_message_ids(self, message_ids: Sequence[str]) -> tuple[str, TicketRef] | None:
        """The ticket of the first of ``message_ids`` (in the given order) that we have stored."""
        ids = list(dict.fromkeys(message_ids))[:200]
        if not ids:
            return None
        rows = await Message.filter(message_id__in=ids).values_list(
            "message_id", "ticket_id", "ticket__number", "ticket__status", "ticket__company_id",
            "ticket__requester__email",
        )
        found = {str(r[0]): r for r in rows}
        for message_id in ids:
            if message_id in found:
                _, tid, num, status, company_id, email = found[message_id]
                return message_id, TicketRef(int(tid), int(num), str(status), company_id, str(email))
        return None

    async def ticket_ref(self, *, ticket_id: int | None = None, number: int | None = None) -> TicketRef | None:
        query = Ticket.filter(id=ticket_id) if ticket_id is not None else Ticket.filter(number=number)
        rows = await query.values_list("id", "number", "status", "company_id", "requester__email")
        if not rows:
            return None
        tid, num, status, company_id, email = rows[0]
        return TicketRef(int(tid), int(num), str(status), company_id, str(email))

    async def ticket_cc_emails(self, ticket_id: int) -> set[str]:
        cc = await Contact.filter(cc_tickets__id=ticket_id).values_list("email", flat=True)
        return {str(e) for e in cc}

    async def recent_ticket_by_subject(
        self, requester_email: str, normalized_subject: str, since: datetime
    ) -> TicketRef | None:
        rows = await (
            Ticket.filter(
                requester__email=requester_email, normalized_subject=normalized_subject, updated_at__gte=since
            )
            .exclude(status=TicketStatus.CLOSED.value)
            .order_by("-updated_at")
            .limit(1)
            .values_list("id", "number", "status", "company_id")
        )
        if not rows:
            return None
        tid, num, status, company_id = rows[0]
        return TicketRef(int(tid), int(num), str(status), company_id, requester_email)

    # --- companies and contacts ----------------------------------------------------------

    async def company_for_domains(self, candidates: Sequence[str]) -> int | None:
        """The company owning the most specific of ``candidates`` (a domain and its parents)."""
        rows = await CompanyDomain.filter(domain__in=list(candidates)).values_list("domain", "company_id")
        owners = dict(rows)
        for domain in candidates:
            if domain in owners:
                return int(owners[domain])
        return None

    async def create_company(self, name: str, domains: Sequence[str], tier: str, auto: bool) -> int:
        company = await Company.create(name=name, tier=tier, auto_created=auto)
        for domain in domains:
            await CompanyDomain.create(domain=domain, company_id=company.id)
        return company.id

    async def upsert_company(self, name: str, domains: Sequence[str], tier: str) -> int:
        """Seed a company: create it or update its tier; move the listed domains to it."""
        company = await Company.get_or_none(name=name)
        if company is None:
            company = await Company.create(name=name, tier=tier, auto_created=False)
        elif company.tier != tier or company.auto_created:
            company.tier, company.auto_created = tier, False
            await company.save(update_fields=["tier", "auto_created"])
        for domain in domains:
            existing = await CompanyDomain.get_or_none(domain=domain)
            if existing is None:
                await CompanyDomain.create(domain=domain, company_id=company.id)
            elif existing.company_id != company.id:  # type: ignore[attr-defined]
                await CompanyDomain.filter(id=existing.id).update(company_id=company.id)
        return company.id

    async def contact(self, email: str, name: str, company_id: int | None) -> int:
        existing = await Contact.filter(email=email).values_list("id", "name", "company_id")
        if existing:
            cid, old_name, old_company = existing[0]
            changes: dict[str, Any] = {}
            if name and not old_name:
                changes["name"] = name[:200]
            if company_id is not None and old_company is None:
                changes["company_id"] = company_id
            if changes:
                await Contact.filter(id=cid).update(**changes)
            return int(cid)
        contact = await Contact.create(email=email, name=name[:200], company_id=company_id)
        return contact.id

    # --- tickets -------------------------------------------------------------------------

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
        ticket = await Ticket.create(number=number, **fields)
        self._next_number = number + 1
        return TicketRef(ticket.id, number, ticket.status, fields.get("company_id"), requester_email)

    async def touch_ticket(self, ticket_id: int, when: datetime) -> None:
        """Move ``updated_at`` forward (never back: mail clocks are often wrong)."""
        await Ticket.filter(id=ticket_id, updated_at__lt=when).update(updated_at=when)

    async def update_ticket(self, ticket_id: int, **changes: Any) -> None:
        await Ticket.filter(id=ticket_id).update(**changes)

    async def add_cc(self, ticket_id: int, contact_ids: Iterable[int]) -> list[int]:
        wanted = list(dict.fromkeys(contact_ids))
        if not wanted:
            return []
        ticket = await Ticket.get(id=ticket_id)
        present = {int(i) for i in _flat(await ticket.cc.all().values_list("id", flat=True))}
        present.add(ticket.requester_id)  # type: ignore[attr-defined]
        new = [cid for cid in wanted if cid not in present]
        if new:
            await ticket.cc.add(*await Contact.filter(id__in=new))
        return new



    async def add_message(self, attachments: Sequence[dict[str, Any]], **fields: Any) -> int:
        message = await Message.create(**fields)
        if attachments:
            await Attachment.bulk_create(
                [Attachment(message_id=message.id, position=i, **a) for i, a in enumerate(attachments)]
            )
        return int(message.id)

    async def event(self, kind: str, data: dict[str, Any], ticket_id: int | None = None,
                    inbound_id: int | None = None, actor: str = "system") -> None:
        await Event.create(kind=kind, data=data, ticket_id=ticket_id, inbound_id=inbound_id, actor=actor)


def _flat(rows: Any) -> list[Any]:
    """``values_list(..., flat=True)`` returns plain values; Tortoise's stubs say tuples."""
    return cast(list[Any], rows)


def transaction() -> Any:
    """A database transaction (async context manager)."""
    return in_transaction()
