"""``GET /metrics``: the desk's numbers in Prometheus's text format, for a scraper.

A scraper cannot log in, so the route is outside the agents' login. With ``metrics_token`` set it
asks for ``Authorization: Bearer <token>``; without one it answers anyone who reaches it, which
is why it belongs on the monitoring network only (the reverse proxy publishes the customers'
pages, never this). The Host check of ``SecureApp`` applies as to every route: a scraper
addresses the panel by a name it answers to (``docs/metrics.md``). A GET changes nothing, so
there is no CSRF token to check, and none is handed out in a cookie either.
"""

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Response, get
from litestar.types import AnyCallable
from prometheus_client import CONTENT_TYPE_LATEST

from mailhelpdesk.metrics import Metrics


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    metrics: Metrics
    token: str  # '' asks for none
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        endpoint = self

        @get("/metrics", exclude_from_auth=True, exclude_from_csrf=True, include_in_schema=False)
        async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
            if not endpoint.allowed(request.headers.get("authorization", "")):
                return Response(b"a bearer token is required\n", status_code=401, media_type="text/plain",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
            # As a header: given as the media type, Litestar would add a second charset to it.
            return Response(await endpoint.metrics.scrape(endpoint.clock()),
                            headers={"content-type": CONTENT_TYPE_LATEST})

        return [metrics]

    def allowed(self, authorization: str) -> bool:
        if not self.token:
            return True
        scheme, _, given = authorization.partition(" ")
        # Constant time: how much of a guess was right must not show in how long the answer took.
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())
