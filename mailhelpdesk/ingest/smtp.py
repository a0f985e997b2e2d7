"""SMTP receiver: answers 250 only after the raw bytes are committed, 451 on any failure.

The handler runs in the application's event loop (not aiosmtpd's threaded Controller),
because the ORM's connection context lives in this loop. Processing happens after the
reply, in a queue worker, so a slow pipeline never stalls the sending MTA.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailhelpdesk.addresses import base_address
from mailhelpdesk.intake import Intake

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Temporary failure, please try again later"


def mailbox_for(recipient: str, addresses: Mapping[str, str]) -> str | None:
    """The mailbox name for an envelope recipient, accepting plus-addressed forms."""
    address = recipient.strip("<>").lower()
    return addresses.get(address) or addresses.get(base_address(address))


@dataclass
class SmtpHandler:
    intake: Intake
    addresses: Mapping[str, str]  # address -> mailbox name
    queue: "asyncio.Queue[int]" = field(default_factory=asyncio.Queue)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if mailbox_for(address, self.addresses) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content
        if not isinstance(content, bytes):
            return TEMPFAIL
        # As the final delivery agent we add Return-Path (RFC 5321 4.4): a null sender marks bounces.
        raw = f"Return-Path: <{_header_safe(envelope.mail_from)}>\r\n".encode() + content
        boxes = dict.fromkeys(b for r in envelope.rcpt_tos if (b := mailbox_for(r, self.addresses)))
        peer = session.peer[0] if session.peer else "?"
        accepted = []
        for box in boxes:
            inbound_id, pending = await self.intake.accept(box, raw, f"smtp:{peer}:{envelope.mail_from}")
            if pending:
                accepted.append(inbound_id)
        for inbound_id in accepted:
            self.queue.put_nowait(inbound_id)
        return f"250 2.0.0 OK queued as {','.join(map(str, accepted)) or 'duplicate'}"

    async def handle_exception(self, error: Exception) -> str:
        """Never 5xx for our own faults: the sending MTA must keep the mail and retry."""
        log.error("SMTP session failed: %s: %s", type(error).__name__, error, exc_info=error)
        return TEMPFAIL


def _header_safe(address: str | None) -> str:
    """The envelope sender as a header value: no line breaks, no angle brackets, ASCII-safe."""
    cleaned = "".join(ch for ch in (address or "") if ch.isprintable() and ch not in "<>\r\n")
    return cleaned.encode("ascii", "backslashreplace").decode()[:320]


async def process_queue(intake: Intake, queue: "asyncio.Queue[int]",
                        processed: Callable[[], None] = lambda: None) -> None:
    """Run accepted messages through the pipeline, one at a time, forever; ``processed`` is
    called after each (committed) message, to wake the outbox sender."""
    for result in await intake.recover():
        log.info("recovered inbound %s: %s", result.inbound_id, result.state.value)
    processed()
    while True:
        inbound_id = await queue.get()
        try:
            await intake.pipeline.process(inbound_id)
        except Exception:
            log.exception("processing inbound %s failed; it stays accepted for recovery", inbound_id)
        finally:
            queue.task_done()
        processed()


async def start_smtp(handler: SmtpHandler, host: str, port: int, max_bytes: int, **kwargs: Any) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    return await loop.create_server(
        lambda: SMTP(handler, hostname=kwargs.get("hostname"), ident="mailhelpdesk",
                     data_size_limit=max_bytes, enable_SMTPUTF8=True),
        host, port,
    )
