"""Who is asking: a logged-in agent's browser (session cookie) or an API client (bearer token).

Every route needs one unless it opts out (``exclude_from_auth``: the login form, health, the
customers' signed links, static files). An agent counts only while the rules file declares
them: taking an agent out of the rules ends their sessions and tokens at the next request.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.accounts import AccountStore

SESSION_COOKIE = "mhd_session"
API_PREFIX = "/api/"


@dataclass(frozen=True, slots=True)
class PanelUser:
    email: str
    name: str
    role: str  # "agent" or "admin"
    teams: tuple[str, ...]
    via: str  # "session" or "token"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display(self) -> str:
        return self.name or self.email


def panel_user(ruleset: RuleSet, email: str, via: str) -> PanelUser | None:
    agent = ruleset.agent(email)
    if agent is None:
        return None
    return PanelUser(agent.email, agent.name, agent.role, agent.teams, via)


class AgentAuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` to a ``PanelUser``; raises ``NotAuthorizedException`` otherwise."""

    def __init__(self, app: ASGIApp, accounts: AccountStore, rules: Callable[[], RuleSet],
                 clock: Callable[[], datetime], exclude: list[str] | None = None) -> None:
        super().__init__(app, exclude=exclude)
        self.accounts, self.rules, self.clock = accounts, rules, clock

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        if connection.url.path.startswith(API_PREFIX):
            user = await self._by_token(connection.headers.get("authorization", ""))
        else:
            user = await self._by_session(connection.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            raise NotAuthorizedException("log in first")
        return AuthenticationResult(user=user, auth=user.via)

    async def _by_session(self, token: str) -> PanelUser | None:
        session = await self.accounts.session(token, self.clock()) if token else None
        return panel_user(self.rules(), session.agent, "session") if session else None

    async def _by_token(self, header: str) -> PanelUser | None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        agent = await self.accounts.token_agent(token.strip(), self.clock())
        return panel_user(self.rules(), agent, "token") if agent else None


def admins_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard for admin pages and API calls."""
    if not isinstance(connection.user, PanelUser) or not connection.user.is_admin:
        raise PermissionDeniedException("for admins only")


class LoginLimiter:
    """Failed logins per address and per client: after too many in a window, wait.

    In memory: it restarts with the process, which is good enough to make guessing slow
    (5 tries per address per 15 minutes is 480 a day).
    """

    def __init__(self, per_address: int = 5, per_client: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"address": per_address, "client": per_client}
        self.window, self.clock = window, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def wait(self, address: str, client: str) -> int:
        """Seconds until another try is allowed (0: now)."""
        now = self.clock()
        waits = [self._wait(("address", address.lower()), now), self._wait(("client", client), now)]
        return max(waits)

    def failed(self, address: str, client: str) -> None:
        now = self.clock()
        for key in (("address", address.lower()), ("client", client)):
            self._failures.setdefault(key, deque(maxlen=self.limits[key[0]])).append(now)
        if len(self._failures) > 100_000:  # a flood of made-up addresses must not grow memory forever
            self._forget_old(now)

    def succeeded(self, address: str) -> None:
        self._failures.pop(("address", address.lower()), None)

    def _wait(self, key: tuple[str, str], now: float) -> int:
        failures = self._failures.get(key)
        if failures is None or len(failures) < self.limits[key[0]]:
            return 0
        return max(0, int(failures[0] + self.window - now) + 1)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] + self.window < now]:
            del self._failures[key]
