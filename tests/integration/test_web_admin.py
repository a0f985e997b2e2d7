"""The admin pages in process, on each engine: rules, quarantine, outbox and backlog, for admins only."""

import html
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.outcomes import Outcome
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.intake import Intake
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.runner import Pipeline
from mailhelpdesk.rules.ruleset import load_rules
from mailhelpdesk.store.models import Event, Inbound, Outbox, ServiceFlag, Ticket
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail, receive
from .web import Browser, logged_in

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES = """
teams:
  dispatch: {line: 1}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
"""
# A rule on an event that does not exist: the whole file is refused.
BROKEN = RULES + "rules:\n  - name: Typo\n    on: ticket_craeted\n    then: {urgency: high}\n"
ANNA = "agent:anna@example.com"
PAGES = ("/admin", "/admin/rules", "/admin/quarantine", "/admin/outbox")
ACTIONS = ("/admin/quarantine/{inbound}/replay", "/admin/quarantine/{inbound}/discard",
           "/admin/outbox/{outbox}/retry", "/admin/outbox/resume", "/admin/outbox/discard-held")


@dataclass(frozen=True, slots=True)
class ExplodingStep:
    """A step with a bug: what puts a mail in quarantine with its step and error."""

    name: str = "explode"

    async def run(self, ctx: MailContext) -> Outcome:
        raise RuntimeError("disk on fire")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path,
             clock: Clock) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": SUPPORT}])
    async with running(settings, clock=clock) as runtime:
        runtime.rules.load()
        yield runtime


@pytest.fixture
async def client(rt: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(rt, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as http:
        yield http


@pytest.fixture
async def anna(client: httpx.AsyncClient) -> Browser:
    return await logged_in(client, "anna@example.com")


@pytest.fixture
async def oleg(client: httpx.AsyncClient) -> Browser:
    return await logged_in(client, "oleg@example.com")


# --- helpers -------------------------------------------------------------------------------------


async def quarantined(rt: Runtime, subject: str = "Badge does not open door 2") -> int:
    """A customer mail that failed in a step (a bug or an outage): its inbound id."""
    steps = (*rt.pipeline.steps, ExplodingStep())
    broken = Intake(rt.repo, Pipeline(steps, rt.repo, rt.pipeline.mailboxes, rt.pipeline.clock), rt.intake.clock)
    result = await broken.receive("support", mail(subject, sender="Ina <ina@initech.io>", date=NOW), "smtp")
    assert result is not None and result.state is InboundState.QUARANTINED
    return result.inbound_id


async def failed_mail(rt: Runtime) -> tuple[int, int]:
    """A ticket whose acknowledgement failed for good: (ticket number, outbox id)."""
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    [ack] = await Outbox.filter(ticket__number=number, template="acknowledgement")
    await Outbox.filter(id=ack.id).update(status="failed", reason="550 5.1.1 no such user", attempts=5)
    return number, ack.id


def text_of(response: httpx.Response) -> str:
    """The page's text, tags and whitespace folded: what a reader sees."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


async def followed(browser: Browser, response: httpx.Response) -> str:
    """The page a 303 after an action leads to, as text."""
    assert response.status_code == 303, response.text
    return text_of(await browser.get(response.headers["location"]))


async def events(kind: str) -> list[Event]:
    return await Event.filter(kind=kind).order_by("id")


# --- who may -------------------------------------------------------------------------------------


async def test_an_agent_who_is_not_an_admin_gets_403_on_every_admin_page_and_action(
        rt: Runtime, anna: Browser, oleg: Browser) -> None:
    inbound_id = await quarantined(rt)
    _, outbox_id = await failed_mail(rt)

    for path in PAGES:
        assert (await oleg.get(path)).status_code == 403, path
        assert (await anna.get(path)).status_code == 200, path
    for action in ACTIONS:
        path = action.format(inbound=inbound_id, outbox=outbox_id)
        assert (await oleg.post(path, {})).status_code == 403, path

    assert (await Inbound.get(id=inbound_id)).state == "quarantined"
    assert (await Outbox.get(id=outbox_id)).status == "failed"
    assert await Event.filter(actor="agent:oleg@example.com").count() == 0


async def test_an_action_without_the_csrf_token_is_refused(rt: Runtime, anna: Browser) -> None:
    inbound_id = await quarantined(rt)
    _, outbox_id = await failed_mail(rt)
    await anna.get("/admin/quarantine")  # the CSRF cookie, but no token in the form

    for action in ACTIONS:
        path = action.format(inbound=inbound_id, outbox=outbox_id)
        assert (await anna.post(path, {}, csrf=False)).status_code == 403, path

    assert (await Inbound.get(id=inbound_id)).state == "quarantined"
    assert (await Outbox.get(id=outbox_id)).status == "failed"


async def test_a_result_message_not_made_by_the_panel_is_not_shown(anna: Browser) -> None:
    page = await anna.get("/admin/quarantine?done=Your+password+expired,+call+555-0100&sig=0123")

    assert page.status_code == 200 and "call 555-0100" not in page.text


# --- quarantine ----------------------------------------------------------------------------------


async def test_an_admin_sees_quarantined_mail_and_replays_it_into_a_ticket(rt: Runtime, anna: Browser) -> None:
    inbound_id = await quarantined(rt)

    listing = text_of(await anna.get("/admin/quarantine"))
    assert f"{inbound_id} 2026-11-23 10:00 ina@initech.io Badge does not open door 2 explode" in listing
    assert "error in step explode RuntimeError: disk on fire" in listing

    shown = await followed(anna, await anna.post(f"/admin/quarantine/{inbound_id}/replay", {}))

    [ticket] = await Ticket.all()
    assert f"Message {inbound_id} replayed: ticket #{ticket.number}." in shown
    assert "Nothing in quarantine." in shown
    row = await Inbound.get(id=inbound_id)
    assert (row.state, row.attempts) == ("ingested", 2)
    [replayed] = await events("inbound.replayed")
    assert (replayed.actor, replayed.data["state"], replayed.data["ticket"]) == (ANNA, "ingested", ticket.number)


async def test_a_replay_that_fails_again_keeps_the_mail_in_quarantine(rt: Runtime, anna: Browser) -> None:
    held = await receive(rt, b"\x00\x01garbage without any header\r\n")
    assert held.state is InboundState.QUARANTINED

    shown = await followed(anna, await anna.post(f"/admin/quarantine/{held.inbound_id}/replay", {}))

    assert f"Message {held.inbound_id} is still quarantined: not an email" in shown
    assert (await Inbound.get(id=held.inbound_id)).state == "quarantined"
    assert await Ticket.all().count() == 0


async def test_an_admin_discards_a_quarantined_mail_and_its_bytes_stay(rt: Runtime, anna: Browser) -> None:
    raw = b"\x00\x01garbage without any header\r\n"
    held = await receive(rt, raw)

    shown = await followed(anna, await anna.post(f"/admin/quarantine/{held.inbound_id}/discard", {}))

    assert f"Message {held.inbound_id} discarded." in shown and "Nothing in quarantine." in shown
    row = await Inbound.get(id=held.inbound_id)
    assert row.state == "ignored" and bytes(row.raw_message) == raw
    assert row.reason.startswith(f"discarded from quarantine by {ANNA} (was: not an email")
    [discarded] = await events("inbound.discarded")
    assert (discarded.actor, discarded.inbound_id) == (ANNA, held.inbound_id)  # type: ignore[attr-defined]

    again = await followed(anna, await anna.post(f"/admin/quarantine/{held.inbound_id}/discard", {}))
    assert f"Message {held.inbound_id} is not in quarantine." in again
    assert len(await events("inbound.discarded")) == 1


# --- outbox --------------------------------------------------------------------------------------


async def test_an_admin_retries_a_failed_mail(rt: Runtime, anna: Browser, clock: Clock) -> None:
    number, outbox_id = await failed_mail(rt)

    page = await anna.get("/admin/outbox")
    assert f'<a href="/tickets/{number}">#{number}</a>' in page.text
    assert f'action="/admin/outbox/{outbox_id}/retry"' in page.text
    assert (f"{outbox_id} failed acknowledgement ann@acme.com #{number} 5 550 5.1.1 no such user"
            in text_of(page))

    clock.now = NOW + timedelta(minutes=30)
    shown = await followed(anna, await anna.post(f"/admin/outbox/{outbox_id}/retry", {}))

    assert f"Mail {outbox_id} queued again." in shown and "No failed or held mail." in shown
    row = await Outbox.get(id=outbox_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 0, clock.now)
    [retried] = await events("outbox.retried")
    assert (retried.actor, retried.data) == (ANNA, {"ids": [outbox_id]})
    again = await followed(anna, await anna.post(f"/admin/outbox/{outbox_id}/retry", {}))
    assert f"Mail {outbox_id} has not failed: nothing changed." in again


async def test_an_admin_resumes_held_mail_or_discards_it(rt: Runtime, anna: Browser) -> None:
    await ServiceFlag.create(name="outbox_breaker", value="tripped by another process", changed_at=NOW)
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    held = await Outbox.filter(ticket__number=number).count()
    assert held and await Outbox.filter(status="held").count() == held

    page = text_of(await anna.get("/admin/outbox"))
    assert "The breaker is tripped tripped by another process" in page
    assert f"#{number}" in page and "the outbox breaker is tripped" in page

    shown = await followed(anna, await anna.post("/admin/outbox/resume", {}))

    assert f"Automatic mail flows again; {held} held mail(s) queued." in shown
    assert {r.status for r in await Outbox.filter(ticket__number=number)} == {"queued"}
    assert await rt.outbox.breaker_tripped() == ""
    [resumed] = await events("outbox.resumed")
    assert (resumed.actor, resumed.data["discarded"], resumed.data["held"]) == (ANNA, False, held)

    await ServiceFlag.create(name="outbox_breaker", value="tripped again", changed_at=NOW)
    other = await ingest(rt, mail("Scanner is broken", sender="Bob <bob@acme.com>", date=NOW))
    shown = await followed(anna, await anna.post("/admin/outbox/discard-held", {}))

    assert f"Automatic mail flows again; {held} held mail(s) discarded." in shown
    assert {r.status for r in await Outbox.filter(ticket__number=other)} == {"suppressed"}
    assert (await events("outbox.resumed"))[-1].data["discarded"] is True


# --- rules and backlog ---------------------------------------------------------------------------


async def test_the_rules_page_shows_a_refused_reload_while_the_last_good_rules_apply(
        rt: Runtime, anna: Browser) -> None:
    path = rt.settings.rules_file
    assert path is not None
    good = rt.rules()
    path.write_text(BROKEN)
    assert rt.rules.refresh().outcome == "refused"
    problems = [str(p) for p in load_rules(path).problems]
    assert problems and all(p.startswith(f"{path}:") for p in problems)

    page = text_of(await anna.get("/admin/rules"))

    assert f"The file on disk is refused: {len(problems)} problem(s)" in page
    for problem in problems:
        assert problem in page
    assert f"{path}:9:9: on must be one of" in page  # the line and column of 'ticket_craeted'
    assert "The last good rules stay in force" in page and f"In force {good.summary()}" in page
    assert rt.rules() is good  # anna is still an admin: she saw the page
    assert f"version {rt.rules.version}" in page and len(rt.rules.version) == 16
    assert "Last reload refused at" in page
    assert "The rules file on disk is refused: 1 problem(s)" in text_of(await anna.get("/admin"))

    path.write_text(RULES + "rules: []\n")
    assert rt.rules.refresh().outcome == "reloaded"
    fixed = text_of(await anna.get("/admin/rules"))
    assert "Last reload refused" not in fixed
    assert "The file on disk is valid." in fixed and "refused" not in fixed


async def test_the_backlog_counts_accepted_mail_and_the_age_of_the_oldest(rt: Runtime, anna: Browser,
                                                                         clock: Clock) -> None:
    clock.now = NOW - timedelta(hours=2, minutes=5)
    await rt.intake.accept("support", mail("First, not processed yet", date=NOW), "smtp")
    clock.now = NOW - timedelta(minutes=10)
    await rt.intake.accept("support", mail("Second, not processed yet", date=NOW), "smtp")
    await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    await quarantined(rt)
    clock.now = NOW

    page = text_of(await anna.get("/admin"))

    assert ("2 accepted, not processed yet; the oldest waits 2 h 5 min (accepted 2026-11-23 07:55:00 UTC)."
            in page), page
    assert "state messages accepted 2 ingested 1 ignored 0 duplicate 0 quarantined 1" in page
    assert "1 message(s) quarantined." in page


async def test_admin_pages_hold_no_inline_script_or_style(rt: Runtime, anna: Browser) -> None:
    await quarantined(rt)
    await failed_mail(rt)
    for path in PAGES:
        text = (await anna.get(path)).text
        assert "<script" not in text and "<style" not in text and " style=" not in text, path
        assert '<link rel="stylesheet" href="/static/admin.css">' in text, path
    assert (await anna.get("/static/admin.css")).status_code == 200


async def test_a_redirect_after_an_action_carries_a_signed_result(rt: Runtime, anna: Browser) -> None:
    inbound_id = await quarantined(rt)

    response = await anna.post(f"/admin/quarantine/{inbound_id}/discard", {})

    target = urlsplit(response.headers["location"])
    assert target.path == "/admin/quarantine"
    query = parse_qs(target.query)
    assert query["done"] == [f"Message {inbound_id} discarded."] and len(query["sig"][0]) == 32
