"""Nothing lost, nothing twice: thousands of mails over SMTP while ``serve`` is killed with SIGKILL
again and again, and while its PostgreSQL database is unavailable for a while. The sender behaves
like an MTA: it keeps each mail until it gets a 250, retrying after a 4xx or a lost connection.
Every mail ends in exactly one record and one ticket; IMAP mail stays on the server until stored."""

import queue
import random
import signal
import smtplib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from integration.dovecot import Dovecot, running_dovecot

from .helpdesk import Helpdesk
from .serving import Serve, pg_rows, setting, until
from .sink import free_port


def _mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = f"Customer {n} <c{n}@acme{n % 7}.test>", "support@helpdesk.test"
    msg["Subject"], msg["Message-ID"] = f"Request {n}", f"<outage-{n}@acme.test>"
    msg.set_content(f"Hello, this is request number {n}.\n")
    return msg.as_bytes()


class MtaLike:
    """Clients that deliver each mail until it is answered 250, as an MTA's queue does."""

    def __init__(self, port: int, count: int, clients: int = 4) -> None:
        self.port = port
        self.todo: queue.Queue[int] = queue.Queue()
        for n in range(count):
            self.todo.put(n)
        self.answered: dict[int, bytes] = {}
        self.retries = 0
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def start(self) -> "MtaLike":
        for thread in self.threads:
            thread.start()
        return self

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), f"{self.todo.qsize()} mails still not delivered"

    def _client(self) -> None:
        client: smtplib.SMTP | None = None
        while True:
            try:
                n = self.todo.get_nowait()
            except queue.Empty:
                break
            while True:
                try:
                    client = client or smtplib.SMTP("127.0.0.1", self.port, timeout=30)
                    code, reply = self._send(client, n)
                except (OSError, smtplib.SMTPException):
                    code, reply, client = 0, b"", None
                if code == 250:
                    self.answered[n] = reply
                    break
                self.retries += 1
                time.sleep(0.2)
        if client is not None:
            client.close()

    @staticmethod
    def _send(client: smtplib.SMTP, n: int) -> tuple[int, bytes]:
        client.ehlo_or_helo_if_needed()
        code, reply = client.mail(f"c{n}@acme.test")
        if code != 250:
            client.rset()
            return code, reply
        code, reply = client.rcpt("support@helpdesk.test")
        if code != 250:
            client.rset()
            return code, reply
        return client.data(_mail(n))


def _assert_each_mail_once(rows: list[tuple[Any, ...]], count: int) -> None:
    """rows: (mailbox, state, message_id) of every inbound record."""
    ids = [r[2] for r in rows if r[0] == "support"]
    assert len(ids) == len(set(ids)) == count, f"{len(ids)} records of {len(set(ids))} mails, {count} sent"
    assert {r[1] for r in rows} == {"ingested"}, {r[1] for r in rows}


def test_sigkill_again_and_again_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    desk = Helpdesk(tmp_path / "desk", smtp_port=free_port(), web_port=free_port())
    port, count = setting(desk, "smtp_port"), 2000
    serve = Serve(desk, "0")
    serve.wait_listening(port)
    sender = MtaLike(port, count).start()
    rng = random.Random(7)
    for kill in range(1, 4):  # killed three times while the mail keeps coming
        time.sleep(rng.uniform(1.0, 2.5))
        assert serve.stop(signal.SIGKILL) == -signal.SIGKILL
        serve = Serve(desk, str(kill))
        serve.wait_listening(port)
    sender.join(240)
    rows_query = 'SELECT "mailbox", "state", "message_id" FROM "inbound"'
    until(lambda: not any(r[1] == "accepted" for r in desk.query(rows_query)), 120,
          lambda: f"still accepted: {sum(r[1] == 'accepted' for r in desk.query(rows_query))}")
    assert serve.stop() == 0, serve.output()

    assert len(sender.answered) == count and sender.retries > 0  # the kills were felt, and retried
    _assert_each_mail_once(desk.query(rows_query), count)
    doubled = desk.query('SELECT "message_id" FROM "message" GROUP BY "message_id" HAVING count(*) > 1')
    assert doubled == []
    assert desk.query('SELECT count(*) FROM "ticket"') == [(count,)]


@contextmanager
def _database_away(pg: Any, name: str) -> Iterator[None]:
    """The database refuses connections and loses the ones it had (a failover, a restart)."""
    pg.psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    pg.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    try:
        yield
    finally:
        pg.psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _folder(dovecot: Dovecot, user: str, folder: str) -> int:
    with dovecot.session(user) as client:
        client.select_folder(folder, readonly=True)
        return len(client.search("ALL"))


@pytest.mark.postgres
def test_an_unavailable_database_loses_nothing_and_imap_mail_stays_until_stored(
        pg_server: Any, postgres_url: str, tmp_path: Path) -> None:
    count, name = 2000, postgres_url.rsplit("/", 1)[1]
    with running_dovecot({"desk": "imap secret"}) as dovecot:
        (tmp_path / "imap.password").write_text("imap secret\n")
        imap = {"host": "127.0.0.1", "port": dovecot.port, "security": "none", "username": "desk",
                "password_file": str(tmp_path / "imap.password"), "move_to": "Archive", "poll_seconds": 1}
        desk = Helpdesk(tmp_path / "desk", database_url=postgres_url, smtp_port=free_port(), web_port=free_port(),
                        mailboxes=[{"name": "support", "address": "support@helpdesk.test"},
                                   {"name": "it", "address": "it@helpdesk.test", "imap": imap}])
        port = setting(desk, "smtp_port")
        serve = Serve(desk, "pg")
        serve.wait_listening(port)
        sender = MtaLike(port, count).start()
        time.sleep(1.5)
        with _database_away(pg_server, name):
            for n in range(5):
                dovecot.append("desk", _mail(10_000 + n).replace(b"support@", b"it@"))
            time.sleep(4)
            assert _folder(dovecot, "desk", "INBOX") == 5, "not stored: the mail stays where it is"
            assert serve.proc.poll() is None, "serve keeps running through the outage"
        sender.join(240)
        until(lambda: _folder(dovecot, "desk", "Archive") == 5, 60, serve.output)
        assert _folder(dovecot, "desk", "INBOX") == 0
        until(lambda: _pending(desk) == 0, 120, serve.output)
        assert serve.stop() == 0, serve.output()
    rows = pg_rows(postgres_url, 'SELECT "mailbox", "state", "message_id" FROM "inbound"')
    assert len(sender.answered) == count and sender.retries > 0
    _assert_each_mail_once(rows, count)
    assert sorted(r[2] for r in rows if r[0] == "it") == sorted(f"outage-{10_000 + n}@acme.test" for n in range(5))
    assert pg_rows(postgres_url, 'SELECT count(*) FROM "ticket"') == [(count + 5,)]


def _pending(desk: Helpdesk) -> int:
    rows = pg_rows(desk.database_url, "SELECT count(*) FROM \"inbound\" WHERE \"state\" = 'accepted'")
    return int(rows[0][0])
