"""The web panel: agents log in and see tickets; customers' signed survey links; health.

``create_web_app`` is the panel's composition root: it builds the handlers from the runtime
and wraps the Litestar app in ``SecureApp`` (Host check and security headers on every response).
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Litestar, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from mailhelpdesk.app import Runtime, utc_now
from mailhelpdesk.domain.types import Direction, InboundState
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.store.models import Inbound, Message, Outbox, Ticket
from mailhelpdesk.store.outbox import QUEUED, SENDING, SENT
from mailhelpdesk.web.auth import API_PREFIX, AgentAuthMiddleware, LoginLimiter
from mailhelpdesk.web.login import Login
from mailhelpdesk.web.security import SecureApp, allowed_hosts
from mailhelpdesk.web.admin import Admin
from mailhelpdesk.web.pages import Section
from mailhelpdesk.web.search import Search
from mailhelpdesk.web.status_page import StatusPage
from mailhelpdesk.web.survey import Survey

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
STATIC = Path(__file__).resolve().parent / "static"
CSRF_COOKIE = "mhd_csrf"


def _agent(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")


@get("/")
async def ticket_list(request: Request[Any, Any, Any], status: FromQuery[str | None] = None) -> Template:
    query = Ticket.all().order_by("-number").limit(200).prefetch_related("requester", "company")
    if status:
        query = query.filter(status=status)
    quarantined = await Inbound.filter(state=InboundState.QUARANTINED.value).count()
    return Template("tickets.html.j2", context={"tickets": await query, "quarantined": quarantined,
                                                "user": _agent(request)})


@get("/tickets/{number:int}")
async def ticket_detail(request: Request[Any, Any, Any], number: FromPath[int]) -> Template:
    ticket = await Ticket.get_or_none(number=number).prefetch_related(
        "requester", "company", "cc", "messages__attachments", "rating"
    )
    if ticket is None:
        raise NotFoundException(f"no ticket #{number}")
    messages = sorted(ticket.messages, key=lambda m: (m.date, m.id))
    outbox = await Outbox.filter(ticket_id=ticket.id).order_by("id").only(
        "id", "template", "audience", "recipient", "status", "reason", "attempts", "created_at", "sent_at")
    return Template("ticket.html.j2", context={"ticket": ticket, "messages": messages, "outbox": outbox,
                                               "delivery": deliveries(messages, outbox), "user": _agent(request)})


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


@get("/api/v1/me")
async def api_me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Whom the bearer token belongs to: the smallest check that a token works."""
    user = request.user
    return {"email": user.email, "name": user.name, "role": user.role, "teams": list(user.teams)}


@get("/health", exclude_from_auth=True)
async def health() -> dict[str, Any]:
    pending = await Inbound.filter(state=InboundState.ACCEPTED.value).count()
    return {"status": "ok", "pending": pending}


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
    sections: list[Section] = [login, survey, Search(runtime, now), Admin(runtime, now), StatusPage(runtime, now)]
    app = Litestar(
        route_handlers=[ticket_list, ticket_detail, health, api_me, static,
                        *(handler for section in sections for handler in section.handlers())],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        middleware=[DefineMiddleware(AgentAuthMiddleware, accounts=accounts, rules=runtime.rules, clock=now)],
        csrf_config=CSRFConfig(secret=runtime.signer.key_for("csrf"), cookie_name=CSRF_COOKIE,
                               cookie_secure=secure, cookie_httponly=True, exclude=["/survey/", API_PREFIX]),
        exception_handlers={NotAuthorizedException: _to_login},
        on_shutdown=on_shutdown or [],
    )
    return SecureApp(app, allowed_hosts(settings.public_url, settings.web_host), secure)


def _to_login(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """A browser goes to the login form (and back afterwards); an API client gets a 401."""
    if request.url.path.startswith(API_PREFIX):
        return Response({"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
