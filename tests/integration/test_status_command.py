"""``mailhelpdesk status`` and the health endpoints: what comes in, what goes out, what needs an admin."""

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mailhelpdesk.app import running
from mailhelpdesk.cli import main
from mailhelpdesk.config import Settings
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.store.outbox import OutboxStore
from mailhelpdesk.web.app import create_web_app

from .mails import mail

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def config(tmp_path: Path, database_url: str) -> Path:
    (tmp_path / "imap.password").write_text("pw\n")
    path = tmp_path / "mailhelpdesk.yaml"
    path.write_text(
        f"database_url: {database_url}\ndata_dir: {tmp_path}\nmailboxes:\n"
        "  - {name: support, address: support@example.com}\n"
        "  - name: billing\n    address: billing@example.com\n    imap:\n      host: imap.example.com\n"
        f"      username: billing\n      password_file: {tmp_path / 'imap.password'}\n")
    return path


def status(path: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(["--config", str(path), "status"], out, io.StringIO())
    return code, out.getvalue().splitlines()


async def test_status_names_the_backlog_the_outbox_and_each_mailbox(make_settings: Callable[..., Settings],
                                                                     database_url: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILHELPDESK_SECRET_KEY", "s" * 40)
    path = config(tmp_path, database_url)
    async with running(make_settings(database_url, tmp_path)) as runtime:
        await runtime.intake.accept("support", mail(), "test")  # accepted, not processed yet
    code, lines = await _in_thread(status, path)
    assert code == 0, lines
    assert lines[0] == "inbound: 1 accepted"
    assert lines[1] == "outbox: none" and lines[2] == "breaker: closed (mail flows)"
    assert lines[3] == "mailbox support <support@example.com>: SMTP"
    assert lines[4] == "mailbox billing <billing@example.com>: IMAP billing@imap.example.com/INBOX: never fetched"

    async with running(make_settings(database_url, tmp_path)):
        await ImapStates().failed("billing", "INBOX", "LoginError: authentication failed", NOW)
        await OutboxStore().trip_breaker("312 automatic mails in 10 minutes", NOW)
    code, lines = await _in_thread(status, path)

    assert code == 1
    assert lines[2] == "breaker: TRIPPED: 312 automatic mails in 10 minutes"
    assert lines[4].endswith("FAILING (1 in a row): LoginError: authentication failed; last good fetch never, "
                             "last UID 0")
    assert "pw" not in "\n".join(lines)

    async with running(make_settings(database_url, tmp_path)):
        await ImapStates().advance("billing", "INBOX", 7, 42, NOW)
        await OutboxStore().reset_breaker(True, NOW)
    code, lines = await _in_thread(status, path)
    assert code == 0 and lines[4].endswith("ok, last good fetch 2026-12-05 10:00:00 UTC, last UID 42")


async def test_liveness_and_readiness(make_settings: Callable[..., Settings], database_url: str,
                                      tmp_path: Path) -> None:
    async with running(make_settings(database_url, tmp_path)) as runtime:
        app = create_web_app(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            alive = await client.get("/healthz")
            ready = await client.get("/healthz/ready")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["breaker"] == "" and ready.json()["pending"] == 0


async def _in_thread(function: Callable[[Path], tuple[int, list[str]]], path: Path) -> tuple[int, list[str]]:
    """The command runs its own event loop: not inside the test's."""
    import asyncio

    return await asyncio.to_thread(function, path)
