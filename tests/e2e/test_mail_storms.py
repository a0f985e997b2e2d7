"""Mail storms end to end: `serve` facing the machines that make automatic mail loop forever.

Every server here is real: `mailhelpdesk serve` processes, and aiosmtpd servers in threads
standing in for the world outside. Each scenario is started with one mail, left to run until
nothing has moved for a few seconds, and then judged on what crossed the wire and what the
desks recorded (`outbox list`, `export`): the exchange must stop by itself, after a small,
predictable number of mails, for a reason the data names.
"""

import asyncio
import json
import re
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import IO, Any

import pytest

from .sink import Delivered, free_port, serving, thread_sink, wait_until
from .test_serve import Service

QUIET = 5.0  # seconds without any movement that count as "the exchange has stopped"


# --- helpers -------------------------------------------------------------------------------------




def write_config(svc: Service, address: str, relay_port: int, outbox: str, extra: str = "") -> None:
    svc.config.write_text(
        f"data_dir: {svc.root / 'data'}\n"
        f"mailboxes:\n  - {{name: support, address: {address}}}\n"
        f"relay: {{host: 127.0.0.1, port: {relay_port}, timeout: 10}}\n"
        f"outbox: {outbox}\n"
        f"{extra}"
    )


def mail(sender: str, to: str, subject: str, body: str = "Hello, please have a look.\n") -> EmailMessage:
    """A plain mail with nothing that says "automatic": no Auto-Submitted, Precedence, X-Loop, In-Reply-To."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    msg.set_content(body)
    return msg


def submit(port: int, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def settle(snapshot: Callable[[], object], what: str, quiet: float = QUIET, timeout: float = 35) -> float:
    """Poll ``snapshot`` until it has not changed for ``quiet`` seconds; the seconds that took."""
    start = time.monotonic()
    last, since = snapshot(), time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(0.2)
        now = snapshot()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return time.monotonic() - start
    pytest.fail(f"{what} was still moving after {timeout} s: {last}")


def cli_ok(svc: Service, *args: str) -> str:
    done = svc.cli(*args)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def export(svc: Service) -> list[dict[str, Any]]:
    return [json.loads(line) for line in cli_ok(svc, "export").splitlines()]


_ROW = re.compile(r"^\s*(?P<id>\d+)\s+(?P<status>\S+)\s+\S+ \S+\s+(?P<template>\S+)\s+(?P<to>\S+)\s*(?P<reason>.*)$")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    status: str
    template: str
    to: str
    reason: str


def outbox(svc: Service, *args: str) -> tuple[list[OutboxRow], str]:
    """The rows `outbox list` prints (oldest first) and its whole output."""
    text = cli_ok(svc, "outbox", "list", "--limit", "1000", *args)
    rows = [OutboxRow(int(m["id"]), m["status"], m["template"], m["to"], m["reason"].strip())
            for line in text.splitlines() if (m := _ROW.match(line))]
    return sorted(rows, key=lambda r: r.id), text


def run_storm(robot: "Responder", desk: Service, label: str) -> tuple[int, int]:
    """Start the robot with one mail, wait until nothing moves; (acknowledgements received, mails sent)."""
    robot.send_one()
    wait_until(lambda: robot.snapshot()[0] >= 1, "the first acknowledgement reaching the robot")
    took = settle(lambda: (*robot.snapshot(), pending(desk)), "the robot storm")
    received, sent = robot.snapshot()
    print(f"[{label}] robot sent {sent} mail(s), received {received} acknowledgement(s); quiet after {took:.1f} s")
    assert robot.errors == []
    return received, sent


def pending(svc: Service) -> int:
    count = svc.health()["pending"]
    assert isinstance(count, int)
    return count


class LogTap:
    """Everything the serve process writes (stdout and stderr), read by a thread so it never blocks."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.lines.append(line.decode(errors="replace"))

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


@dataclass
class Tap:
    """A relay that hands every mail on, unchanged, to the next SMTP server, counting what passes.

    It answers the sending desk only after the next server answered, with that server's reply,
    so the pair behaves as one hop from desk to desk, and the test can see each mail on the wire.
    """

    forward_port: int
    port: int = field(default_factory=free_port)
    passed: list[Delivered] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delivered = Delivered(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        return await asyncio.get_running_loop().run_in_executor(None, self._forward, delivered)

    def _forward(self, delivered: Delivered) -> str:
        try:
            with smtplib.SMTP("127.0.0.1", self.forward_port, timeout=10) as smtp:
                smtp.sendmail(delivered.mail_from, delivered.rcpt_tos, delivered.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return f"{code} {_text(text)}"
        except smtplib.SMTPResponseException as exc:
            return f"{exc.smtp_code} {_text(exc.smtp_error)}"
        with self.lock:
            self.passed.append(delivered)
        return "250 2.0.0 passed on"

    def count(self) -> int:
        with self.lock:
            return len(self.passed)


@dataclass
class Responder:
    """The worst auto-responder there is: answers every mail it gets with a brand-new one.

    New subject each time, no In-Reply-To/References, no Auto-Submitted, no Precedence, no X-Loop:
    nothing in the headers says "automatic", so only the outbox's brakes can stop it. It answers
    from a thread after accepting the mail, as a real mail system would, never inside the session.
    """

    helpdesk_port: int
    mailbox: str
    sender_for: Callable[[int], str]  # n-th mail it sends (1-based) -> its From
    port: int = field(default_factory=free_port)
    received: list[Delivered] = field(default_factory=list)
    sent: list[EmailMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        threading.Thread(target=self.send_one, daemon=True).start()
        return "250 2.0.0 OK"

    def send_one(self) -> None:
        with self.lock:
            n = len(self.sent) + 1
            msg = mail(self.sender_for(n), self.mailbox, f"Ticket received {n}",
                       "Thank you, your request has been received.\n")
            self.sent.append(msg)
        try:
            submit(self.helpdesk_port, msg)
        except (OSError, smtplib.SMTPException) as exc:
            with self.lock:
                self.errors.append(f"{msg['Subject']}: {exc!r}")

    def snapshot(self) -> tuple[int, int]:
        with self.lock:
            return len(self.received), len(self.sent)


# --- a. two helpdesks mailing each other ---------------------------------------------------------

A, B = "support@a.test", "support@b.test"
SUBJECT = "Printer question"


@pytest.mark.parametrize("tokens", ["distinct", "default"])
def test_two_helpdesks_mailing_each_other_exchange_one_acknowledgement_each_and_stop(
        tmp_path: Path, tokens: str) -> None:
    """Desk A and desk B, each the other's relay (through a counting tap), start a conversation.

    Each desk gets a mail "from the other desk" and acknowledges it; each acknowledgement is
    automatic mail to the other desk, which must not answer it. Both kick-offs use the same
    subject, so B finds A's acknowledgement a ticket to attach it to (subject fallback: same
    requester, same subject) while A, mailed first, has none for B's.

    What stops it, by configuration:
    - ``distinct`` loop tokens (two different installations, X-Loop helpdesk-a / helpdesk-b):
      the acknowledgement carries ``Auto-Submitted: auto-replied``, so the receiving desk treats
      it as an automatic reply: attached to B's matching ticket as an internal record flagged
      auto_reply, ignored by A ("auto-reply not related to any ticket"); neither sends anything.
    - ``default`` loop tokens (both ``mailhelpdesk``): the receiving desk sees its own X-Loop value
      and drops the mail in the loop step before even looking at Auto-Submitted.
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    desk_a, desk_b = Service(tmp_path / "a"), Service(tmp_path / "b")
    to_b, to_a = Tap(desk_b.smtp_port), Tap(desk_a.smtp_port)
    extra_a = "loop_token: helpdesk-a\n" if tokens == "distinct" else ""
    extra_b = "loop_token: helpdesk-b\n" if tokens == "distinct" else ""
    write_config(desk_a, A, to_b.port, "{interval: 1}", extra_a)
    write_config(desk_b, B, to_a.port, "{interval: 1}", extra_b + "ticket_number_start: 5000\n")
    with serving(to_b, to_b.port), serving(to_a, to_a.port):
        desk_a.start()
        try:
            desk_b.start()
            try:
                # B is written to "by A" first: B's acknowledgement reaches A before A has any ticket.
                submit(desk_b.smtp_port, mail(A, B, SUBJECT))
                wait_until(lambda: to_a.count() == 1 and pending(desk_a) == 0, "B's acknowledgement reaching A")
                # Then A is written to "by B": A's acknowledgement finds B's ticket with that subject.
                submit(desk_a.smtp_port, mail(B, A, SUBJECT))
                wait_until(lambda: to_b.count() >= 1, "A's acknowledgement reaching B")
                took = settle(lambda: (to_a.count(), to_b.count(), pending(desk_a), pending(desk_b)),
                              "the conversation between the desks")
                print(f"[storm a/{tokens}] A->B {to_b.count()} mail(s), B->A {to_a.count()} mail(s); "
                      f"quiet after {took:.1f} s")
                assert (to_b.count(), to_a.count()) == (1, 1)  # one acknowledgement each way, nothing after

                rows_a, _ = outbox(desk_a)
                rows_b, _ = outbox(desk_b)
                assert [(r.status, r.template, r.to) for r in rows_a] == [("sent", "acknowledgement", B)]
                assert [(r.status, r.template, r.to) for r in rows_b] == [("sent", "acknowledgement", A)]
                sent_by_a = to_b.passed[0].message
                assert sent_by_a["Auto-Submitted"] == "auto-replied"
                assert sent_by_a["X-Loop"] == ("helpdesk-a" if tokens == "distinct" else "mailhelpdesk")

                records_a, records_b = export(desk_a), export(desk_b)
                tickets_a = [r for r in records_a if r["type"] == "ticket"]
                tickets_b = [r for r in records_b if r["type"] == "ticket"]
                assert [(t["number"], t["requester"]["email"]) for t in tickets_a] == [(1000, B)]
                assert [(t["number"], t["requester"]["email"]) for t in tickets_b] == [(5000, A)]
                ignored_a = [r for r in records_a if r["type"] == "inbound"]
                assert [(r["from"], r["state"]) for r in ignored_a] == [(B, "ignored")]
                if tokens == "distinct":
                    assert ignored_a[0]["reason"] == \
                        "auto-reply not related to any ticket (Auto-Submitted: auto-replied (RFC 3834))"
                    assert ignored_a[0]["flags"]["auto_reply"] is True
                    from_a = [m for m in tickets_b[0]["messages"] if m["from"]["email"] == A]
                    assert [(m["direction"], m["visibility"], m["flags"]["auto_reply"]) for m in from_a] == [
                        ("in", "public", False),  # the kick-off, as if A's agent wrote
                        ("in", "internal", True),  # A's acknowledgement: recorded, never answered
                    ]
                    assert [r for r in records_b if r["type"] == "inbound"] == []
                else:
                    assert ignored_a[0]["reason"] == "loop: X-Loop is ours (mailhelpdesk)"
                    ignored_b = [r for r in records_b if r["type"] == "inbound"]
                    assert [(r["from"], r["state"], r["reason"]) for r in ignored_b] == [
                        (A, "ignored", "loop: X-Loop is ours (mailhelpdesk)")]
                    assert len(tickets_b[0]["messages"]) == 2  # the kick-off and B's own acknowledgement
            finally:
                desk_b.stop()
        finally:
            desk_a.stop()


# --- b. an auto-responder that strips every automatic header -------------------------------------

ROBOT = "robot@customer.test"
DESK = "support@helpdesk.test"


def test_a_header_stripping_auto_responder_is_stopped_by_the_per_recipient_limit(tmp_path: Path) -> None:
    """Every acknowledgement is answered with a fresh-looking mail: a new ticket, a new acknowledgement …

    Nothing in the robot's mail says it is automatic, so every one becomes a ticket; what stops
    the exchange is the rate limit: the 6th acknowledgement to the same address within the hour
    is suppressed, the robot gets nothing more to answer, and the storm dies.
    """
    desk = Service(tmp_path)
    robot = Responder(desk.smtp_port, DESK, lambda n: ROBOT)
    write_config(desk, DESK, robot.port, "{per_recipient_hourly: 5, interval: 1}")
    with serving(robot, robot.port):
        desk.start()
        try:
            received, sent = run_storm(robot, desk, "storm b")
            assert sent == 6 and received == 5

            rows, text = outbox(desk)
            assert [(r.status, r.template, r.to) for r in rows] == \
                [("sent", "acknowledgement", ROBOT)] * 5 + [("suppressed", "acknowledgement", ROBOT)]
            assert text.rstrip().endswith("5 sent, 1 suppressed")
            suppressed, text = outbox(desk, "--status", "suppressed")
            assert [r.reason for r in suppressed] == ["rate limit: 5 automatic mails an hour to robot@customer.test"]
            tickets = [r for r in export(desk) if r["type"] == "ticket"]
            assert len(tickets) == 6 and {t["requester"]["email"] for t in tickets} == {ROBOT}
        finally:
            desk.stop()


# --- c. many robots: the breaker -----------------------------------------------------------------


def test_many_robot_addresses_trip_the_breaker_which_holds_mail_until_an_admin_resumes(tmp_path: Path) -> None:
    """The robot answers from robot-1, robot-2 … so no per-recipient or per-ticket limit ever bites.

    The global breaker does: after 8 automatic mails in 10 minutes the 9th is held, the breaker
    trips (an error in the log, a banner in `outbox list`) and every automatic mail is held until
    an admin resumes; `resume --discard` drops what was held and lets mail flow again.
    """
    desk = Service(tmp_path)
    robot = Responder(desk.smtp_port, DESK, lambda n: f"robot-{n}@customer.test")
    write_config(desk, DESK, robot.port, "{breaker_limit: 8, breaker_minutes: 10, interval: 1}")
    with serving(robot, robot.port):
        desk.start()
        log = LogTap(desk.proc.stdout if desk.proc else None)
        try:
            received, sent = run_storm(robot, desk, "storm c")
            assert sent == 9 and received == 8

            rows, text = outbox(desk)
            reason = "8 automatic mails in 10 minutes: automatic mail paused"
            assert f"BREAKER TRIPPED: {reason}" in text
            assert [r.status for r in rows] == ["sent"] * 8 + ["held"]
            assert rows[-1].to == "robot-9@customer.test" and rows[-1].reason == reason
            assert len({r.to for r in rows}) == 9
            wait_until(lambda: "outbox breaker tripped" in log.text, "the breaker's error in the log", timeout=5)
            assert f"outbox breaker tripped: {reason}; automatic mail is held until `mailhelpdesk outbox resume`" \
                in log.text

            resumed = cli_ok(desk, "outbox", "resume", "--discard")
            assert resumed == "automatic mail flows again; 1 held mail(s) discarded\n"
            rows, text = outbox(desk)
            assert "BREAKER TRIPPED" not in text
            assert [r.status for r in rows] == ["sent"] * 8 + ["suppressed"]
            assert rows[-1].reason == "held by the breaker, discarded by an admin"
            assert robot.snapshot() == (received, sent)  # the discarded mail never went out
        finally:
            desk.stop()


# --- d. forged senders: one domain's flood, and mail our MX failed --------------------------------


def test_forged_senders_are_stopped_at_their_domain_and_by_our_mx_while_customers_are_answered(
        tmp_path: Path) -> None:
    """Someone mails the desk in the name of others: 20 senders at victim.test (no DMARC record, so
    nothing fails), then 3 in the name of bank.test, which our MX found failing DMARC.

    Every one becomes a ticket. victim.test gets acknowledgements up to its domain limit (5 an
    hour), the rest are suppressed and never count toward the breaker (8), so it stays closed;
    bank.test's senders get none at all; a real customer writing afterwards is acknowledged.
    """
    desk = Service(tmp_path)
    with thread_sink() as sink:
        write_config(desk, DESK, sink.port, "{per_domain_hourly: 5, breaker_limit: 8, interval: 1}",
                     "authserv_id: mx.helpdesk.test\n")
        desk.start()
        try:
            for i in range(20):
                submit(desk.smtp_port, mail(f"victim{i}@victim.test", DESK, f"Invoice {i}"))
            verdict = ("Authentication-Results: mx.helpdesk.test; spf=fail smtp.mailfrom=bank.test;"
                       " dmarc=fail (p=reject) header.from=bank.test\r\n"
                       "Received: from unknown (203.0.113.9) by mx.helpdesk.test with ESMTP id 1A\r\n")
            for i in range(3):
                forged = mail(f"security{i}@bank.test", DESK, f"Urgent: account {i}")
                submit_raw(desk.smtp_port, f"security{i}@bank.test", verdict.encode() + forged.as_bytes())
            submit(desk.smtp_port, mail("carol@customer.test", DESK, "Printer is broken"))
            sink.wait_for(lambda d: "carol@customer.test" in d.rcpt_tos, what="the customer's acknowledgement")
            settle(lambda: (len(sink.received), pending(desk)), "the outbox")

            delivered = [to for d in sink.received for to in d.rcpt_tos]
            assert len([to for to in delivered if to.endswith("@victim.test")]) == 5
            assert [to for to in delivered if not to.endswith("@victim.test")] == ["carol@customer.test"]
            rows, text = outbox(desk)
            assert "BREAKER TRIPPED" not in text
            assert [r.status for r in rows].count("sent") == 6
            suppressed = [r for r in rows if r.status == "suppressed"]  # `outbox list` clips the reason
            assert len(suppressed) == 15 and {r.to[-12:] for r in suppressed} == {"@victim.test"}
            assert all(r.reason.startswith("rate limit: 5 automatic mails an hour to addresses at victi")
                       for r in suppressed)
            tickets = [r for r in export(desk) if r["type"] == "ticket"]
            assert len(tickets) == 24  # every forged mail is still there for agents to see
            assert len([t for t in tickets if t["requester"]["email"].endswith("@bank.test")]) == 3
            explained = cli_ok(desk, "explain", str(next(t["number"] for t in tickets
                                                         if t["requester"]["email"] == "security0@bank.test")))
            assert "mail not sent: acknowledgement to the requester: the sender failed DMARC at mx.helpdesk.test" \
                in explained
        finally:
            desk.stop()


def submit_raw(port: int, sender: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail(sender, [DESK], raw)
