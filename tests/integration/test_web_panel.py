"""The web panel in process: what a ticket's page says about our own mail, on each engine."""

import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.store.models import Message, Outbox
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import Clock, ingest, mail

AGENT = "oleg@example.com"
RULES = "teams:\n  dispatch: {line: 1, members: [oleg@example.com]}\n"
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_ARTICLE = re.compile(r'<article class="([^"]*)"[^>]*>\s*<div class="meta">(.*?)</div>', re.S)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": "support@example.com"}])
    async with running(settings, clock=Clock(MONDAY_10)) as runtime:
        runtime.rules.load()
        yield runtime


async def thread_labels(rt: Runtime, number: int) -> list[tuple[str, str]]:
    """Each message of the ticket's page: its article's class and its meta line as text, whitespace folded."""
    # httpx's transport calls the app on this event loop, where the runtime opened the database
    # (Litestar's own test client runs it on a loop of its own).
    transport = httpx.ASGITransport(app=create_web_app(rt))
    session = await AccountStore().open_session(AGENT, datetime.now(UTC))  # as a login makes it
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get(f"/tickets/{number}", headers={"cookie": f"mhd_session={session}"})
    assert response.status_code == 200, response.text
    return [(css, " ".join(html.unescape(meta).split())) for css, meta in _ARTICLE.findall(response.text)]


@pytest.mark.parametrize(("status", "reason", "attempts", "shown"), [
    ("queued", "", 0, "to customer · queued"),
    ("queued", "451 4.3.0 try again later", 1, "to customer · queued, tried 1x: 451 4.3.0 try again later"),
    ("sending", "", 1, "to customer · sending"),
    ("sent", "250 2.0.0 Ok: queued as 4F2A", 1, "to customer · sent"),
    ("failed", "550 5.1.1 no such user", 1, "to customer · failed: 550 5.1.1 no such user"),
    ("held", "the outbox breaker is tripped", 0, "to customer · held: the outbox breaker is tripped"),
    ("suppressed", "held by the breaker, discarded by an admin", 0,
     "to customer · suppressed: held by the breaker, discarded by an admin"),
])
async def test_our_mail_in_the_thread_shows_whom_it_is_for_and_what_became_of_it(
        rt: Runtime, status: str, reason: str, attempts: int, shown: str) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=MONDAY_10))
    [ack] = await Outbox.filter(ticket__number=number, template="acknowledgement")
    await Outbox.filter(id=ack.id).update(status=status, reason=reason, attempts=attempts)

    [(customer_css, customer_meta), (ours_css, ours_meta)] = await thread_labels(rt, number)

    assert ours_meta.endswith(f"support <support@example.com> · ours (acknowledgement) · {shown}"), ours_meta
    assert "public" not in ours_meta and ("sent" in ours_meta) == (status == "sent")
    assert ours_css == "ours"
    assert customer_css == "public" and customer_meta.endswith("Ann Example <ann@acme.com> · public")


async def test_our_mail_without_an_outbox_row_is_not_claimed_sent(rt: Runtime) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=MONDAY_10))
    await Message.filter(ticket__number=number, direction="out").update(flags={"template": "acknowledgement"})

    [_, (_, ours_meta)] = await thread_labels(rt, number)

    assert ours_meta.endswith("· ours (acknowledgement) · not in the outbox"), ours_meta
