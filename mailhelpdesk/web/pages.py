"""What every panel page shares: who is asking, and the template context they get."""

from typing import Any, Protocol

from litestar import Request
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.web.auth import PanelUser


class Section(Protocol):
    """A part of the panel (queues, the ticket page, search, admin …): its route handlers."""

    def handlers(self) -> list[AnyCallable]: ...


def user_of(request: Request[Any, Any, Any]) -> PanelUser:
    """The logged-in agent; the auth middleware lets no other request reach an agent page."""
    user = request.scope.get("user")
    assert isinstance(user, PanelUser), "an agent page without a logged-in agent"
    return user


def page(template: str, request: Request[Any, Any, Any], **context: Any) -> Template:
    """An agent page: ``user`` is always there for the header."""
    return Template(template, context={"user": user_of(request), **context})
