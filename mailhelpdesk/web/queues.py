"""The queues page (the panel's home): one queue's tickets a page at a time, every queue's count."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.exceptions import ValidationException
from litestar.params import FromQuery
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.config import Settings
from mailhelpdesk.store.queues import QUEUES, SORTS, URGENCY_RANK, Filters, Queues, Viewer
from mailhelpdesk.web.pages import page, time_left, user_of


@dataclass(frozen=True, slots=True)
class QueueList:
    settings: Settings
    clock: Callable[[], datetime]
    queues: Queues

    def handlers(self) -> list[AnyCallable]:
        section = self

        @get("/", name="queues")
        async def queue_page(request: Request[Any, Any, Any], queue: FromQuery[str] = "", sort: FromQuery[str] = "due",
                             after: FromQuery[str] = "", line: FromQuery[int | None] = None,
                             mailbox: FromQuery[str] = "", company: FromQuery[int | None] = None,
                             urgency: FromQuery[str] = "") -> Template:
            filters = section._filters(line, mailbox, company, urgency)
            return await section._render(request, queue, sort, after, filters)

        return [queue_page]

    def _filters(self, line: int | None, mailbox: str, company: int | None, urgency: str) -> Filters:
        if line is not None and line not in (1, 2, 3, 4):
            raise ValidationException(f"line: 1 to 4, not {line}")
        if urgency and urgency not in URGENCY_RANK:
            raise ValidationException(f"urgency: one of {', '.join(URGENCY_RANK)}")
        return Filters(line, mailbox[:100], company, urgency)

    async def _render(self, request: Request[Any, Any, Any], queue: str, sort: str, after: str,
                      filters: Filters) -> Template:
        if (queue and queue not in QUEUES) or sort not in SORTS:
            raise ValidationException(f"queue: one of {', '.join(QUEUES)}; sort: one of {', '.join(SORTS)}")
        user, now = user_of(request), self.clock()
        viewer = Viewer(user.email, user.teams)
        counts = await self.queues.counts(viewer, now, filters)
        queue = queue or ("mine" if counts["mine"] else "open")
        found = await self.queues.page(queue, viewer, now, sort, filters, after[:200])
        kept = _kept(filters, sort)
        return page("tickets.html.j2", request, queue=queue, queues=QUEUES, counts=counts, sort=sort, sorts=SORTS,
                    rows=found.rows, now=now, time_left=time_left, filters=filters, first_page=not after,
                    mailboxes=[m.name for m in self.settings.mailboxes], urgencies=list(URGENCY_RANK),
                    link=lambda **extra: "/?" + urlencode({"queue": queue, **kept, **extra}),
                    next_link="/?" + urlencode({"queue": queue, **kept, "after": found.next_cursor})
                    if found.next_cursor else "")


def _kept(filters: Filters, sort: str) -> dict[str, Any]:
    """The query parameters that stay when the agent moves between queues and pages."""
    kept: dict[str, Any] = {"sort": sort}
    for name, value in (("line", filters.line), ("mailbox", filters.mailbox), ("company", filters.company_id),
                        ("urgency", filters.urgency)):
        if value not in (None, ""):
            kept[name] = value
    return kept
