"""Working tickets in the panel, in process on each engine: queues, the ticket page's actions,
the mail frame and attachments. Every action goes through the ticket service."""

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import Message, Outbox, Ticket, TicketCollaborator
from mailhelpdesk.store.queues import Filters, Queues, Viewer, queue_filter
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail, new_message_id, reply_to
from .web import Browser, logged_in

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
teams:
  dispatch: {line: 1}
  network: {line: 2}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
  - {email: ivan@example.com, name: Ivan Orlov, teams: [network]}
sla:
  calendar: office
  policies:
    - name: Urgent
      urgencies: [high, critical]
      first_response: 1h
      resolution: 8h
    - name: Standard
      first_response: 4h
      resolution: 2d
rules:
  - name: Outages are urgent
    on: ticket_created
    when: {subject: {contains: outage}}
    then: {urgency: critical}
"""
_TEXTAREA = re.compile(r'<textarea id="reply-text"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": SUPPORT}])
    async with running(settings, clock=Clock(NOW)) as runtime:
        runtime.rules.load()
        yield runtime


@pytest.fixture
async def browser(rt: Runtime) -> AsyncIterator[Browser]:
    app = create_web_app(rt, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
        yield await logged_in(client, "oleg@example.com")


async def act(browser: Browser, path: str, form: dict[str, str]) -> str:
    """Post a ticket form; the page it leads to, with its one-line result."""
    response = await browser.post(path, form)
    assert response.status_code == 303, response.text
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


def flash(page: str) -> str:
    found = re.search(r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', page, re.S)
    assert found, "no result line on the page"
    return f"{found.group(1)}: {found.group(2)}"


# --- queues ----------------------------------------------------------------------------------

async def test_a_new_ticket_knows_its_nearest_deadline(rt: Runtime) -> None:
    number = await ingest(rt, mail("Printer outage on floor 3", date=NOW))
    ticket = await Ticket.get(number=number)
    assert ticket.urgency == "critical"
    assert ticket.next_due == ticket.first_response_due == NOW + timedelta(hours=1)


async def test_queues_hold_the_tickets_their_names_promise(rt: Runtime) -> None:
    old = await ingest(rt, mail("Printer outage", date=NOW - timedelta(hours=3)))  # 1 h first response: overdue
    soon = await ingest(rt, mail("Outage of the VPN", sender="bob@globex.ru", date=NOW - timedelta(minutes=30)))
    calm = await ingest(rt, mail("A question about invoices", sender="eve@initech.com", date=NOW))
    waiting = await ingest(rt, mail("Please call me", sender="joe@initech.com", date=NOW))
    done = await ingest(rt, mail("Thanks, all good", sender="kim@initech.com", date=NOW))
    await Ticket.filter(number=calm).update(assignee="oleg@example.com", team="dispatch")
    await Ticket.filter(number=waiting).update(status="pending", team="network")
    await Ticket.filter(number=done).update(status="closed", updated_at=NOW - timedelta(days=1))
    viewer, queues = Viewer("oleg@example.com", ("dispatch",)), Queues()

    async def members(queue: str) -> set[int]:
        return {r.number for r in (await queues.page(queue, viewer, NOW)).rows}

    assert await members("mine") == {calm}
    assert await members("overdue") == {old}
    assert await members("at_risk") == {soon}
    assert await members("pending") == {waiting}
    assert await members("closed") == {done}
    assert await members("unassigned") == {old, soon}
    assert await members("open") == {old, soon, calm, waiting}
    counts = await queues.counts(viewer, NOW)
    assert counts["open"] == 4 and counts["mine"] == 1 and counts["closed"] == 1
    assert (await queues.counts(viewer, NOW, Filters(urgency="critical")))["open"] == 2


@pytest.mark.parametrize("sort", ["due", "urgency", "updated"])
async def test_keyset_pages_show_every_ticket_once_in_order(rt: Runtime, sort: str) -> None:
    numbers = []
    for i in range(7):
        subject = "Outage" if i % 3 == 0 else "Question"
        numbers.append(await ingest(rt, mail(f"{subject} {i}", sender=f"user{i}@initech.com",
                                             date=NOW - timedelta(minutes=i * 7))))
    nothing_due = sorted([numbers[2], numbers[5]])
    await Ticket.filter(number__in=nothing_due).update(next_due=None)  # no deadline: they come last
    viewer, queues, seen, after = Viewer("oleg@example.com", ()), Queues(), [], ""
    while True:
        found = await queues.page("open", viewer, NOW, sort, after=after, size=3)
        seen += found.rows
        if not found.next_cursor:
            break
        after = found.next_cursor
    whole = (await queues.page("open", viewer, NOW, sort, size=100)).rows
    assert [r.number for r in seen] == [r.number for r in whole] and len(whole) == 7
    if sort == "due":
        assert [r.number for r in whole][-2:] == nothing_due


async def test_the_queue_page_lists_counts_and_pages_through(rt: Runtime, browser: Browser) -> None:
    for i in range(3):
        await ingest(rt, mail(f"Question {i}", sender=f"user{i}@initech.com", date=NOW))
    page = await browser.get("/?queue=unassigned&sort=updated")
    assert page.status_code == 200
    assert re.search(r'aria-current="page">Unassigned <span class="count">3</span>', page.text)
    assert page.text.count('<a href="/tickets/') == 6  # number and subject of each
    assert (await browser.get("/?queue=nonsense")).status_code == 400
    assert (await browser.get("/?line=9")).status_code == 400
    for cursor in ("garbage~x", "2026-01-01~²", "-~99999999999999999999", "7~1", "~"):  # hand-edited: the top
        assert (await browser.get(f"/?queue=open&sort=urgency&after={cursor}")).status_code == 200, cursor
        assert (await browser.get(f"/?queue=open&after={cursor}")).status_code == 200, cursor


def test_an_agent_without_a_team_has_an_empty_team_queue() -> None:
    where, params = queue_filter("team", Viewer("x@example.com", ()), NOW)
    assert params[0] == "" and "team" in where


# --- the ticket page's actions ------------------------------------------------------------------

async def test_an_answer_from_the_panel_is_queued_to_the_customer_and_sets_the_status(
        rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))

    page = await act(browser, f"/tickets/{number}/reply", {"text": "Please restart it.", "status": "pending"})

    assert flash(page).startswith("ok: ") and "answer is queued" in flash(page)
    [answer] = await Outbox.filter(ticket__number=number, template="agent_reply")
    assert answer.recipient == "ann@acme.com" and b"Please restart it." in answer.raw_message
    ticket = await Ticket.get(number=number)
    assert ticket.status == "pending" and ticket.first_response_due is None


async def test_a_note_stays_inside_and_mentions_tell_the_agent(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    before = await Outbox.filter(audience="customer").count()

    page = await act(browser, f"/tickets/{number}/note", {"text": "@ivan can you look at the driver?"})

    assert '<article class="internal"' in page and "can you look at the driver?" in page
    assert await Outbox.filter(audience="customer").count() == before
    assert await Outbox.filter(template="agent_mention", recipient="ivan@example.com").exists()


async def test_fields_change_through_the_service_and_a_wrong_one_changes_nothing(
        rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    form = {"status": "open", "urgency": "high", "line": "2", "team": "network", "assignee": "ivan@example.com",
            "tags_add": "printer, floor3", "tags_remove": ""}

    page = await act(browser, f"/tickets/{number}/fields", form)

    assert "urgency: normal → high" in flash(page)
    ticket = await Ticket.get(number=number)
    assert (ticket.urgency, ticket.line, ticket.team, ticket.assignee) == ("high", 2, "network", "ivan@example.com")
    assert sorted(ticket.tags) == ["floor3", "printer"]
    refused = await act(browser, f"/tickets/{number}/fields", {**form, "assignee": "stranger@evil.example"})
    assert flash(refused) == "error: stranger@evil.example is not a declared agent"
    assert (await Ticket.get(number=number)).assignee == "ivan@example.com"


async def test_collaborators_merge_and_split(rt: Runtime, browser: Browser) -> None:
    first = mail("Printer on floor 3 is broken", date=NOW)
    one = await ingest(rt, first)
    two = await ingest(rt, mail("Printer again", date=NOW))
    await ingest(rt, reply_to(first, body="And the scanner is broken too.\n", date=NOW))

    await act(browser, f"/tickets/{one}/collaborators", {"add": "anna@example.com", "remove": ""})
    assert await TicketCollaborator.filter(ticket__number=one, agent="anna@example.com").exists()

    merged = await act(browser, f"/tickets/{two}/merge", {"into": f"#{one}"})
    assert f"#{two} merged into #{one}" in flash(merged)
    assert (await Ticket.get(number=two)).merged_into == one

    scanner = await Message.get(ticket__number=one, text__contains="scanner")
    split = await act(browser, f"/tickets/{one}/split", {"message": str(scanner.id)})
    new = int(re.search(r"is now #(\d+)", flash(split)).group(1))  # type: ignore[union-attr]
    assert (await Message.get(id=scanner.id).prefetch_related("ticket")).ticket.number == new
    assert "And the scanner is broken too." in split


async def test_the_only_message_cannot_be_split_off(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    only = await Message.get(ticket__number=number, direction="in")
    page = await act(browser, f"/tickets/{number}/split", {"message": str(only.id)})
    assert flash(page).startswith("error: ")
    assert await Message.filter(ticket__number=number, direction="in").count() == 1


async def test_a_canned_reply_fills_the_answer_in_the_customers_language(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Принтер не печатает", sender="Иван <ivan@initech.ru>",
                                   body="Здравствуйте, принтер не печатает.\n", date=NOW))
    page = await browser.get(f"/tickets/{number}?canned=fixed_please_confirm")
    [draft] = _TEXTAREA.findall(page.text)
    assert f"обращении №{number}" in draft and "Иван" in draft
    missing = await browser.get(f"/tickets/{number}?canned=../../etc/passwd")
    assert _TEXTAREA.findall(missing.text) == [""]


async def test_forms_without_csrf_or_with_a_wrong_one_are_refused(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken", date=NOW))
    await browser.get(f"/tickets/{number}")  # the CSRF cookie
    refused = await browser.post(f"/tickets/{number}/note", {"text": "hi"}, csrf=False)
    assert refused.status_code == 403
    forged = await browser.post(f"/tickets/{number}/note", {"text": "hi", "_csrf_token": "forged-token"}, csrf=False)
    assert forged.status_code == 403
    assert not await Message.filter(ticket__number=number, visibility="internal").exists()


# --- what a mail carries -------------------------------------------------------------------------

def hostile_html_mail() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Mallory <m@evil.example>", SUPPORT, "Invoice"
    msg["Date"], msg["Message-ID"] = format_datetime(NOW), new_message_id("m@evil.example")
    msg.set_content("See the invoice.\n")
    msg.add_alternative(
        '<p onclick="steal()">See the invoice.</p><script>steal()</script>'
        '<img src="https://tracker.example/pixel.gif"><a href="javascript:steal()">pay</a>'
        '<svg onload="steal()"><circle r="5"/></svg><style>body{background:url(https://x.example/a)}</style>'
        '<iframe src="https://evil.example/"></iframe>', subtype="html")
    msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="../../invoice.pdf")
    return msg.as_bytes()


async def test_a_hostile_html_mail_is_framed_without_scripts_or_remote_loads(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, hostile_html_mail())
    message = await Message.get(ticket__number=number, direction="in")
    page = await browser.get(f"/tickets/{number}")
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page.text
    assert "Remote images are blocked" in page.text

    frame = await browser.get(f"/tickets/{number}/messages/{message.id}/html")

    body = frame.text.lower()
    for banned in ("<script", "onclick", "onload", "javascript:", "<iframe", "<style", "<svg"):
        assert banned not in body, banned
    policy = frame.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "img-src data:;" in policy and "sandbox" in policy
    assert "frame-ancestors 'self'" in policy and frame.headers["x-frame-options"] == "SAMEORIGIN"
    with_images = await browser.get(f"/tickets/{number}/messages/{message.id}/html?images=true")
    assert "img-src data: https: http:;" in with_images.headers["content-security-policy"]
    assert (await browser.get(f"/tickets/{number + 1}/messages/{message.id}/html")).status_code == 404


async def test_attachments_download_as_files_never_rendered(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, hostile_html_mail())
    page = await browser.get(f"/tickets/{number}")
    [link] = re.findall(rf'href="(/tickets/{number}/attachments/\d+)"', page.text)

    download = await browser.get(link)

    assert download.status_code == 200 and download.content == b"%PDF-1.4 invoice"
    assert download.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    assert "/" not in download.headers["content-disposition"].split("''", 1)[1]
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    other = await ingest(rt, mail("Another", date=NOW))
    assert (await browser.get(link.replace(f"/tickets/{number}/", f"/tickets/{other}/"))).status_code == 404


async def test_a_possible_duplicate_is_merged_with_one_action(rt: Runtime, browser: Browser) -> None:
    """Two open "Problem" tickets, then "Re: Problem" without headers: a new ticket the page flags,
    with a button that merges it into the likely one."""
    await ingest(rt, mail("Problem", body="The scanner jams.\n", date=NOW))
    likely = await ingest(rt, mail("Problem", body="The VPN is down.\n", date=NOW + timedelta(minutes=5)))
    flagged = await ingest(rt, mail("Re: Problem", body="Any news?\n", date=NOW + timedelta(minutes=9)))
    assert flagged != likely

    page = (await browser.get(f"/tickets/{flagged}")).text
    assert f'Possible duplicate of <a href="/tickets/{likely}">#{likely}</a>' in page
    assert f'<input type="hidden" name="into" value="{likely}">' in page
    assert (await browser.get(f"/tickets/{likely}")).text.count("Possible duplicate") == 0

    merged = await act(browser, f"/tickets/{flagged}/merge", {"into": str(likely), "force": "yes"})

    assert f"#{flagged} merged into #{likely}" in flash(merged)
    assert (await Ticket.get(number=flagged)).merged_into == likely
    after = (await browser.get(f"/tickets/{flagged}")).text
    assert "Possible duplicate" not in after and "Merged into" in after
