"""SMTP and LMTP receivers: ``250`` only after the raw bytes are committed, ``451`` on any failure.

The handlers run in the application's event loop (not aiosmtpd's threaded Controller),
because the ORM's connection context lives in this loop. Processing happens after the
reply, in the inbound worker, so a slow pipeline never stalls the sending MTA.

LMTP (RFC 2033) answers once per recipient after DATA, so an MTA that delivers one mail to
two of our mailboxes learns which one failed and retries only that one.

Cost under abuse is bounded: connections in all and per client address (``421``),
recipients per mail (``452``), message size (``552``), line length; a failure is one log line.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from mailhelpdesk.addresses import base_address
from mailhelpdesk.intake import Intake

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, please try again later"
# What one connection's reader buffers. RFC 5321 asks for 1,000 characters a line, but some
# senders write whole HTML bodies on one line or end lines with bare LFs: refusing them with 500
# would bounce the mail for good, so the DATA reader takes longer lines in parts (only the size
# limit refuses a mail); commands stay short.
LINE_LENGTH_LIMIT = 64 * 1024


def mailbox_for(recipient: str, addresses: Mapping[str, str]) -> str | None:
    """The mailbox name for an envelope recipient, accepting plus-addressed forms."""
    address = recipient.strip("<>").lower()
    return addresses.get(address) or addresses.get(base_address(address))


@dataclass
class SmtpHandler:
    intake: Intake
    addresses: Mapping[str, str]  # address -> mailbox name
    accepted: Callable[[int], None] = lambda _inbound_id: None  # rings the inbound worker
    max_recipients: int = 50
    draining: bool = False  # set on shutdown: new mail transactions get 421
    protocol: ClassVar[str] = "smtp"  # names the transport in each row's source

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.draining:
            return SHUTTING_DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if mailbox_for(address, self.addresses) is None:
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"  # RFC 5321 4.5.3.1.10: the client sends the rest later
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = _delivered(envelope)
        if raw is None:
            return TEMPFAIL
        boxes = dict.fromkeys(b for r in envelope.rcpt_tos if (b := mailbox_for(r, self.addresses)))
        stored = [await self._store(box, raw, session, envelope) for box in boxes]
        return f"250 2.0.0 OK queued as {','.join(str(i) for i in stored if i) or 'duplicate'}"

    async def _store(self, mailbox: str, raw: bytes, session: Session, envelope: Envelope) -> int | None:
        """Commit the bytes for one mailbox; the row's id if it waits for processing."""
        peer = session.peer[0] if session.peer else "?"
        source = f"{self.protocol}:{peer}:{_header_safe(envelope.mail_from)}"  # any bytes a client sent: made safe
        inbound_id, pending = await self.intake.accept(mailbox, raw, source)
        if not pending:
            return None
        self.accepted(inbound_id)
        return inbound_id

    async def handle_exception(self, error: Exception) -> str:
        """Never 5xx for our own faults: the sending MTA must keep the mail and retry."""
        log.error("SMTP session failed, answered 451: %s: %s", type(error).__name__, error)
        log.debug("the failure in full", exc_info=error)
        return TEMPFAIL


class LmtpHandler(SmtpHandler):
    """LMTP: one answer per recipient, in the order of the RCPT commands."""

    protocol: ClassVar[str] = "lmtp"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = _delivered(envelope)
        answers = [await self._deliver(recipient, raw, session, envelope) for recipient in envelope.rcpt_tos]
        return "\r\n".join(answers)  # each line is a complete reply of its own (RFC 2033 4.2)

    async def _deliver(self, recipient: str, raw: bytes | None, session: Session, envelope: Envelope) -> str:
        box = mailbox_for(recipient, self.addresses)
        try:
            if raw is None or box is None:  # cannot happen for a recipient RCPT took, but never 250 then
                raise LookupError("nothing to store")
            stored = await self._store(box, raw, session, envelope)
        except Exception as exc:  # noqa: BLE001 - this recipient fails alone; the MTA retries it
            log.error("LMTP delivery to %s failed, answered 451: %s: %s", recipient, type(exc).__name__, exc)
            return f"451 4.3.0 <{recipient}> temporary failure, please try again later"
        return f"250 2.0.0 <{recipient}> OK queued as {stored or 'duplicate'}"


def _delivered(envelope: Envelope) -> bytes | None:
    """The bytes to store, Return-Path included (``_Limited.smtp_DATA`` writes it first)."""
    content = envelope.original_content
    return content if isinstance(content, bytes) else None


def return_path(address: str | None) -> bytes:
    """As the final delivery agent we add Return-Path (RFC 5321 4.4); a null sender marks bounces."""
    return f"Return-Path: <{_header_safe(address)}>\r\n".encode()


def _header_safe(address: str | None) -> str:
    """The envelope sender as a header value: no line breaks, no angle brackets, ASCII-safe."""
    cleaned = "".join(ch for ch in (address or "") if ch.isprintable() and ch not in "<>\r\n")
    return cleaned.encode("ascii", "backslashreplace").decode()[:320]


@dataclass
class DataBudget:
    """The bytes of mail being received by all connections at once: each is bounded by the size
    limit, but fifty connections of one client would hold fifty of them."""

    limit: int
    used: int = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


@dataclass
class Connections:
    """The open connections of the receivers, counted in all and per client address, and the
    mail they are receiving."""

    max_total: int = 200
    max_per_client: int = 50
    budget: DataBudget = field(default_factory=lambda: DataBudget(256 * 1024 * 1024))
    open: set[SMTP] = field(default_factory=set)
    per_client: Counter[str] = field(default_factory=Counter)

    def admit(self, session: SMTP, client: str) -> bool:
        if len(self.open) >= self.max_total or self.per_client[client] >= self.max_per_client:
            return False
        self.open.add(session)
        self.per_client[client] += 1
        return True

    def release(self, session: SMTP, client: str) -> None:
        if session in self.open:
            self.open.discard(session)
            self.per_client[client] -= 1
            if self.per_client[client] <= 0:
                del self.per_client[client]

    async def drain(self, seconds: float) -> None:
        """Close every connection once its mail transaction (if any) is over, within ``seconds``;
        what is still open then is cut (its mail was not answered 250, so its sender retries)."""
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            for session in [s for s in self.open if _idle(s)]:
                await _say_goodbye(session)
            await asyncio.sleep(0.05)
        for session in list(self.open):
            if session.transport is not None:
                session.transport.close()


def _idle(session: SMTP) -> bool:
    """No mail transaction in progress (none begun, or the last one answered)."""
    envelope = session.envelope
    return envelope is None or envelope.mail_from is None


async def _say_goodbye(session: SMTP) -> None:
    """421 and close, without waiting for the client to read it: one that stops reading must not
    hold the shutdown."""
    transport = session.transport
    if transport is None or transport.is_closing():
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        transport.write(SHUTTING_DOWN.encode() + b"\r\n")  # type: ignore[attr-defined]
    transport.close()


class _Limited:
    """Admission by ``Connections`` for an aiosmtpd protocol (mixed in before SMTP or LMTP)."""

    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: SmtpHandler, connections: Connections, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[call-arg]
        self._connections = connections
        self._client = "?"
        self._admitted = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if getattr(self, "transport", None) is None:  # not the STARTTLS upgrade of a known connection
            peer = transport.get_extra_info("peername")
            self._client = str(peer[0]) if peer else "?"
            self._admitted = self._connections.admit(self, self._client)  # type: ignore[arg-type]
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        self._connections.release(self, self._client)  # type: ignore[arg-type]
        super().connection_lost(error)  # type: ignore[misc]

    async def _handle_client(self) -> None:
        if not self._admitted:  # refused before the greeting, as RFC 5321 3.1 allows with 421
            await self.push(TOO_MANY_CONNECTIONS)  # type: ignore[attr-defined]
            self.transport.close()  # type: ignore[attr-defined]
            return
        await super()._handle_client()  # type: ignore[misc]

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """DATA read into one buffer that starts with our Return-Path: aiosmtpd's own keeps every
        line as an object of its own and joins them at the end, four times the mail in memory."""
        session: Any = self
        if await session.check_helo_needed() or await session.check_auth_needed("DATA"):
            return
        if not session.envelope.rcpt_tos:
            await session.push("503 Error: need RCPT command")
            return
        if arg:
            await session.push("501 Syntax: DATA")
            return
        await session.push("354 End data with <CR><LF>.<CR><LF>")
        replies = len(session.envelope.rcpt_tos) if isinstance(self, LMTP) else 1  # LMTP: one per recipient
        budget = self._connections.budget
        content, refusal, taken = await _read_data(session._reader, return_path(session.envelope.mail_from),
                                                   session.data_size_limit, budget)
        try:
            if refusal:
                session._set_post_data_state()
                await session.push("\r\n".join([refusal] * replies))
                return
            session.envelope.original_content = session.envelope.content = content
            status = await session._call_handler_hook("DATA")
            session._set_post_data_state()
            await session.push(status)
        finally:
            budget.give(taken)


async def _read_data(reader: asyncio.StreamReader, head: bytes, limit: int,
                     budget: DataBudget) -> tuple[bytes, str, int]:
    """The mail up to the lone dot, dot-unstuffed, after ``head``, and the bytes taken from
    ``budget`` for it; or why it is refused (read to its end all the same, so the session goes
    on: RFC 5321 4.2.5). Only CRLF ends a line: a bare LF followed by a dot ends nothing (no
    smuggling of a second mail past an MTA that reads it otherwise)."""
    buffer, refusal, line_start, taken = bytearray(head), "", True, 0
    while True:
        try:
            piece = await reader.readuntil(b"\r\n")
            ends_line = True
        except asyncio.LimitOverrunError as overrun:  # a long line, or bare LFs: taken in parts
            piece, ends_line = await reader.readexactly(overrun.consumed), False
        if line_start and piece == b".\r\n":
            break
        if line_start and piece.startswith(b"."):
            piece = piece[1:]
        line_start = ends_line
        if not refusal:
            refusal = _refusal(len(buffer) - len(head) + len(piece), limit, budget, len(piece))
        if refusal:  # read on to the end, keeping nothing
            budget.give(taken)
            buffer, taken = bytearray(), 0
            continue
        buffer += piece
        taken += len(piece)
    return (b"" if refusal else bytes(buffer)), refusal, taken


def _refusal(size: int, limit: int, budget: DataBudget, more: int) -> str:
    if limit and size > limit:
        return "552 5.3.4 Message too big"
    if not budget.take(more):
        return "452 4.3.1 Too much mail being received at once, please try again later"
    return ""


class _LimitedSmtp(_Limited, SMTP):
    pass


class _LimitedLmtp(_Limited, LMTP):
    pass


async def start_smtp(handler: SmtpHandler, host: str, port: int, max_bytes: int,
                     connections: Connections | None = None, lmtp: bool = False,
                     **kwargs: Any) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    limits = connections or Connections()
    protocol = _LimitedLmtp if lmtp else _LimitedSmtp
    return await loop.create_server(
        lambda: protocol(handler, limits, hostname=kwargs.get("hostname"), ident="mailhelpdesk",
                         data_size_limit=max_bytes, enable_SMTPUTF8=True),
        host, port,
    )
