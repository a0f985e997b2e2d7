"""Real SMTP servers for outbound tests: aiosmtpd in the test's own event loop on 127.0.0.1.

No mocks: the client under test speaks real SMTP (and real TLS) to these. Servers bind to
port 0 so the kernel picks a free port; if one cannot start, the test fails.
"""

import asyncio
import logging
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


@dataclass
class Received:
    """One message the sink accepted, as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool  # whether the session was encrypted (implicit TLS or after STARTTLS)
    authenticated: bool


@dataclass
class Sink:
    """aiosmtpd handler that records accepted mail; RCPT and DATA replies can be scripted."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply; others get 250
    data_reply: str = "250 2.0.0 OK queued as 42"
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt_replies.get(address, "250 2.1.5 OK")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if not self.data_reply.startswith("2"):
            return self.data_reply
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content),
                                      tls, bool(session.authenticated)))
        return self.data_reply


def password_authenticator(username: str, password: str) -> Any:
    """An aiosmtpd ``authenticator`` accepting exactly one login."""

    def check(server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data == (username.encode(), password.encode())
        return AuthResult(success=ok, handled=False)

    return check


@asynccontextmanager
async def smtp_sink(handler: Sink, *, implicit_tls: ssl.SSLContext | None = None, **smtp_kwargs: Any
                    ) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1 and yield the port; ``smtp_kwargs`` go to ``aiosmtpd.smtp.SMTP``
    (``tls_context=`` offers STARTTLS, ``authenticator=`` offers AUTH)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="localhost", **smtp_kwargs),
                                      "127.0.0.1", 0, ssl=implicit_tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never says a word (not even the 220 greeting)."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def unused_port() -> int:
    """A port nothing listens on (free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SelfSigned:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Verifies as strictly as the default, but trusts this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> SelfSigned:
    """A throw-away certificate for 127.0.0.1 / localhost, made by the openssl command line."""
    cert, key = directory / "c.pem", directory / "k.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return SelfSigned(cert, key)
