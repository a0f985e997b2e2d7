"""The SMTP and LMTP receivers on real sockets: LMTP answers per recipient, and abuse is bounded
(connections per client, recipients per mail, long lines), a failure is one log line, and a
drain lets the mail being received finish while everyone else is told 421."""

import asyncio
import logging
import smtplib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tortoise import Tortoise

from mailhelpdesk.app import Runtime
from mailhelpdesk.ingest.smtp import Connections, DataBudget, LmtpHandler, SmtpHandler, start_smtp
from mailhelpdesk.store.models import Inbound

RAW = (b"From: Ivan <ivan@acme.com>\r\nTo: support@example.com\r\nSubject: printer\r\n"
       b"Message-ID: <recv-1@acme.com>\r\n\r\nThe printer is on fire.\r\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def receiver(rt: Runtime, lmtp: bool = False, connections: Connections | None = None, max_bytes: int = 0,
                   **handler_args: Any) -> AsyncIterator[tuple[int, SmtpHandler, Connections]]:
    kind = LmtpHandler if lmtp else SmtpHandler
    rung: list[int] = []
    handler = kind(rt.intake, {b.address: b.name for b in rt.settings.mailboxes}, rung.append, **handler_args)
    limits = connections or Connections()
    port = _free_port()
    server = await start_smtp(handler, "127.0.0.1", port, max_bytes or rt.settings.max_message_bytes, limits,
                              lmtp=lmtp)
    try:
        yield port, handler, limits
    finally:
        server.close()
        await limits.drain(1)


class Wire:
    """A client on a raw socket: every command and reply visible, several replies to one DATA."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline().decode()
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def send(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def begin(self, hello: str = "EHLO", recipients: tuple[str, ...] = ("support@example.com",)) -> None:
        """Greeting, hello, MAIL, RCPT for each recipient, DATA: ready for the mail's bytes."""
        self.reply()
        self.send(f"{hello} client.example")
        self.send("MAIL FROM:<ivan@acme.com>")
        for recipient in recipients:
            assert self.send(f"RCPT TO:<{recipient}>").startswith("250")
        assert self.send("DATA").startswith("354")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


BOTH = ("support@example.com", "billing@example.com")


def _deliver(port: int, raw: bytes, recipients: tuple[str, ...] = ("support@example.com",),
             lmtp: bool = False) -> list[str]:
    """``raw`` exactly as given (smtplib would dot-stuff after bare LFs too); the replies to it:
    one per recipient over LMTP, one in all over SMTP."""
    wire = Wire(port)
    try:
        wire.begin("LHLO" if lmtp else "EHLO", recipients)
        wire.sock.sendall(raw + b".\r\n")
        return [wire.reply() for _ in (recipients if lmtp else recipients[:1])]
    finally:
        wire.close()


async def _fail_inserts_for(mailbox: str) -> None:
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(
            "CREATE FUNCTION test_full_disk() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            " LANGUAGE plpgsql;"
            f" CREATE TRIGGER test_full_disk BEFORE INSERT ON inbound FOR EACH ROW WHEN (NEW.mailbox = '{mailbox}')"
            " EXECUTE FUNCTION test_full_disk();")
    else:
        await connection.execute_script(
            f"CREATE TRIGGER test_full_disk BEFORE INSERT ON inbound WHEN NEW.mailbox = '{mailbox}'"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END;")


async def test_lmtp_answers_each_recipient_and_fails_one_alone(rt: Runtime) -> None:
    async with receiver(rt, lmtp=True) as (port, _, _):
        first = await asyncio.to_thread(_deliver, port, RAW, BOTH, True)
        assert first[0].startswith("250 2.0.0 <support@example.com> OK queued as ")
        assert first[1].startswith("250 2.0.0 <billing@example.com> OK queued as ")
        assert sorted(r.mailbox for r in await Inbound.all()) == ["billing", "support"]
        assert all(r.source.startswith("lmtp:127.0.0.1:") for r in await Inbound.all())

        await Inbound.all().delete()
        await _fail_inserts_for("billing")
        second = await asyncio.to_thread(_deliver, port, RAW, BOTH, True)
    assert second[0].startswith("250 2.0.0 <support@example.com>"), second
    assert second[1].startswith("451 4.3.0 <billing@example.com>"), second  # the MTA retries billing alone
    assert [r.mailbox for r in await Inbound.all()] == ["support"]


def _smtp_with_recipients(port: int, recipients: list[str]) -> tuple[list[int], int]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("ivan@acme.com")
        codes = [client.rcpt(r)[0] for r in recipients]
        return codes, client.data(RAW)[0]


async def test_recipients_beyond_the_cap_get_452_and_the_rest_are_delivered(rt: Runtime) -> None:
    recipients = ["support@example.com", "billing@example.com", "support+x@example.com"]
    async with receiver(rt, max_recipients=2) as (port, _, _):
        codes, data = await asyncio.to_thread(_smtp_with_recipients, port, recipients)
    assert codes == [250, 250, 452]  # 452: "too many recipients", the sender tries the third again later
    assert data == 250
    assert sorted(r.mailbox for r in await Inbound.all()) == ["billing", "support"]


async def test_connections_beyond_the_per_client_limit_are_refused_with_421(rt: Runtime) -> None:
    async with receiver(rt, connections=Connections(max_total=100, max_per_client=2)) as (port, _, limits):
        first, second = Wire(port), Wire(port)
        assert (await asyncio.to_thread(first.reply)).startswith("220")
        assert (await asyncio.to_thread(second.reply)).startswith("220")
        third = Wire(port)
        assert (await asyncio.to_thread(third.reply)).startswith("421 4.7.0"), "refused before the greeting"
        third.close()
        await asyncio.to_thread(first.send, "QUIT")
        first.close()
        for _ in range(100):  # the server sees the first connection go
            if limits.per_client["127.0.0.1"] < 2:
                break
            await asyncio.sleep(0.02)
        fourth = Wire(port)
        assert (await asyncio.to_thread(fourth.reply)).startswith("220"), "a slot that was freed is given again"
        for wire in (second, fourth):
            wire.close()


async def test_a_line_far_longer_than_1000_characters_is_taken_not_refused(rt: Runtime) -> None:
    long_line = b"<p>" + b"x" * 200_000 + b"</p>\r\n"
    raw = RAW.replace(b"The printer is on fire.\r\n", long_line)
    async with receiver(rt) as (port, _, _):
        code = await asyncio.to_thread(_send_raw, port, raw)
    assert code == 250  # a 500 here would bounce the customer's mail for good
    row = await Inbound.get(mailbox="support")
    assert bytes(row.raw_message).endswith(long_line)


def _send_raw(port: int, raw: bytes) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail("ivan@acme.com")
        client.rcpt("support@example.com")
        return int(client.data(raw)[0])


def _two_mails_on_one_connection(port: int, first: bytes, second: bytes) -> list[int]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        codes = []
        for raw in (first, second):
            client.mail("ivan@acme.com")
            client.rcpt("support@example.com")
            try:
                codes.append(int(client.data(raw)[0]))
            except smtplib.SMTPDataError as refused:
                codes.append(refused.smtp_code)
        return codes


async def test_a_mail_over_the_size_limit_gets_552_and_the_session_goes_on(rt: Runtime) -> None:
    big = RAW + b"x" * 5000 + b"\r\n"
    async with receiver(rt, max_bytes=4000) as (port, _, _):
        codes = await asyncio.to_thread(_two_mails_on_one_connection, port, big, RAW)
    assert codes == [552, 250]  # read to its end and refused; the next mail on the connection is taken
    [row] = await Inbound.all()
    assert bytes(row.raw_message) == b"Return-Path: <ivan@acme.com>\r\n" + RAW


async def test_a_storage_failure_is_451_and_one_log_line_without_a_traceback(
        rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    await _fail_inserts_for("support")
    caplog.set_level(logging.INFO, logger="mailhelpdesk.ingest.smtp")
    async with receiver(rt) as (port, _, _):
        codes = [await asyncio.to_thread(_send_raw, port, RAW) for _ in range(3)]
    assert codes == [451, 451, 451]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 3 and all(r.exc_info is None for r in errors)
    assert "disk full" in errors[0].getMessage()


def _begin_data(wire: Wire) -> None:
    wire.begin()
    wire.sock.sendall(RAW[:40])  # the mail is half sent when the drain begins


async def test_a_drain_finishes_the_mail_being_received_and_says_421_to_the_rest(rt: Runtime) -> None:
    async with receiver(rt) as (port, handler, limits):
        busy, idle = Wire(port), Wire(port)
        await asyncio.to_thread(_begin_data, busy)
        assert (await asyncio.to_thread(idle.reply)).startswith("220")
        handler.draining = True
        drain = asyncio.create_task(limits.drain(10))
        assert (await asyncio.to_thread(idle.reply)).startswith("421 4.3.2"), "the idle client is told at once"

        busy.sock.sendall(RAW[40:] + b".\r\n")
        assert (await asyncio.to_thread(busy.reply)).startswith("250 2.0.0 OK queued as")
        assert (await asyncio.to_thread(busy.reply)).startswith("421 4.3.2")
        await asyncio.wait_for(drain, 5)
        assert not limits.open
        busy.close()
        idle.close()
    assert await Inbound.filter(mailbox="support").count() == 1


def _mail_from(port: int) -> str:
    wire = Wire(port)
    try:
        wire.reply()
        wire.send("EHLO client.example")
        return wire.send("MAIL FROM:<ivan@acme.com>")
    finally:
        wire.close()


async def test_while_draining_a_new_mail_transaction_gets_421(rt: Runtime) -> None:
    async with receiver(rt) as (port, handler, _):
        handler.draining = True
        assert (await asyncio.to_thread(_mail_from, port)).startswith("421 4.3.2")


def _raw_sender(port: int) -> str:
    wire = Wire(port)
    try:
        wire.reply()
        wire.send("EHLO client.example")
        wire.sock.sendall(b"MAIL FROM:<caf\xe9\x00@acme.com>\r\n")  # not UTF-8, and a NUL
        assert wire.reply().startswith("250")
        assert wire.send("RCPT TO:<support@example.com>").startswith("250")
        assert wire.send("DATA").startswith("354")
        wire.sock.sendall(RAW + b".\r\n")
        return wire.reply()
    finally:
        wire.close()


async def test_an_envelope_sender_of_odd_bytes_is_stored_not_answered_451_forever(rt: Runtime) -> None:
    async with receiver(rt) as (port, _, _):
        reply = await asyncio.to_thread(_raw_sender, port)
    assert reply.startswith("250"), reply  # a 451 here would be repeated until the sender bounces it
    [row] = await Inbound.all()
    assert "\x00" not in row.source and row.source.startswith("smtp:127.0.0.1:caf")
    assert bytes(row.raw_message).startswith(b"Return-Path: <caf")


async def test_lmtp_refuses_a_mail_too_big_once_for_each_recipient(rt: Runtime) -> None:
    big = RAW + b"x" * 5000 + b"\r\n"
    async with receiver(rt, lmtp=True, max_bytes=4000) as (port, _, _):
        replies = await asyncio.to_thread(_deliver, port, big, BOTH, True)
    assert [r[:3] for r in replies] == ["552", "552"]  # an MTA waits for one reply per recipient
    assert await Inbound.all().count() == 0


async def test_more_mail_in_flight_than_the_budget_gets_452_and_the_budget_is_given_back(rt: Runtime) -> None:
    limits = Connections(budget=DataBudget(3000))
    big = RAW + b"x" * 5000 + b"\r\n"
    async with receiver(rt, connections=limits) as (port, _, _):
        codes = await asyncio.to_thread(_two_mails_on_one_connection, port, big, RAW)
    assert codes == [452, 250]  # 452: the sender keeps the mail and tries again later
    assert limits.budget.used == 0


async def test_bare_line_feeds_are_taken_and_never_end_the_mail(rt: Runtime) -> None:
    """A client that ends lines with LF alone (300 KB of them) is stored byte for byte, and a
    bare-LF dot line inside it ends nothing: only CRLF.CRLF does (no mail smuggled behind it)."""
    body = b"line of text\n" * 25_000 + b"\n.\nMAIL FROM:<boss@acme.com>\nRCPT TO:<billing@example.com>\n"
    raw = b"From: Ivan <ivan@acme.com>\nTo: support@example.com\nSubject: bare\n\n" + body + b"\r\n"
    async with receiver(rt) as (port, _, _):
        [reply] = await asyncio.to_thread(_deliver, port, raw)
    assert reply.startswith("250")
    [row] = await Inbound.all()  # one mail: nothing after the bare-LF dot became a second one
    assert bytes(row.raw_message) == b"Return-Path: <ivan@acme.com>\r\n" + raw
