"""Logging in and out of the panel.

A session is created only by a successful login, always with a new random token; a cookie the
browser brought along (anyone's choice) is ended, never promoted: session fixation has nothing
to hold on to. A failed login says only "wrong address or password", takes the same work
whether or not the address is an agent's, and counts towards the ``LoginLimiter``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.types import AnyCallable

from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.accounts import SESSION_MAX, AccountStore
from mailhelpdesk.web.auth import SESSION_COOKIE, LoginLimiter
from mailhelpdesk.web.passwords import MAX_LENGTH, hash_password, needs_rehash, verify_password


@dataclass(frozen=True, slots=True)
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = "/"


@dataclass(frozen=True, slots=True)
class Login:
    accounts: AccountStore
    rules: Callable[[], RuleSet]
    limiter: LoginLimiter
    clock: Callable[[], datetime]
    secure_cookies: bool  # public_url is https

    def handlers(self) -> list[AnyCallable]:
        login = self

        @get("/login", exclude_from_auth=True, name="login")
        async def login_form(next: FromQuery[str] = "/") -> Template:
            return _page(safe_next(next))

        @post("/login", exclude_from_auth=True, status_code=303)
        async def log_in(request: Request[Any, Any, Any],
                         data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
                         ) -> Redirect | Template:
            return await login._log_in(request, data)

        @post("/logout", status_code=303)
        async def log_out(request: Request[Any, Any, Any]) -> Redirect:
            await login.accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
            response = Redirect("/login", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        return [login_form, log_in, log_out]

    async def _log_in(self, request: Request[Any, Any, Any], form: LoginForm) -> Redirect | Template:
        email, client = form.email.strip().lower()[:320], request.client.host if request.client else ""
        wait = self.limiter.wait(email, client)
        if wait:
            minutes = max(1, round(wait / 60))
            return _page(safe_next(form.next), email, f"Too many failed tries. Try again in {minutes} min.",
                         429, {"Retry-After": str(wait)})
        stored = await self.accounts.password_hash(email) if self.rules().agent(email) else None
        if not verify_password(stored, form.password[:MAX_LENGTH + 1]) or stored is None:
            self.limiter.failed(email, client)
            return _page(safe_next(form.next), email, "Wrong address or password.", 401)
        self.limiter.succeeded(email)
        return await self._open(request, email, form, stored)

    async def _open(self, request: Request[Any, Any, Any], email: str, form: LoginForm, stored: str) -> Redirect:
        if needs_rehash(stored):  # made with weaker parameters than today's
            await self.accounts.set_password(email, hash_password(form.password), self.clock())
        brought = request.cookies.get(SESSION_COOKIE)
        if brought:
            await self.accounts.close_session(brought)
        token = await self.accounts.open_session(email, self.clock())
        response = Redirect(safe_next(form.next), status_code=303)
        response.set_cookie(Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                                   secure=self.secure_cookies, max_age=int(SESSION_MAX.total_seconds())))
        return response


def safe_next(target: str) -> str:
    """Where to go after logging in: a path of this panel, never another site."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\\"):
        return "/"
    return target[:2000]


def _page(next_path: str, email: str = "", error: str = "", status: int = 200,
          headers: dict[str, str] | None = None) -> Template:
    return Template("login.html.j2", context={"next": next_path, "email": email, "error": error},
                    status_code=status, headers=headers or {})
