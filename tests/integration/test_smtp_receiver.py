"""The SMTP receiver on a real socket: 250 only after the raw bytes are stored, 451 otherwise."""

import asyncio
import smtplib
import socket
from collections.abc import Callable
from pathlib import Path

from tortoise import Tortoise

from mailhelpdesk.app import running
from mailhelpdesk.config import Settings
from mailhelpdesk.ingest.smtp import SmtpHandler, mailbox_for, start_smtp
from mailhelpdesk.store.models import Inbound

RAW = (b"From: Ivan <ivan@acme.com>\r\nTo: support@helpdesk.test\r\nSubject: =?koi8-r?B?8NLJzsTF0g==?=\r\n"
       b"Message-ID: <smtp-1@acme.com>\r\n\r\nline one\r\n.leading dot\r\n\xff raw byte\r\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send(port: int, rcpts: list[str]) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("ivan@acme.com")
        for rcpt in rcpts:
            smtp.rcpt(rcpt)
        code, reply = smtp.data(RAW)
        return int(code), bytes(reply)


def test_mailbox_for_accepts_plus_addresses() -> None:
    boxes = {"support@helpdesk.test": "support"}
    assert mailbox_for("<Support+1042.abc@helpdesk.test>", boxes) == "support"
    assert mailbox_for("sales@helpdesk.test", boxes) is None


async def test_250_means_stored_byte_exact_and_451_when_storage_fails(
    database_url: str, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url, tmp_path, mailboxes=[
        {"name": "support", "address": "support@helpdesk.test"},
        {"name": "billing", "address": "billing@helpdesk.test"},
    ])
    port = _free_port()
    async with running(settings) as rt:
        rung: list[int] = []
        handler = SmtpHandler(rt.intake, {b.address: b.name for b in settings.mailboxes}, rung.append)
        server = await start_smtp(handler, "127.0.0.1", port, settings.max_message_bytes)
        try:
            code, _ = await asyncio.to_thread(_send, port, ["support@helpdesk.test", "billing@helpdesk.test"])
            assert code == 250
            rows = await Inbound.all().order_by("mailbox")
            assert [r.mailbox for r in rows] == ["billing", "support"]
            # dot-unstuffed, CRLF and 8-bit kept; Return-Path added as final delivery requires
            assert bytes(rows[0].raw_message) == b"Return-Path: <ivan@acme.com>\r\n" + RAW
            assert sorted(rung) == sorted(r.id for r in rows)  # the worker's bell rang for each

            await Tortoise.get_connection("default").execute_script(
                'DROP TABLE "attachment"; DROP TABLE "event"; DROP TABLE "message_ref"; DROP TABLE "message";'
                ' DROP TABLE "inbound"')
            code, reply = await asyncio.to_thread(_send, port, ["support@helpdesk.test"])
            assert code == 451, reply  # temporary: the sending MTA keeps the mail and retries
        finally:
            server.close()
            await server.wait_closed()
