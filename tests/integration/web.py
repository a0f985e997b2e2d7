"""A browser for the panel in process: cookies kept by hand, CSRF tokens read from the forms."""

import functools
import re
from datetime import UTC, datetime

import httpx

from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.web.passwords import hash_password

PASSWORD = "correct horse battery"
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@functools.cache
def hashed_password() -> str:
    return hash_password(PASSWORD)  # argon2 takes a fifth of a second: once per run


class Browser:
    """Cookies kept by hand (a cookie jar would second-guess a loopback IP); redirects not followed."""

    def __init__(self, client: httpx.AsyncClient, host: str = "127.0.0.1:8000") -> None:
        self.client, self.host = client, host
        self.cookies: dict[str, str] = {}

    async def get(self, path: str, **headers: str) -> httpx.Response:
        return self._keep(await self.client.get(path, headers=self._headers(headers)))

    async def post(self, path: str, form: dict[str, str], csrf: bool = True, **headers: str) -> httpx.Response:
        if csrf:
            form = {**form, "_csrf_token": await self.csrf_token()}
        return self._keep(await self.client.post(path, data=form, headers=self._headers(headers)))

    async def csrf_token(self) -> str:
        page = await self.get("/login")
        found = _CSRF_FIELD.search(page.text)
        assert found, page.text
        return found.group(1)

    async def log_in(self, email: str = "oleg@example.com", password: str = PASSWORD, **form: str) -> httpx.Response:
        return await self.post("/login", {"email": email, "password": password, **form})

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"host": self.host, **({"cookie": cookie} if cookie else {}), **extra}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or 'expires=thu, 01 jan 1970' in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip('"')
        return response


async def logged_in(client: httpx.AsyncClient, agent: str, host: str = "127.0.0.1:8000") -> Browser:
    """A browser with a session for ``agent`` made as a login makes it (no password needed)."""
    browser = Browser(client, host)
    browser.cookies["mhd_session"] = await AccountStore().open_session(agent, datetime.now(UTC))
    return browser
