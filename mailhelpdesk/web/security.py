"""What every response of the panel carries, and which Host it answers to.

Wraps the whole ASGI app (not a route middleware), so 404s, static files and errors are
covered too. A request for a Host other than ``public_url``'s or loopback's is refused before
routing: a web page that rebinds its own DNS name to 127.0.0.1 reaches nothing.
"""

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Litestar types its own scope and events more narrowly

LOOPBACK = frozenset(("127.0.0.1", "localhost", "::1"))

# Scripts, styles and images only from the panel itself; no plugins, no framing, forms post only
# here. A sandboxed mail frame sets a stricter policy of its own.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_DEFAULTS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # signed links in a URL never leak to another site
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),  # customers' mail stays out of shared caches and the back button
)


def allowed_hosts(public_url: str, web_host: str) -> frozenset[str]:
    """``public_url``'s host name, the address the panel listens on (unless it is every address) and loopback."""
    hosts = set(LOOPBACK)
    public = urlsplit(public_url).hostname
    if public:
        hosts.add(public.lower())
    if web_host not in ("", "0.0.0.0", "::"):
        hosts.add(web_host.lower())
    return frozenset(hosts)


def host_name(value: str) -> str:
    """The host name of a Host header: without the port, IPv6 without brackets, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecureApp:
    """The panel's ASGI app behind the Host check, with the security headers on every response."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str], secure_cookies: bool) -> None:
        self.app = app
        self.hosts = frozenset(hosts)
        self.secure_cookies = secure_cookies
        self._defaults = (*_DEFAULTS, *((b"strict-transport-security", b"max-age=31536000"),) * secure_cookies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if host_name(_header(scope, b"host")) not in self.hosts:
            await _refuse(send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *((n, v) for n, v in self._defaults if n not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def _refuse(send: Send) -> None:
    body = b"unknown host: this panel answers to its public_url and to loopback only\n"
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        *_DEFAULTS]})
    await send({"type": "http.response.body", "body": body})
