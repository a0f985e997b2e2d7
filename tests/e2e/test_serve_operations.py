"""Running it for real: a real Postfix delivering over LMTP into ``serve`` (queueing while serve
is down), SIGTERM draining the mail being received, and ``serve --role`` processes sharing one
PostgreSQL: two workers that never take the same mail, two schedulers of which one runs."""

import signal
import smtplib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from integration.postfix import running_postfix

from .helpdesk import Helpdesk
from .serving import Serve, pg_rows, setting, until
from .sink import free_port


def _mail(n: int, to: str = "support@helpdesk.test") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Customer {n} <c{n}@acme{n % 4}.test>", to, f"Request {n}"
    msg["Message-ID"] = f"<ops-{n}@acme.test>"
    msg.set_content(f"Hello, this is request number {n}.\n")
    return msg.as_bytes()


def _inbound(desk: Helpdesk) -> list[tuple[Any, ...]]:
    return desk.query('SELECT "mailbox", "state", "message_id", "source" FROM "inbound" ORDER BY "id"')


@pytest.fixture
def desk(tmp_path: Path) -> Helpdesk:
    return Helpdesk(tmp_path / "helpdesk", smtp_port=free_port(), web_port=free_port(), lmtp_port=free_port())


def test_postfix_delivers_over_lmtp_and_keeps_the_mail_while_serve_is_down(desk: Helpdesk) -> None:
    lmtp_port = setting(desk, "lmtp_port")
    with running_postfix(lmtp_port) as postfix:
        def send(numbers: range, to: tuple[str, ...] = ("support@helpdesk.test",)) -> None:
            with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=30) as client:
                for n in numbers:
                    client.sendmail(f"c{n}@acme.test", list(to), _mail(n, ", ".join(to)))

        send(range(10))  # serve is not running: Postfix queues them and retries
        send(range(10, 11), ("support@helpdesk.test", "billing@helpdesk.test"))
        until(lambda: postfix.queue().count("Connection refused") >= 11, 20, postfix.queue)

        serve = Serve(desk, "first")
        serve.wait_listening(lmtp_port)
        until(lambda: len(_inbound(desk)) == 12 and "Mail queue is empty" in postfix.queue(), 60,
               lambda: f"{_inbound(desk)}\n{postfix.queue()}\n{postfix.log()[-3000:]}")
        assert serve.stop() == 0, serve.output()  # SIGTERM: a clean stop

        send(range(11, 20))
        time.sleep(1)
        assert len(_inbound(desk)) == 12, "nothing listens: the mail waits at Postfix"
        again = Serve(desk, "again")
        again.wait_listening(lmtp_port)
        until(lambda: len(_inbound(desk)) == 21 and "Mail queue is empty" in postfix.queue(), 60,
               lambda: f"{_inbound(desk)}\n{postfix.queue()}")
        until(lambda: all(r[1] != "accepted" for r in _inbound(desk)), 30, lambda: str(_inbound(desk)))
        assert again.stop() == 0, again.output()

    rows = _inbound(desk)
    assert sorted((r[0], r[2]) for r in rows) == sorted(
        [("support", f"ops-{n}@acme.test") for n in range(20)] + [("billing", "ops-10@acme.test")])
    assert all(r[3].startswith("lmtp:127.0.0.1:") for r in rows)
    assert sorted(r[1] for r in rows).count("duplicate") == 1  # the mail to both mailboxes: one ticket
    assert len(desk.tickets()) == 20


def _half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    reader.readline()
    for line in ("EHLO client.test", "MAIL FROM:<c1@acme.test>", "RCPT TO:<support@helpdesk.test>", "DATA"):
        sock.sendall(line.encode() + b"\r\n")
        while (reply := reader.readline())[3:4] == b"-":
            pass
    assert reply.startswith(b"354"), reply
    sock.sendall(_mail(1)[:60])
    return sock


def test_sigterm_finishes_the_mail_being_received_then_exits_0(desk: Helpdesk) -> None:
    smtp_port = setting(desk, "smtp_port")
    serve = Serve(desk, "drain")
    serve.wait_listening(smtp_port)
    sock = _half_sent(smtp_port)
    serve.proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert serve.proc.poll() is None, "serve waits for the mail it is receiving"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", smtp_port)) != 0, "no new connections once stopping"

    sock.sendall(_mail(1)[60:] + b"\r\n.\r\n")
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"250 2.0.0 OK queued as")
    assert reader.readline().startswith(b"421 4.3.2")
    sock.close()
    assert serve.stop(timeout=30) == 0, serve.output()
    assert "stopped" in serve.output()
    assert [r[2] for r in _inbound(desk)] == ["ops-1@acme.test"]


@contextmanager
def _processes(desk: Helpdesk, roles: list[str]) -> Iterator[list[Serve]]:
    started = [Serve(desk, f"{n}-{role}", "--role", role) for n, role in enumerate(roles)]
    try:
        yield started
    finally:
        for serve in started:
            if serve.proc.poll() is None:
                serve.stop(signal.SIGKILL)


def _send_many(port: int, numbers: range) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for n in numbers:
            client.sendmail(f"c{n}@acme.test", ["support@helpdesk.test"], _mail(n))


@pytest.mark.postgres
def test_roles_share_one_postgresql_two_workers_and_one_active_scheduler(postgres_url: str, tmp_path: Path) -> None:
    desk = Helpdesk(tmp_path / "roles", database_url=postgres_url, smtp_port=free_port(), web_port=free_port())
    smtp_port = setting(desk, "smtp_port")
    roles = ["intake", "worker", "worker", "scheduler", "scheduler"]
    with _processes(desk, roles) as serves:
        serves[0].wait_listening(smtp_port)
        _send_many(smtp_port, range(150))
        query = 'SELECT "state", count(*), max("attempts") FROM "inbound" GROUP BY "state"'
        until(lambda: pg_rows(postgres_url, query) == [("ingested", 150, 1)], 90,
               lambda: str(pg_rows(postgres_url, query)))  # attempts 1: no mail taken twice
        schedulers = serves[3:]
        until(lambda: sum("this process runs the scheduler" in s.output() for s in schedulers) == 1, 20,
               lambda: "\n".join(s.output() for s in schedulers))
        active = next(s for s in schedulers if "runs the scheduler" in s.output())
        standby = next(s for s in schedulers if s is not active)
        time.sleep(1)
        assert "runs the scheduler" not in standby.output(), "one scheduler at a time"
        active.stop(signal.SIGKILL)  # dies without a word: its connection, and the lock, go with it
        until(lambda: "runs the scheduler" in standby.output(), 30, standby.output)
        assert pg_rows(postgres_url, 'SELECT count(*) FROM "ticket"') == [(150,)]
        for serve in (serves[0], *serves[1:3], standby):
            assert serve.stop() == 0, serve.output()


def test_two_processes_started_at_once_on_a_new_sqlite_file_share_the_work(tmp_path: Path) -> None:
    """Both migrate the new database one after the other (a lock), and the worker of one process
    turns the mail the other accepted into a ticket without being told."""
    desk = Helpdesk(tmp_path / "fresh", database_url=f"sqlite://{tmp_path / 'fresh.sqlite3'}",
                    smtp_port=free_port(), web_port=free_port())
    smtp_port = setting(desk, "smtp_port")
    with _processes(desk, ["worker", "intake,web"]) as (worker, intake):
        intake.wait_listening(smtp_port)
        _send_many(smtp_port, range(3))
        until(lambda: len(desk.query('SELECT 1 FROM "ticket"')) == 3, 30,
              lambda: worker.output() + intake.output())
        for serve in (worker, intake):
            assert serve.stop() == 0, serve.output()
    assert not [p.name for p in tmp_path.iterdir() if "lock" in p.name]  # the lock leaves no file behind
