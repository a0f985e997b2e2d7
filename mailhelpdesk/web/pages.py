"""What every panel page shares: who is asking, and the template context they get."""

from datetime import datetime
from typing import Any, Protocol

from litestar import Request
from litestar.exceptions import NotFoundException
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.store.models import INT4_MAX
from mailhelpdesk.web.auth import PanelUser


class Section(Protocol):
    """A part of the panel (queues, the ticket page, search, admin …): its route handlers."""

    def handlers(self) -> list[AnyCallable]: ...


def user_of(request: Request[Any, Any, Any]) -> PanelUser:
    """The logged-in agent; the auth middleware lets no other request reach an agent page."""
    user = request.scope.get("user")
    assert isinstance(user, PanelUser), "an agent page without a logged-in agent"
    return user




def known_id(value: int, what: str = "ticket") -> int:
    """``value`` if it can name a row; else 404 (never a query the database refuses)."""
    if not 0 < value <= INT4_MAX:
        raise NotFoundException(f"no such {what}")
    return value


def page(template: str, request: Request[Any, Any, Any], **context: Any) -> Template:
    """An agent page: ``user`` is always there for the header."""
    return Template(template, context={"user": user_of(request), **context})


def time_left(due: datetime | None, now: datetime) -> str:
    """A deadline as an agent reads it: "in 2 h 05 min", "3 d 4 h overdue", "—"."""
    if due is None:
        return "—"
    seconds = int((due - now).total_seconds())
    span = _span(abs(seconds))
    return f"in {span}" if seconds >= 0 else f"{span} overdue"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
