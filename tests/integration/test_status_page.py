"""The customer status page behind the signed link in every customer mail, on each engine: what it
shows (and never shows), how a reply from it enters the pipeline, and what it refuses."""

import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.templates import SAMPLE_AGENT, SAMPLE_EXTRA, SAMPLE_NOW, sample_view
from mailhelpdesk.config import MailboxSettings, Settings
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.outbound.context import ContextBuilder, Moments
from mailhelpdesk.outbound.planner import Notice
from mailhelpdesk.outbound.templates import Rendered, Templates
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.models import Attachment, Inbound, Message, Outbox, Ticket
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.web.app import create_web_app
from mailhelpdesk.web.status_page import MAX_UPLOAD, REPLIES_PER_HOUR, SOURCE, ReplyLimiter, safe_file_name

from .conftest import ruled_settings
from .mails import Clock, ingest, mail

RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
teams:
  dispatch: {line: 1}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch]}
sla:
  calendar: office
  policies:
    - name: Standard
      first_response: 4h
      resolution: 3d
"""
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ANNA = Actor.agent("anna@example.com")
_STATUS_URL = re.compile(r"https?://[^\s\"<>]+(/status/\d+/[a-z2-7]+)")


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path,
             clock: Clock) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": "support@example.com", "team": "dispatch"}])
    async with running(settings, clock=clock) as runtime:
        runtime.rules.load()
        yield runtime


@pytest.fixture
async def web(rt: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    # httpx calls the app on this event loop, where the runtime opened the database.
    transport = httpx.ASGITransport(app=create_web_app(rt, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


# --- helpers -------------------------------------------------------------------------------------


async def ticket_of(rt: Runtime, subject: str = "Printer on floor 3 is broken", **kwargs: str) -> int:
    return await ingest(rt, mail(subject, date=MONDAY_10, **kwargs))


async def mailed_link(number: int, template: str = "acknowledgement") -> str:
    """The status page's path as the customer's mail carries it (text and HTML part alike)."""
    [row] = await Outbox.filter(ticket__number=number, template=template)
    parsed = message_from_bytes(bytes(row.raw_message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html_part is not None
    in_text = _STATUS_URL.findall(text.get_content())
    in_html = _STATUS_URL.findall(html.unescape(html_part.get_content()))
    assert len(in_text) == 1 and in_html == in_text, (in_text, in_html)
    return str(in_text[0])


def status_path(rt: Runtime, number: int) -> str:
    return f"/status/{number}/{rt.signer.status_signature(number)}"


async def page(web: httpx.AsyncClient, path: str) -> str:
    response = await web.get(path)
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


async def post_reply(web: httpx.AsyncClient, rt: Runtime, number: int, text: str = "",
                     file: tuple[str, bytes, str] | None = None, token: str | None = None,
                     path: str | None = None) -> httpx.Response:
    form = {"token": rt.signer.status_form_token(number) if token is None else token, "text": text}
    files = {"file": file or ("", b"", "application/octet-stream")}  # an empty file input, as browsers send it
    return await web.post(path or status_path(rt, number), data=form, files=files)


async def set_status(rt: Runtime, number: int, status: str, clock: Clock) -> None:
    async with transaction():
        await rt.service.set_fields(number, FieldChanges(status=status), ANNA, Moment.of(clock.now))


# --- the link and the page -----------------------------------------------------------------------


_SHIPPED = Templates(None)


@pytest.mark.parametrize(("language", "name"), [(lang, name) for lang in _SHIPPED.languages()
                                                 for name in _SHIPPED.names(lang)])
def test_every_customer_template_carries_the_status_link_and_no_agent_template_does(language: str,
                                                                                   name: str) -> None:
    signer = Signer(b"k" * 32)
    agent = name.startswith("agent_")
    view = sample_view()
    context = ContextBuilder("https://desk.example.com", signer).build(
        view, Notice(name, "agent" if agent else "customer", (), dict(SAMPLE_EXTRA)),
        SAMPLE_AGENT if agent else view.requester.email, language,
        MailboxSettings("support", "support@example.com"), RuleSet(Path("rules.yaml")), Moments(now=SAMPLE_NOW))
    rendered = _SHIPPED.render(name, language, context)
    assert isinstance(rendered, Rendered), rendered

    link = f"https://desk.example.com/status/{view.number}/{signer.status_signature(view.number)}"
    assert (link in rendered.text, link in rendered.html) == (not agent, not agent)
    assert "/status/" not in rendered.text + rendered.html if agent else link in rendered.text.splitlines()



async def test_the_acknowledgement_links_to_a_page_with_the_ticket_its_status_and_expected_times(
        rt: Runtime, web: httpx.AsyncClient) -> None:
    number = await ticket_of(rt)
    link = await mailed_link(number)

    shown = await page(web, link)

    assert link == status_path(rt, number)
    assert f"Request #{number}" in shown and "Printer on floor 3 is broken" in shown
    assert "Received, waiting for a specialist" in shown
    assert "Our first answer by</dt><dd>23 November 2026, 14:00" in shown
    assert "Solution expected by</dt><dd>26 November 2026, 10:00" in shown and "time zone UTC" in shown
    assert 'name="token"' in shown and 'enctype="multipart/form-data"' in shown
    assert 'id="survey"' not in shown


async def test_a_russian_customer_gets_the_link_and_the_page_in_russian(rt: Runtime, web: httpx.AsyncClient) -> None:
    number = await ticket_of(rt, "Не печатает принтер", sender="Иван Петров <ivan@acme.com>",
                             body="Здравствуйте! Принтер на третьем этаже не печатает, выдаёт ошибку E42.\n")
    shown = await page(web, await mailed_link(number))

    assert '<html lang="ru">' in shown and f"Обращение #{number}" in shown
    assert "Получено, ожидает специалиста" in shown and "Наш первый ответ до</dt><dd>23 ноября 2026, 14:00" in shown


async def test_the_page_shows_the_public_conversation_and_nothing_internal_or_of_other_tickets(
        rt: Runtime, web: httpx.AsyncClient, clock: Clock) -> None:
    number = await ticket_of(rt, body="The printer shows error E42.\n")
    await ticket_of(rt, "VPN is down", sender="Bob Other <bob@globex.ru>", body="Another customer's secret.\n")
    async with transaction():
        await rt.service.note(number, "Internal: the vendor still owes us a fuser.", ANNA, Moment.of(clock.now))
        await rt.service.reply(number, "Please switch the printer off and on again.", ANNA, Moment.of(clock.now))

    shown = await page(web, status_path(rt, number))

    assert "The printer shows error E42." in shown and "Please switch the printer off and on again." in shown
    assert re.search(r"You · 23 November 2026, 10:00", shown)
    for hidden in ("vendor still owes", "Another customer", "anna@example.com", "Anna Smirnova",
                   "We have registered your request"):  # the last: our automatic acknowledgement
        assert hidden not in shown, hidden
    assert "Our first answer by" not in shown  # answered: the first response is met


# --- a reply from the page -----------------------------------------------------------------------


async def test_a_reply_with_a_file_becomes_the_customers_mail_on_the_ticket_and_reopens_it(
        rt: Runtime, web: httpx.AsyncClient, clock: Clock) -> None:
    number = await ticket_of(rt)
    await set_status(rt, number, "resolved", clock)
    path = status_path(rt, number)

    response = await post_reply(web, rt, number, "Sorry, it is broken again.\r\nSee the photo.",
                                ("../../etc/passwd\r\nBcc: x@evil.example/photo.png", b"\x89PNG fake", "text/html"))

    assert response.status_code == 303 and response.headers["location"] == f"{path}?sent=1"
    [inbound] = await Inbound.filter(source=f"{SOURCE}:{number}")
    assert inbound.state == InboundState.INGESTED.value
    raw = bytes(inbound.raw_message)
    assert b"\nBcc:" not in raw and raw.startswith(b"Return-Path: <ann@acme.com>\r\n")
    message = await Message.get(inbound_id=inbound.id).prefetch_related("ticket")
    assert message.ticket.number == number and message.direction == "in" and message.visibility == "public"
    assert message.from_addr == "ann@acme.com"
    assert message.reply_text.strip() == "Sorry, it is broken again.\nSee the photo."
    [attachment] = await Attachment.filter(message_id=message.id)
    assert (attachment.filename, attachment.content_type) == ("photo.png", "image/png")
    assert (await Ticket.get(number=number)).status == "open"
    assert await Outbox.filter(ticket__number=number, template="reopened").count() == 1
    shown = await page(web, f"{path}?sent=1")
    assert "Your reply has been added" in shown and "Sorry, it is broken again." in shown and "photo.png" in shown


async def test_a_reply_without_the_pages_token_or_without_content_is_refused(
        rt: Runtime, web: httpx.AsyncClient) -> None:
    number = await ticket_of(rt)
    other = await ticket_of(rt, "VPN is down", sender="Bob Other <bob@globex.ru>")

    assert (await post_reply(web, rt, number, "Hello", token="")).status_code == 403
    assert (await post_reply(web, rt, number, "Hello", token=rt.signer.status_form_token(other))).status_code == 403
    empty = await post_reply(web, rt, number, "  \r\n ")
    assert empty.status_code == 400 and "Please write a message or choose a file." in empty.text
    too_long = await post_reply(web, rt, number, "x" * 10_001)
    assert too_long.status_code == 400 and "too long" in too_long.text
    assert await Inbound.filter(source__startswith=SOURCE).count() == 0


async def test_an_upload_over_the_limit_is_a_413_page_and_nothing_is_stored(
        rt: Runtime, web: httpx.AsyncClient) -> None:
    number = await ticket_of(rt)
    before = await Inbound.all().count()

    over_file = await post_reply(web, rt, number, "big", ("scan.pdf", b"x" * (MAX_UPLOAD + 1), "application/pdf"))
    over_body = await post_reply(web, rt, number, "big", ("scan.pdf", b"x" * (MAX_UPLOAD + 300_000), "a/b"))

    for response in (over_file, over_body):
        assert response.status_code == 413
        assert "The file is too large: at most 10 MB." in html.unescape(response.text)
        assert f"Request #{number}" in response.text  # the page itself: the customer can try again
    assert await Inbound.all().count() == before


async def test_replies_from_the_page_are_limited_per_ticket_and_hour_also_after_a_restart(
        rt: Runtime, web: httpx.AsyncClient, clock: Clock) -> None:
    number = await ticket_of(rt)
    other = await ticket_of(rt, "VPN is down", sender="Bob Other <bob@globex.ru>")
    for n in range(REPLIES_PER_HOUR):
        assert (await post_reply(web, rt, number, f"Detail number {n}")).status_code == 303

    refused = await post_reply(web, rt, number, "One too many")
    transport = httpx.ASGITransport(app=create_web_app(rt, clock))  # a restarted panel: a new process's memory
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as restarted:
        refused_after_restart = await post_reply(restarted, rt, number, "Still too many")

    assert refused.status_code == 429 and "Too many replies in the last hour" in refused.text
    assert refused_after_restart.status_code == 429
    assert await Inbound.filter(source=f"{SOURCE}:{number}").count() == REPLIES_PER_HOUR
    assert (await post_reply(web, rt, other, "Another ticket is not limited by this one")).status_code == 303
    clock.now += timedelta(hours=1, minutes=1)
    assert (await post_reply(web, rt, number, "An hour later")).status_code == 303


# --- what the link opens, and nothing else -------------------------------------------------------


async def test_a_signature_opens_its_own_ticket_only_and_anything_else_is_a_plain_404(
        rt: Runtime, web: httpx.AsyncClient) -> None:
    number = await ticket_of(rt)
    other = await ticket_of(rt, "VPN is down", sender="Bob Other <bob@globex.ru>")
    signature = rt.signer.status_signature(number)
    unknown = await web.get("/no-such-page")
    wrong = [f"/status/{other}/{signature}",  # another ticket's number with this signature
             f"/status/{number}/{signature[:-1]}",  # truncated
             f"/status/{number}/{signature}a",  # too long
             f"/status/{number}/{signature}{'a' * 500}",
             f"/status/{number}/{signature[:-1]}%D0%B6",  # non-ASCII
             f"/status/{number}/{rt.signer.survey_signature(number)}",  # signed for the survey, not for this
             f"/status/{other + 1}/{rt.signer.status_signature(other + 1)}",  # no such ticket
             f"/status/99999999999999/{rt.signer.status_signature(99999999999999)}"]  # no such number at all

    for path in wrong:
        for response in (await web.get(path), await post_reply(web, rt, number, "Hello", path=path)):
            assert response.status_code == 404, path
            assert response.content == unknown.content, path  # no hint which part was wrong
    assert (await web.get(f"/status/{number}/{signature.upper()}")).status_code == 200
    assert await Inbound.filter(source__startswith=SOURCE).count() == 0


async def test_a_resolved_ticket_shows_the_survey_and_the_score_given(
        rt: Runtime, web: httpx.AsyncClient, clock: Clock) -> None:
    number = await ticket_of(rt)
    await set_status(rt, number, "resolved", clock)
    path = status_path(rt, number)

    shown = await page(web, path)

    survey = f"/survey/{number}/{rt.signer.survey_signature(number)}"
    assert "Solved" in shown and "How satisfied are you with our help?" in shown
    assert [f"{survey}/{score}" for score in (1, 2, 3, 4, 5)] == re.findall(rf'href="({survey}/\d)"', shown)
    assert "Our first answer by" not in shown and "the request opens again" in shown
    assert (await web.get(f"{survey}/4")).status_code == 200
    assert (await web.post(survey, data={"score": "4"})).status_code == 200
    assert "Your rating: 4 / 5" in re.sub(r"</?strong>", "", await page(web, path))


def test_the_limiter_counts_each_accepted_reply_for_an_hour() -> None:
    limiter, start = ReplyLimiter(per_hour=2), MONDAY_10
    limiter.took(1, start)
    limiter.took(1, start + timedelta(minutes=30))

    assert limiter.used(1, start + timedelta(minutes=59)) == 2 and limiter.used(2, start) == 0
    assert limiter.used(1, start + timedelta(minutes=60)) == 1
    assert limiter.used(1, start + timedelta(minutes=90)) == 0


@pytest.mark.parametrize(("sent", "kept"), [
    ("photo.png", "photo.png"),
    ("C:\\Users\\ann\\Desktop\\отчёт.pdf", "отчёт.pdf"),
    ("../../etc/passwd", "passwd"),
    ("a\r\nb\x00c.txt", "a__b_c.txt"),
    ("...", "attachment"),
    ("", "attachment"),
    ("x" * 300 + ".jpeg", "x" * 95 + ".jpeg"),  # 100 characters, the extension kept
])
def test_a_file_name_is_reduced_to_a_safe_last_part(sent: str, kept: str) -> None:
    assert safe_file_name(sent) == kept
