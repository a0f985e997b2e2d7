"""Search over tickets: full text of subjects and bodies, by sender, company, ticket number.

``GET /search?q=…`` is a form and its results; the search itself is ``store/search.py``'s
``search_tickets``, which the REST API shares. A GET, so a search is a link an agent can keep
or send to a colleague, and it changes nothing (no CSRF token needed).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.params import FromQuery
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime
from mailhelpdesk.store.search import MAX_QUERY_CHARS, search_tickets
from mailhelpdesk.web.pages import page

RESULTS = 50


@dataclass(frozen=True, slots=True)
class Search:
    runtime: Runtime
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        @get("/search", name="search")
        async def search_page(request: Request[Any, Any, Any], q: FromQuery[str] = "") -> Template:
            query = q[:MAX_QUERY_CHARS].strip()
            hits = await search_tickets(query, limit=RESULTS) if query else []
            return page("search.html.j2", request, q=query, hits=hits, limit=RESULTS)

        return [search_page]
