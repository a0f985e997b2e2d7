"""IMAP mailboxes against a real Dovecot on loopback: new mail is fetched by UID and peeked at,
stored before it moves, never twice; a changed UIDVALIDITY and a wrong password are handled."""

import asyncio
import contextlib
import io
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime, running, utc_now
from mailhelpdesk.cli import main
from mailhelpdesk.commands.fetch import fetch_mailboxes
from mailhelpdesk.config import Settings
from mailhelpdesk.ingest.imap import ImapFetcher
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.store.models import ImapFolderState, Inbound, Ticket

from .dovecot import Dovecot, running_dovecot
from .mails import mail

USERS = {f"desk{n}": f"secret-{n}" for n in range(1, 61)}
_users = itertools.count(1)

Desk = Callable[..., Any]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot(USERS) as server:
        yield server


@pytest.fixture
def user() -> str:
    """An IMAP account of its own for each test and engine: the server lives for the whole module."""
    return f"desk{next(_users)}"


def imap_box(server: Dovecot, name: str, user: str, password: str | None = None, **extra: Any) -> dict[str, Any]:
    secret = server.directory / f"{name}-{user}.password"
    secret.write_text((password or server.users[user]) + "\n")
    return {"name": name, "address": f"{name}@example.com",
            "imap": {"host": "127.0.0.1", "port": server.port, "security": "none", "username": user,
                     "password_file": str(secret), **extra}}


def desk_on(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Desk:
    """``async with desk(box, ...) as runtime``: mailhelpdesk with these mailboxes."""
    @asynccontextmanager
    async def opened(*boxes: dict[str, Any]) -> AsyncIterator[Runtime]:
        async with running(make_settings(database_url, tmp_path, mailboxes=list(boxes))) as runtime:
            yield runtime
    return opened


@pytest.fixture
def desk(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Desk:
    return desk_on(make_settings, database_url, tmp_path)


async def fetch(runtime: Runtime) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await fetch_mailboxes(runtime, None, out)
    return code, out.getvalue().splitlines()


def customer_mail(n: int) -> bytes:
    return mail(f"Printer {n} is broken", sender=f"Ann {n} <ann{n}@acme.com>", body=f"Printer {n} jams.\n")


async def test_new_mail_becomes_tickets_once_and_stays_unread(dovecot: Dovecot, user: str, desk: Desk) -> None:
    for n in range(3):
        dovecot.append(user, customer_mail(n))

    async with desk(imap_box(dovecot, "support", user)) as runtime:
        code, lines = await fetch(runtime)
        assert code == 0
        assert lines[0].startswith("support (INBOX): 3 new of 3 fetched, last UID 3")
        assert sorted(t.subject for t in await Ticket.all()) == [f"Printer {n} is broken" for n in range(3)]
        assert (await fetch(runtime))[1][0].startswith("support (INBOX): 0 new of 0 fetched, last UID 3")
        sources = [i.source for i in await Inbound.all().order_by("id")]
        assert sources[0].startswith(f"imap:{user}@127.0.0.1/INBOX;UIDVALIDITY=") and sources[0].endswith(";UID=1")

    with dovecot.session(user) as client:  # BODY.PEEK[]: the people reading this mailbox still see it unread
        client.select_folder("INBOX")
        flags = client.get_flags(client.search("ALL"))
    assert len(flags) == 3 and not any(b"\\Seen" in f for f in flags.values())


async def test_mail_read_in_a_mail_client_is_still_fetched(dovecot: Dovecot, user: str, desk: Desk) -> None:
    """We read by UID, never UNSEEN: a person opening the mail first must not hide it from us."""
    dovecot.append(user, customer_mail(1), flags=(b"\\Seen",))
    dovecot.append(user, customer_mail(2), flags=(b"\\Seen", b"\\Flagged"))

    async with desk(imap_box(dovecot, "support", user)) as runtime:
        assert (await fetch(runtime))[0] == 0
        assert await Ticket.all().count() == 2


async def test_stored_mail_is_moved_to_the_processed_folder(dovecot: Dovecot, user: str, desk: Desk) -> None:
    for n in range(2):
        dovecot.append(user, customer_mail(n))

    async with desk(imap_box(dovecot, "support", user, move_to="Archive")) as runtime:
        assert (await fetch(runtime))[0] == 0
        assert await Ticket.all().count() == 2

    with dovecot.session(user) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        assert client.select_folder("Archive")[b"EXISTS"] == 2


async def test_a_changed_uidvalidity_reads_the_folder_again_without_duplicates(dovecot: Dovecot, user: str,
                                                                                desk: Desk) -> None:
    dovecot.append(user, customer_mail(1))
    async with desk(imap_box(dovecot, "support", user)) as runtime:
        await fetch(runtime)
        # The server renumbered the folder (restored from backup, recreated): our UIDs mean nothing now.
        await ImapFolderState.filter(mailbox="support").update(uidvalidity=1, last_uid=99)
        dovecot.append(user, customer_mail(2))

        code, lines = await fetch(runtime)

        assert code == 0
        assert "1 new of 2 fetched" in lines[0] and "UIDVALIDITY changed: read from the top" in lines[0]
        assert await Ticket.all().count() == 2
        assert await Inbound.all().count() == 2


async def test_a_wrong_password_is_reported_and_the_other_mailboxes_still_fetch(dovecot: Dovecot, user: str,
                                                                               desk: Desk) -> None:
    other = f"desk{next(_users)}"
    dovecot.append(other, customer_mail(1))
    bad = imap_box(dovecot, "billing", user, password="wrong")
    async with desk(bad, imap_box(dovecot, "support", other)) as runtime:
        code, lines = await fetch(runtime)

        assert code == 1
        assert lines[0].startswith("billing (INBOX): FAILED: cannot connect or log in:") and "wrong" not in lines[0]
        assert lines[1].startswith("support (INBOX): 1 new of 1 fetched")
        failed = await ImapFolderState.get(mailbox="billing")
        assert failed.failures == 1 and "authentication failed" in failed.error.lower()
        await fetch(runtime)
        assert (await ImapFolderState.get(mailbox="billing")).failures == 2
        assert await Ticket.all().count() == 1


async def test_an_unreachable_server_is_a_failed_fetch_not_a_crash(desk: Desk, dovecot: Dovecot, user: str) -> None:
    box = imap_box(dovecot, "support", user)
    box["imap"]["port"] = 1  # nothing listens there
    async with desk(box) as runtime:
        code, lines = await fetch(runtime)
    assert code == 1 and "FAILED: cannot connect or log in: ConnectionRefusedError" in lines[0]


def test_the_fetch_command(dovecot: Dovecot, user: str, database_url: str, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(user, customer_mail(7))
    secret = tmp_path / "imap.password"
    secret.write_text(dovecot.users[user])
    config = tmp_path / "mailhelpdesk.yaml"
    config.write_text(
        f"database_url: {database_url}\ndata_dir: {tmp_path}\nmailboxes:\n"
        f"  - name: support\n    address: support@example.com\n    imap:\n      host: 127.0.0.1\n"
        f"      port: {dovecot.port}\n      security: none\n      username: {user}\n"
        f"      password_file: {secret}\n")
    monkeypatch.setenv("MAILHELPDESK_SECRET_KEY", "x" * 40)
    out, err = io.StringIO(), io.StringIO()

    assert main(["--config", str(config), "fetch"], out, err) == 0, err.getvalue()
    assert out.getvalue().startswith("support (INBOX): 1 new of 1 fetched")
    assert main(["--config", str(config), "fetch", "--mailbox", "nope"], out, err) == 2
    assert "unknown mailbox 'nope'" in err.getvalue()


async def test_idle_brings_new_mail_in_seconds_and_stops_at_once(dovecot: Dovecot, user: str, desk: Desk) -> None:
    """serve's fetcher waits in IDLE: mail appended while it waits is read within seconds, far
    sooner than poll_seconds; cancelling it (serve stopping) wakes the waiting thread."""
    async with desk(imap_box(dovecot, "support", user, poll_seconds=300)) as runtime:
        accepted: list[int] = []
        fetcher = ImapFetcher(runtime.settings.mailboxes[0], runtime.intake, ImapStates(), utc_now)
        task = asyncio.create_task(fetcher.run_forever(accepted.append))
        try:
            await _until(lambda: ImapFolderState.filter(mailbox="support").exists())  # first read done, idling
            started = time.monotonic()
            await asyncio.to_thread(dovecot.append, user, customer_mail(5))
            await _until(lambda: _true(bool(accepted)))
            assert time.monotonic() - started < 5
        finally:
            task.cancel()
            stopping = time.monotonic()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert time.monotonic() - stopping < 3
        assert (await Inbound.get(id=accepted[0])).source.endswith(";UID=1")


async def _true(value: bool) -> bool:
    return value


async def _until(check: Callable[[], Any], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A server of this test's own: it is stopped and started again."""
    with running_dovecot({"desk": "secret"}) as server:
        yield server


async def test_the_fetcher_comes_back_after_the_server_restarts(own_dovecot: Dovecot, desk: Desk) -> None:
    own_dovecot.append("desk", customer_mail(1))
    async with desk(imap_box(own_dovecot, "support", "desk", poll_seconds=300)) as runtime:
        accepted: list[int] = []
        fetcher = ImapFetcher(runtime.settings.mailboxes[0], runtime.intake, ImapStates(), utc_now)
        task = asyncio.create_task(fetcher.run_forever(accepted.append))
        try:
            await _until(lambda: _true(len(accepted) == 1), seconds=20)
            await asyncio.to_thread(own_dovecot.stop)
            await _until(lambda: ImapFolderState.filter(mailbox="support", failures__gte=1).exists(), seconds=20)
            await asyncio.to_thread(own_dovecot.start)
            await asyncio.to_thread(own_dovecot.append, "desk", customer_mail(2))
            await _until(lambda: _true(len(accepted) == 2), seconds=30)  # the first retry is 5 s after the failure
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        state = await ImapFolderState.get(mailbox="support")
        assert (state.failures, state.error, state.last_uid) == (0, "", 2)


@pytest.fixture(scope="module")
def tls_dovecot() -> Iterator[Dovecot]:
    accounts = {f"{engine}-{security}": "secret" for engine in ("sqlite", "postgres")
                for security in ("tls", "starttls")}
    with running_dovecot(accounts, tls=True) as server:
        yield server


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_check_the_servers_certificate(tls_dovecot: Dovecot, desk: Desk, security: str,
                                                              database_url: str) -> None:
    user = f"{'sqlite' if 'sqlite' in database_url else 'postgres'}-{security}"  # the server is shared
    tls_dovecot.append(user, customer_mail(len(security)))
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    trusted = imap_box(tls_dovecot, "support", user, security=security, port=port, ca_file=str(tls_dovecot.ca_file))
    untrusted = imap_box(tls_dovecot, "billing", user, security=security, port=port)

    async with desk(untrusted, trusted) as runtime:
        code, lines = await fetch(runtime)

    assert code == 1
    assert lines[0].startswith("billing (INBOX): FAILED: cannot connect or log in: SSLCertVerificationError")
    assert lines[1].startswith("support (INBOX): 1 new of 1 fetched")
