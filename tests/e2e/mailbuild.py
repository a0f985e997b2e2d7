"""Builders for the mail and mail stores the e2e tests feed to ``mailhelpdesk ingest``.

Everything is deterministic (fixed dates, explicit Message-IDs) so that two runs over the
same input can be compared byte for byte.
"""

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

SUPPORT = "support@helpdesk.test"
BILLING = "billing@helpdesk.test"
BASE_DATE = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    """An RFC 5322 date ``minutes`` after a fixed point in time."""
    return format_datetime(BASE_DATE + timedelta(minutes=minutes))


@dataclass(frozen=True, slots=True)
class File:
    """An attachment: name, MIME type and exact bytes (so tests can check the stored sha256)."""

    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def mail(
    subject: str,
    *,
    sender: str,
    message_id: str,
    minute: int = 0,
    to: str = SUPPORT,
    cc: str | None = None,
    body: str = "Hello, something is broken.\n",
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    attachments: Sequence[File] = (),
) -> bytes:
    """A customer mail as a mail client would send it (``message_id`` without brackets)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = at(minute)
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg.as_bytes()


def reply(
    parent_id: str, subject: str, *, sender: str, message_id: str, minute: int, body: str = "Any news?\n"
) -> bytes:
    """A customer's follow-up that threads by In-Reply-To/References."""
    return mail(f"Re: {subject}", sender=sender, message_id=message_id, minute=minute, body=body,
                in_reply_to=parent_id, references=[parent_id])


def out_of_office(parent_id: str, *, sender: str, message_id: str, minute: int) -> bytes:
    """An RFC 3834 automatic reply to a message we hold."""
    return mail("Automatic reply: I am away", sender=sender, message_id=message_id, minute=minute,
                in_reply_to=parent_id, headers={"Auto-Submitted": "auto-replied"},
                body="I am out of the office until Monday.\n")


def bounce(original_id: str, *, message_id: str, minute: int, failed: str = "gone@acme.test") -> bytes:
    """A delivery status notification (RFC 3464) quoting the headers of ``original_id``."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.acme.test>\n"
        f"To: {SUPPORT}\n"
        f"Subject: Undelivered Mail Returned to Sender\n"
        f"Date: {at(minute)}\n"
        f"Message-ID: <{message_id}>\n"
        f"Auto-Submitted: auto-replied\n"
        f"MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\n'
        f"\n"
        f"--BOUNDARY\n"
        f"Content-Type: text/plain\n"
        f"\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\n"
        f"\n"
        f"--BOUNDARY\n"
        f"Content-Type: message/delivery-status\n"
        f"\n"
        f"Reporting-MTA: dns; mx.acme.test\n"
        f"\n"
        f"Final-Recipient: rfc822; {failed}\n"
        f"Action: failed\n"
        f"Status: 5.1.1\n"
        f"\n"
        f"--BOUNDARY\n"
        f"Content-Type: text/rfc822-headers\n"
        f"\n"
        f"From: {SUPPORT}\n"
        f"To: {failed}\n"
        f"Subject: Re: your request\n"
        f"Message-ID: <{original_id}>\n"
        f"\n"
        f"--BOUNDARY--\n"
    ).encode()


# --- a whole ticket -------------------------------------------------------------------------

SCREENSHOT = File("screen shot.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
LOG = File("app.log", "text/plain", b"2025-03-03 ERROR disk full\n" * 50)


def write_thread(inbox: Path) -> dict[str, bytes]:
    """One ticket with a cc, two attachments, a reply, an auto-reply and a bounce, plus mail that is
    no ticket message: our own mail coming back, binary junk, an unrelated auto-reply."""
    files = {
        "1-request.eml": mail(
            "Server down", sender="Eve Stone <eve@ops.globex.test>", message_id="req@globex.test", minute=0,
            cc="Max Mild <max@globex.test>, Helpdesk <support@helpdesk.test>", attachments=[SCREENSHOT, LOG],
            body="Our server is down since 9:00.\n"),
        "2-reply.eml": reply("req@globex.test", "Server down", sender="Eve Stone <eve@ops.globex.test>",
                             message_id="rep@globex.test", minute=30, body="Still down.\n"),
        "3-ooo.eml": out_of_office("rep@globex.test", sender="Max Mild <max@globex.test>",
                                   message_id="ooo@globex.test", minute=31),
        "4-bounce.eml": bounce("req@globex.test", message_id="dsn@mx.globex.test", minute=32),
        "5-loop.eml": mail("Ticket received", sender=f"Support <{SUPPORT}>", message_id="loop@helpdesk.test",
                           minute=33, headers={"X-Loop": "mailhelpdesk"}),
        "6-junk.bin": binary_junk(),
        "7-stray-ooo.eml": out_of_office("unknown@nowhere.test", sender="Zed <zed@else.test>",
                                         message_id="stray@else.test", minute=34),
    }
    for name, raw in files.items():
        (inbox / name).write_bytes(raw)
    return files


# --- bad input ---------------------------------------------------------------------------------


def binary_junk(size: int = 4096) -> bytes:
    """Bytes that are not an email (a PNG signature, then a fixed pseudo-random run)."""
    out, state = bytearray(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0x2545F491
    while len(out) < size:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(state & 0xFF)
    return bytes(out)


def mime_bomb(parts: int, *, sender: str, message_id: str) -> bytes:
    """One multipart/mixed message with ``parts`` tiny text parts."""
    head = (f"From: {sender}\nTo: {SUPPORT}\nSubject: Many parts\nDate: {at(1)}\n"
            f"Message-ID: <{message_id}>\nMIME-Version: 1.0\n"
            f'Content-Type: multipart/mixed; boundary="b"\n\nPreamble.\n')
    body = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(parts))
    return (head + body + "--b--\n").encode()


def huge_header(header_bytes: int, *, sender: str, message_id: str) -> bytes:
    """A mail with one folded header field of about ``header_bytes`` bytes."""
    line = "x" * 70
    folded = "\n ".join(line for _ in range(header_bytes // (len(line) + 2)))
    return (f"From: {sender}\nTo: {SUPPORT}\nSubject: Huge header\nDate: {at(2)}\n"
            f"Message-ID: <{message_id}>\nX-Filler: {folded}\n\nThe header above is huge.\n").encode()


def big_message(path: Path, attachment: bytes, *, sender: str, message_id: str) -> None:
    """Write a mail carrying ``attachment`` base64-encoded straight to ``path`` (no MIME library)."""
    with path.open("wb") as out:
        out.write((f"From: {sender}\nTo: {SUPPORT}\nSubject: Big log file\nDate: {at(3)}\n"
                   f"Message-ID: <{message_id}>\nMIME-Version: 1.0\n"
                   f'Content-Type: multipart/mixed; boundary="big"\n\n'
                   f"--big\nContent-Type: text/plain\n\nThe full log is attached.\n"
                   f"--big\nContent-Type: application/octet-stream\n"
                   f'Content-Disposition: attachment; filename="server.log"\n'
                   f"Content-Transfer-Encoding: base64\n\n").encode())
        chunk = 57 * 20000  # whole base64 lines per chunk
        for start in range(0, len(attachment), chunk):
            out.write(base64.encodebytes(attachment[start:start + chunk]))
        out.write(b"--big--\n")


def without_from(*, message_id: str) -> bytes:
    return (f"To: {SUPPORT}\nSubject: Who sent this?\nDate: {at(4)}\nMessage-ID: <{message_id}>\n\n"
            f"Nobody signed this mail.\n").encode()


# --- mail stores -------------------------------------------------------------------------------


def write_mbox(path: Path, messages: Iterable[bytes]) -> Path:
    """An mbox (mboxrd escaping: a body line ``From ...`` is written as ``>From ...``)."""
    with path.open("wb") as out:
        for raw in messages:
            out.write(b"From MAILER-DAEMON Mon Mar  3 09:00:00 2025\n")
            for line in raw.splitlines(keepends=True):
                if line.lstrip(b">").startswith(b"From "):
                    line = b">" + line
                out.write(line)
            if not raw.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")
    return path


def write_maildir(root: Path, new: Sequence[bytes], cur: Sequence[bytes], tmp: Sequence[bytes] = ()) -> Path:
    """A Maildir; what sits in ``tmp/`` is still being delivered and must not be read."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for index, raw in enumerate(new):
        (root / "new" / f"1741000000.{index}_new.host").write_bytes(raw)
    for index, raw in enumerate(cur):
        (root / "cur" / f"1741000000.{index}_cur.host:2,S").write_bytes(raw)
    for index, raw in enumerate(tmp):
        (root / "tmp" / f"1741000000.{index}_tmp.host").write_bytes(raw)
    return root
