"""The web panel (read-only ticket views for now) and the customers' survey pages, served on loopback."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from mailhelpdesk.domain.types import Direction, InboundState
from mailhelpdesk.store.models import Inbound, Message, Outbox, Ticket
from mailhelpdesk.store.outbox import QUEUED, SENDING, SENT

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"


@get("/")
async def ticket_list(status: FromQuery[str | None] = None) -> Template:
    query = Ticket.all().order_by("-number").limit(200).prefetch_related("requester", "company")
    if status:
        query = query.filter(status=status)
    quarantined = await Inbound.filter(state=InboundState.QUARANTINED.value).count()
    return Template("tickets.html.j2", context={"tickets": await query, "quarantined": quarantined})


@get("/tickets/{number:int}")
async def ticket_detail(number: FromPath[int]) -> Template:
    ticket = await Ticket.get_or_none(number=number).prefetch_related(
        "requester", "company", "cc", "messages__attachments", "rating"
    )
    if ticket is None:
        raise NotFoundException(f"no ticket #{number}")
    messages = sorted(ticket.messages, key=lambda m: (m.date, m.id))
    outbox = await Outbox.filter(ticket_id=ticket.id).order_by("id").only(
        "id", "template", "audience", "recipient", "status", "reason", "attempts", "created_at", "sent_at")
    return Template("ticket.html.j2", context={"ticket": ticket, "messages": messages, "outbox": outbox,
                                               "delivery": deliveries(messages, outbox)})


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


@get("/health")
async def health() -> dict[str, Any]:
    pending = await Inbound.filter(state=InboundState.ACCEPTED.value).count()
    return {"status": "ok", "pending": pending}


def create_web_app(on_shutdown: list[Any] | None = None, extra: Sequence[Any] = ()) -> Litestar:
    """The panel; ``extra`` are route handlers built with the runtime (the survey links)."""
    return Litestar(
        route_handlers=[ticket_list, ticket_detail, health, *extra],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        on_shutdown=on_shutdown or [],
    )
