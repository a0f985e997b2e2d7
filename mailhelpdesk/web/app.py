"""The web panel (read-only ticket views for now) and the customers' survey pages, served on loopback."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import NotFoundException
from litestar.response import Template
from litestar.template.config import TemplateConfig

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.store.models import Inbound, Outbox, Ticket

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"


@get("/")
async def ticket_list(status: str | None = None) -> Template:
    query = Ticket.all().order_by("-number").limit(200).prefetch_related("requester", "company")
    if status:
        query = query.filter(status=status)
    quarantined = await Inbound.filter(state=InboundState.QUARANTINED.value).count()
    return Template("tickets.html.j2", context={"tickets": await query, "quarantined": quarantined})


@get("/tickets/{number:int}")
async def ticket_detail(number: int) -> Template:
    ticket = await Ticket.get_or_none(number=number).prefetch_related(
        "requester", "company", "cc", "messages__attachments", "rating"
    )
    if ticket is None:
        raise NotFoundException(f"no ticket #{number}")
    messages = sorted(ticket.messages, key=lambda m: (m.date, m.id))
    outbox = await Outbox.filter(ticket_id=ticket.id).order_by("id").only(
        "id", "template", "recipient", "status", "reason", "created_at", "sent_at")
    return Template("ticket.html.j2", context={"ticket": ticket, "messages": messages, "outbox": outbox})


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
