"""Small builders for test mail (``EmailMessage`` → bytes) and look-ups of stored state."""

import itertools
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import ProcessResult
from mailhelpdesk.store.models import Event, Inbound, Message, Ticket

SUPPORT = "support@example.com"
OUR_DOMAIN = "example.com"

_serial = itertools.count(1)


def new_message_id(sender: str = "ann@acme.com") -> str:
    return f"<t{next(_serial)}.{datetime.now().timestamp():.0f}@{sender.rpartition('@')[2]}>"


def mail(
    subject: str = "Printer on floor 3 is broken",
    *,
    sender: str = "Ann Example <ann@acme.com>",
    to: str = SUPPORT,
    cc: str | None = None,
    body: str = "Hello, the printer shows error E42 since this morning.\n",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    date: datetime | None = None,
) -> bytes:
    """A plain-text customer mail (dated now unless ``date`` is given)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id or new_message_id(sender.strip(">").rpartition("<")[2])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def reply_to(original: bytes, *, sender: str = "Ann Example <ann@acme.com>", subject: str | None = None,
             body: str = "Any news?\n", cc: str | None = None, date: datetime | None = None,
             to: str = SUPPORT) -> bytes:
    """A reply that threads by In-Reply-To/References, like every real mail client."""
    parent = message_from_bytes(original, policy=policy.default)
    parent_id = str(parent["Message-ID"])
    chain = [*str(parent.get("References", "")).split(), parent_id]
    return mail(subject or f"Re: {parent['Subject']}", sender=sender, to=to, cc=cc, body=body,
                in_reply_to=parent_id, references=chain, date=date)


def agent_reply(rt: Runtime, original: bytes, number: int, agent: str, body: str,
                date: datetime | None = None) -> bytes:
    """An agent's answer to the notification about ticket ``number``: to the agent's signed reply
    address, which is what makes it trusted (a From line alone is not)."""
    return reply_to(original, sender=f"Agent <{agent}>", body=body, date=date,
                    to=rt.signer.agent_reply_address(SUPPORT, number, agent))


def our_reply(rt: Runtime, number: int, *, to: str = "Ann Example <ann@acme.com>",
              subject: str = "Re: Printer on floor 3 is broken") -> bytes:
    """The mail our outbox would send for ticket ``number`` (signed Message-ID and Reply-To)."""
    return mail(
        f"[#{number}] {subject}", sender=f"Support <{SUPPORT}>", to=to,
        message_id=f"<{rt.signer.message_id(number, OUR_DOMAIN)}>",
        headers={"Reply-To": rt.signer.reply_address(SUPPORT, number), "Auto-Submitted": "auto-replied"},
        body="We are looking into it.\n",
    )


def out_of_office(*, sender: str = "Ann Example <ann@acme.com>", in_reply_to: str | None = None,
                  subject: str = "Out of Office: Re: Printer on floor 3 is broken") -> bytes:
    """An RFC 3834 automatic reply (optionally to one of our mails)."""
    return mail(subject, sender=sender, in_reply_to=in_reply_to,
                headers={"Auto-Submitted": "auto-replied"},
                body="I am out of the office until Monday.\n")


def bounce(original: bytes, *, mta: str = "mx.acme.com") -> bytes:
    """A DSN (multipart/report) from a mailer daemon that returns ``original`` in full."""
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bounce{next(_serial)}@{mta}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="DSN-BOUNDARY"\r\n'
        "\r\n"
        "--DSN-BOUNDARY\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "--DSN-BOUNDARY\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        f"Reporting-MTA: dns; {mta}\r\n"
        "\r\n"
        "Final-Recipient: rfc822; ann@acme.com\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "\r\n"
        "--DSN-BOUNDARY\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
    )
    return head.encode() + original + b"\r\n--DSN-BOUNDARY--\r\n"


def redelivered(raw: bytes, hop: str = "mx2.example.com") -> bytes:
    """The same message again, one more Received header on top (an MTA or IMAP re-delivery)."""
    return f"Received: from {hop} by mail.example.com; Mon, 1 Jan 2029 10:00:00 +0000\r\n".encode() + raw


# --- stored state ------------------------------------------------------------------------------


async def receive(rt: Runtime, raw: bytes, mailbox: str = "support") -> ProcessResult:
    """Receive a message that has not been seen before."""
    result = await rt.intake.receive(mailbox, raw, "test")
    assert result is not None, "intake treated new bytes as already seen"
    return result


async def ingest(rt: Runtime, raw: bytes, mailbox: str = "support") -> int:
    """Receive a message that must become a ticket message; its ticket number."""
    result = await receive(rt, raw, mailbox)
    assert result.state is InboundState.INGESTED, result
    assert result.ticket_number is not None
    return result.ticket_number


async def ticket(number: int) -> Ticket:
    return await Ticket.get(number=number).prefetch_related("company", "requester", "cc")


async def messages_of(number: int) -> list[Message]:
    """The mail the ticket received (our own mail on it is left out)."""
    return await Message.filter(ticket__number=number, direction="in").order_by("id")


async def event_kinds(number: int) -> list[str]:
    return list(await Event.filter(ticket__number=number).order_by("id").values_list("kind", flat=True))


async def inbound(result: ProcessResult) -> Inbound:
    return await Inbound.get(id=result.inbound_id)


class Clock:
    """A settable clock for a runtime: tests move ``now`` to make time pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
