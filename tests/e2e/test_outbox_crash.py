"""A real crash while mail is going out: `serve` is killed with SIGKILL mid-send, then restarted.

The outbox claims a row (queued → sending, attempts + 1) in its own commit before talking SMTP,
and records the outcome in another one afterwards. A process that dies in between leaves the
row in ``sending``; the restarted service queues it again once ``outbox.lease`` has passed and
sends the same bytes with the same Message-ID. Here the relays are real SMTP servers (or a bare
TCP listener), the kill is a real SIGKILL, and the count that matters is how many copies of the
mail the relay ends up with: exactly one.
"""

import asyncio
import json
import re
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from .sink import ThreadSink, free_port, serving, wait_until
from .test_serve import Service

OUTBOX = "{lease: 2, interval: 1}"
DESK = "support@helpdesk.test"


# --- helpers -------------------------------------------------------------------------------------


@dataclass
class StallingRelay(ThreadSink):
    """A relay that holds the first RCPT until ``release`` is set, so the client is stuck mid-transaction.

    It stalls at RCPT, not at DATA, on purpose: a relay stalled after the DATA payload may
    record (and deliver) the mail although the client died before reading the "250". That is
    the one window SMTP itself leaves for a duplicate (at-least-once), which no client can close
    and the outbox documents; stalling before DATA tests what the outbox promises: a send cut
    off by a crash is repeated once, and only once.
    """

    release: threading.Event = field(default_factory=threading.Event)
    rcpt_seen: threading.Event = field(default_factory=threading.Event)
    rcpts: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        with self.lock:
            self.rcpts += 1
        self.rcpt_seen.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"




class SilentListener:
    """Accepts TCP connections and never says a word: a relay that hangs before its greeting."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def write_config(svc: Service, relay_port: int) -> None:
    svc.config.write_text(
        f"data_dir: {svc.root / 'data'}\n"
        f"mailboxes:\n  - {{name: support, address: {DESK}}}\n"
        f"relay: {{host: 127.0.0.1, port: {relay_port}}}\n"
        f"outbox: {OUTBOX}\n"
    )


def send(svc: Service, sender: str, subject: str) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, DESK, subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    msg.set_content("Hello, the printer does not print.\n")
    with smtplib.SMTP("127.0.0.1", svc.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    return str(msg["Message-ID"])


def kill(svc: Service) -> None:
    assert svc.proc is not None and svc.proc.poll() is None, "serve is not running"
    svc.proc.kill()  # SIGKILL: no shutdown hook, no last commit
    svc.proc.wait(timeout=10)


def cli_ok(svc: Service, *args: str) -> str:
    done = svc.cli(*args)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def outbox_rows(svc: Service) -> list[tuple[int, str, str, str]]:
    """(id, status, template, recipient) of every outbox row, oldest first, as `outbox list` prints them."""
    rows = []
    for line in cli_ok(svc, "outbox", "list").splitlines():
        m = re.match(r"^\s*(\d+)\s+(\S+)\s+\S+ \S+\s+(\S+)\s+(\S+)", line)
        if m:
            rows.append((int(m[1]), m[2], m[3], m[4]))
    return sorted(rows)


def outbox_message_id(svc: Service, outbox_id: int) -> str:
    raw = cli_ok(svc, "outbox", "show", str(outbox_id))
    found = re.search(r"^Message-ID: (<[^>]+>)$", raw, re.MULTILINE)
    assert found, raw
    return found[1]


def copies(sink: ThreadSink, message_id: str) -> int:
    with sink.lock:
        return sum(1 for d in sink.received if d.message["Message-ID"] == message_id)


def tickets(svc: Service) -> list[dict[str, Any]]:
    return [r for line in cli_ok(svc, "export").splitlines() if (r := json.loads(line))["type"] == "ticket"]


def stays(check: Callable[[], bool], seconds: float) -> bool:
    """``check`` holds for ``seconds`` (polled): nothing more arrives while leases expire and the sender runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        time.sleep(0.1)
    return True


# --- tests ---------------------------------------------------------------------------------------


def test_a_send_cut_off_by_sigkill_mid_smtp_is_sent_again_once_after_restart(tmp_path: Path) -> None:
    relay = StallingRelay(free_port())
    svc = Service(tmp_path)
    write_config(svc, relay.port)
    with serving(relay, relay.port):
        try:
            svc.start()
            send(svc, "Anna <anna@globex.test>", "Printer does not print")
            assert relay.rcpt_seen.wait(20), "the acknowledgement never reached RCPT at the relay"
            # serve is inside the SMTP transaction (MAIL FROM accepted, RCPT unanswered): the row is claimed.
            assert outbox_rows(svc) == [(1, "sending", "acknowledgement", "anna@globex.test")]
            kill(svc)
            relay.release.set()  # the relay answers a client that is gone; no DATA ever follows
            time.sleep(0.5)
            assert relay.received == []

            svc.start()  # the same config and data dir, a new process
            message_id = outbox_message_id(svc, 1)
            wait_until(lambda: copies(relay, message_id) >= 1, "the acknowledgement after the restart")
            # lease 2 s, sender every 1 s: a second copy would have shown up within this
            assert stays(lambda: len(relay.received) == 1, 4), [d.message["Message-ID"] for d in relay.received]
            assert copies(relay, message_id) == 1
            delivered = relay.received[0]
            assert delivered.rcpt_tos == ["anna@globex.test"] and "[#1000]" in str(delivered.message["Subject"])
            # The outbox's attempt counter is shown by no command (`outbox list`/`show`, `explain`, export):
            # the relay's side tells it instead: the cut-off transaction and the one that went through.
            assert relay.rcpts == 2

            assert outbox_rows(svc) == [(1, "sent", "acknowledgement", "anna@globex.test")]
            assert "mail sent: acknowledgement to anna@globex.test (outbox 1)" in cli_ok(svc, "explain", "1000")
            found = tickets(svc)
            assert [(t["number"], t["requester"]["email"]) for t in found] == [(1000, "anna@globex.test")]
            inbound = [m for m in found[0]["messages"] if m["direction"] == "in"]
            assert len(inbound) == 1
        finally:
            relay.release.set()
            svc.stop()


def test_mail_queued_when_serve_is_killed_goes_out_once_through_the_relay_configured_after_restart(
        tmp_path: Path) -> None:
    """The relay first hangs before its greeting; serve is killed with one mail claimed and one queued.

    (Not a relay that refuses connections: a refused connection is a temporary failure the
    sender retries only after 1 minute, a fixed backoff, so the mail would be neither "never
    tried" nor sent again within this test. A relay that accepts TCP and never greets keeps the
    first acknowledgement claimed with no SMTP command sent, and the second one behind it in
    ``queued``, never claimed: both states a crash can leave.)
    """
    silent = SilentListener()
    sink = ThreadSink(free_port())
    svc = Service(tmp_path)
    write_config(svc, silent.port)
    with serving(sink, sink.port):
        try:
            svc.start()
            send(svc, "Anna <anna@globex.test>", "Printer does not print")
            wait_until(lambda: len(silent.accepted) == 1, "serve connecting to the silent relay")
            send(svc, "Boris <boris@initech.test>", "VPN is down")
            wait_until(lambda: svc.health()["pending"] == 0, "the second mail processed")
            assert outbox_rows(svc) == [(1, "sending", "acknowledgement", "anna@globex.test"),
                                        (2, "queued", "acknowledgement", "boris@initech.test")]
            kill(svc)

            write_config(svc, sink.port)  # the admin fixes the relay
            svc.start()
            ids = {outbox_message_id(svc, 1): "anna@globex.test", outbox_message_id(svc, 2): "boris@initech.test"}
            wait_until(lambda: len(sink.received) >= 2, "both acknowledgements after the restart")
            assert stays(lambda: len(sink.received) == 2, 4), [d.message["Message-ID"] for d in sink.received]
            assert {message_id: copies(sink, message_id) for message_id in ids} == dict.fromkeys(ids, 1)
            assert {d.message["Message-ID"]: d.rcpt_tos[0] for d in sink.received} == ids
            assert len(silent.accepted) == 1  # the new process never went back to the old relay

            assert outbox_rows(svc) == [(1, "sent", "acknowledgement", "anna@globex.test"),
                                        (2, "sent", "acknowledgement", "boris@initech.test")]
            assert [(t["number"], t["requester"]["email"]) for t in tickets(svc)] == [
                (1000, "anna@globex.test"), (1001, "boris@initech.test")]
        finally:
            svc.stop()
            silent.close()
