"""The web panel: agents log in and see tickets; customers' signed survey links; health.

``create_web_app`` is the panel's composition root: it builds the handlers from the runtime
and wraps the Litestar app in ``SecureApp`` (Host check and security headers on every response).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig

from mailhelpdesk.app import Runtime, utc_now
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.store.models import Inbound
from mailhelpdesk.store.outbox import OutboxStore
from mailhelpdesk.store.queues import Queues
from mailhelpdesk.store.service_status import read_status
from mailhelpdesk.web.admin import Admin
from mailhelpdesk.web.api import Api, openapi_config
from mailhelpdesk.web.auth import API_PREFIX, AgentAuthMiddleware, LoginLimiter
from mailhelpdesk.web.canned import SHIPPED, CannedReplies
from mailhelpdesk.web.cards import Cards
from mailhelpdesk.web.login import Login
from mailhelpdesk.web.metrics_route import MetricsEndpoint
from mailhelpdesk.web.pages import Section
from mailhelpdesk.web.queues import QueueList
from mailhelpdesk.web.search import Search
from mailhelpdesk.web.security import SecureApp, allowed_hosts
from mailhelpdesk.web.status_page import StatusPage
from mailhelpdesk.web.survey import Survey
from mailhelpdesk.web.ticket_actions import TicketActions
from mailhelpdesk.web.ticket_page import TicketPage

log = logging.getLogger("mailhelpdesk.web")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent / "static"
CSRF_COOKIE = "mhd_csrf"


@get("/api/v1/me", include_in_schema=True)
async def api_me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Whom the bearer token belongs to: the smallest check that a token works."""
    user = request.user
    return {"email": user.email, "name": user.name, "role": user.role, "teams": list(user.teams)}


@get("/health", exclude_from_auth=True)
async def health() -> dict[str, Any]:
    pending = await Inbound.filter(state=InboundState.ACCEPTED.value).count()
    return {"status": "ok", "pending": pending}


@get("/healthz", exclude_from_auth=True)
async def alive() -> dict[str, str]:
    """Liveness: the process answers (nothing else is checked: a restart would not help)."""
    return {"status": "alive"}


@get("/healthz/ready", exclude_from_auth=True)
async def ready() -> Response[dict[str, Any]]:
    """Readiness: the database answers; the backlog, the breaker and each IMAP folder come along."""
    try:
        found = await read_status(OutboxStore())
    except Exception as exc:  # noqa: BLE001 - a database that is down or unreachable: not ready, and why
        return Response({"status": "not ready", "error": type(exc).__name__}, status_code=503)
    return Response({"status": "ready", "pending": found.inbound["accepted"], "breaker": found.breaker,
                     "imap": {f"{f.mailbox}/{f.folder}": f.error or "ok" for f in found.folders}})


def create_web_app(runtime: Runtime, clock: Callable[[], datetime] | None = None,
                   on_shutdown: list[Any] | None = None) -> SecureApp:
    """The panel for ``runtime``'s database and rules, behind the Host check and security headers."""
    settings = runtime.settings
    now = clock or utc_now
    secure = settings.public_url.startswith("https://")
    accounts = AccountStore()
    login = Login(accounts, runtime.rules, LoginLimiter(), now, secure)
    survey = Survey(runtime.signer, runtime.repo, runtime.service, runtime.notifier.customer_language, now)
    static = create_static_files_router("/static", [STATIC], opt={"exclude_from_auth": True},
                                        cache_control=CacheControlHeader(max_age=3600))
    canned = CannedReplies(tuple(p for p in (_canned_dir(settings), SHIPPED) if p is not None),
                           settings.default_language)
    sections: list[Section] = [
        login, survey, QueueList(settings, now, Queues()),
        TicketPage(runtime.rules, runtime.repo, canned, runtime.notifier.customer_language, now),
        TicketActions(runtime.service, now), Cards(runtime, now), Search(runtime, now), Admin(runtime, now),
        StatusPage(runtime, now), Api(runtime.service, now),
        MetricsEndpoint(runtime.metrics, settings.metrics_token, now)]
    app = Litestar(
        route_handlers=[health, alive, ready, api_me, static,
                        *(handler for section in sections for handler in section.handlers())],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        middleware=[DefineMiddleware(AgentAuthMiddleware, accounts=accounts, rules=runtime.rules, clock=now)],
        csrf_config=CSRFConfig(secret=runtime.signer.key_for("csrf"), cookie_name=CSRF_COOKIE,
                               cookie_secure=secure, cookie_httponly=True,
                               exclude=["/survey/", "/status/", API_PREFIX]),
        exception_handlers={NotAuthorizedException: _to_login, HTTP_500_INTERNAL_SERVER_ERROR: _server_error},
        on_shutdown=on_shutdown or [],
        openapi_config=openapi_config(),
        include_in_schema=False,  # the panel's pages; the API's calls say they belong in the schema
        logging_config=None,  # the command line sets up logging (-v for INFO); Litestar's would set INFO on the root
    )
    return SecureApp(app, allowed_hosts(settings.public_url, settings.web_host), secure)


def _canned_dir(settings: Settings) -> Path | None:
    admin = settings.admin_templates()
    return admin / "canned" if admin is not None else None


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The panel's one catch of unexpected errors: logged with the traceback (the request's
    path, never its body: it may hold a password or a customer's mail), and a bare 500."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


def _to_login(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """A browser goes to the login form (and back afterwards); an API client gets a 401."""
    if request.url.path.startswith(API_PREFIX):
        return Response({"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
