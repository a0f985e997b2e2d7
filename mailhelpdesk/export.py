"""JSON Lines export: every ticket with its thread, then every message that is not in a ticket.

The format is documented in docs/export.md; it is what a user needs to leave us.
"""

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TextIO

from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.store.models import INBOUND_SUMMARY_FIELDS, Inbound, Message, Ticket

EXPORT_VERSION = 1
_PAGE = 200
_NOT_IN_TICKET = [InboundState.IGNORED, InboundState.QUARANTINED, InboundState.DUPLICATE, InboundState.ACCEPTED]


async def export_records() -> AsyncIterator[dict[str, Any]]:
    async for ticket in _tickets():
        yield _ticket_record(ticket)
    async for row in _loose_inbound():
        yield _inbound_record(row)


async def write_export(out: TextIO) -> int:
    count = 0
    async for record in export_records():
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count


async def _tickets() -> AsyncIterator[Ticket]:
    last = -1
    while True:
        page = await (
            Ticket.filter(number__gt=last).order_by("number").limit(_PAGE)
            .prefetch_related("company__domains", "requester", "cc", "messages__attachments", "rating")
        )
        for ticket in page:
            yield ticket
        if len(page) < _PAGE:
            return
        last = page[-1].number


async def _loose_inbound() -> AsyncIterator[Inbound]:
    last = 0
    while True:
        page = await (
            Inbound.filter(id__gt=last, state__in=[s.value for s in _NOT_IN_TICKET])
            .order_by("id").limit(_PAGE).only(*INBOUND_SUMMARY_FIELDS)
        )
        for row in page:
            yield row
        if len(page) < _PAGE:
            return
        last = page[-1].id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ticket_record(ticket: Ticket) -> dict[str, Any]:
    company = ticket.company
    return {
        "type": "ticket",
        "version": EXPORT_VERSION,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "urgency": ticket.urgency,
        "line": ticket.line,
        "team": ticket.team,
        "assignee": ticket.assignee,
        "tags": sorted(ticket.tags or ()),
        "sla_policy": ticket.sla_policy,
        "deadlines": {column.removesuffix("_due"): _iso(getattr(ticket, column)) for column in DUE_COLUMNS.values()},
        "sla_clock": {"stopped_since": _iso(ticket.sla_paused_at), "stopped_seconds": ticket.sla_paused_seconds},
        "status_since": _iso(ticket.status_since or ticket.created_at),
        "mailbox": ticket.mailbox,
        "company": None if company is None else {
            "name": company.name,
            "domains": sorted(d.domain for d in company.domains),
            "tier": company.tier,
        },
        "requester": {"email": ticket.requester.email, "name": ticket.requester.name},
        "cc": sorted(({"email": c.email, "name": c.name} for c in ticket.cc), key=lambda c: c["email"]),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "rating": _rating_record(ticket),
        "messages": [_message_record(m) for m in sorted(ticket.messages, key=lambda m: (m.date, m.id))],
    }


def _rating_record(ticket: Ticket) -> dict[str, Any] | None:
    rating = getattr(ticket, "rating", None)
    if rating is None:
        return None
    return {"score": rating.score, "comment": rating.comment, "source": rating.source, "agent": rating.agent,
            "line": rating.line, "team": rating.team, "at": _iso(rating.updated_at)}


def _message_record(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": message.references,
        "direction": message.direction,
        "visibility": message.visibility,
        "from": {"email": message.from_addr, "name": message.from_name},
        "to": [{"email": a, "name": n} for n, a in message.to],
        "cc": [{"email": a, "name": n} for n, a in message.cc],
        "subject": message.subject,
        "date": _iso(message.date),
        "text": message.text,
        "reply_text": message.reply_text,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in sorted(message.attachments, key=lambda a: a.position)
        ],
        "flags": {
            "auto_reply": bool(message.flags.get("auto_reply")),
            "bounce": bool(message.flags.get("bounce")),
            "automated": bool(message.flags.get("automated")),
        },
        "template": str(message.flags.get("template", "")),
        "defects": list(message.flags.get("defects", [])),
        "thread_signal": message.thread_signal,
    }


def _inbound_record(row: Inbound) -> dict[str, Any]:
    return {
        "type": "inbound",
        "version": EXPORT_VERSION,
        "id": row.id,
        "mailbox": row.mailbox,
        "state": row.state,
        "reason": row.reason,
        "step": row.step,
        "error": row.error,
        "message_id": row.message_id,
        "from": row.sender,
        "subject": row.subject,
        "source": row.source,
        "size": row.size,
        "raw_sha256": row.raw_sha256,
        "accepted_at": _iso(row.accepted_at),
        "flags": {"auto_reply": bool(row.flags.get("auto_reply")), "bounce": bool(row.flags.get("bounce")),
                  "automated": bool(row.flags.get("automated"))},
    }
