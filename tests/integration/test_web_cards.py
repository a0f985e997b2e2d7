"""The client card and the company page in process, on each engine: what they show, what the
card's form writes, and that the next mail to the customer follows it."""

import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from typing import cast

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.commands.contacts import set_contact
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import Company, Contact, Event, Outbox, Ticket
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail
from .web import Browser, logged_in

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AGENT = "oleg@example.com"
ANN = "Ann Example <ann@acme.com>"
RULES = """
calendars:
  office: {timezone: Europe/London, hours: 24x7}
teams:
  dispatch: {line: 1, members: [oleg@example.com]}
sla:
  calendar: office
  policies:
    - {name: Standard, first_response: 4h, resolution: 3d}
companies:
  - {name: Acme Corporation, tier: vip, domains: [acme.com, acme.de]}
"""
_TICKET_ROW = re.compile(r'<td><a href="/tickets/(\d+)">\d+</a></td>')


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": SUPPORT}])
    async with running(settings, clock=Clock(NOW)) as runtime:
        runtime.rules.load()
        assert settings.rules_file is not None
        await seed_companies(runtime, settings.rules_file)  # as serve and ingest do on start
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(rt, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as http:
        yield http


@pytest.fixture
async def browser(client: httpx.AsyncClient) -> Browser:
    return await logged_in(client, AGENT)


async def contact_id(email: str = "ann@acme.com") -> int:
    return (await Contact.get(email=email)).id


async def acme_id() -> int:
    return (await Company.get(name="Acme Corporation")).id


def text_of(page: httpx.Response) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, whitespace folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


async def acknowledgement(number: int) -> EmailMessage:
    [row] = await Outbox.filter(ticket__number=number, template="acknowledgement")
    return message_from_bytes(bytes(row.raw_message), policy=policy.default)


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(cast(EmailMessage, part).get_content()).replace("\r\n", "\n")


async def changed_events() -> list[Event]:
    return list(await Event.filter(kind="contact.changed").order_by("id"))


# --- the client card ---------------------------------------------------------------------------


async def test_the_card_shows_who_they_are_their_tickets_newest_first_and_their_rating(
        rt: Runtime, browser: Browser) -> None:
    first = await ingest(rt, mail("Printer on floor 3 is broken", sender=ANN, date=NOW))
    second = await ingest(rt, mail("VPN drops every hour", sender=ANN, date=NOW + timedelta(minutes=5)))
    await rt.ratings.record((await Ticket.get(number=first)).id, 4, "link", NOW, "Quick and kind")

    page = await browser.get(f"/contacts/{await contact_id()}")

    assert page.status_code == 200, page.text
    text = text_of(page)
    assert "Ann Example" in text and "ann@acme.com" in text
    assert f'href="/companies/{await acme_id()}">Acme Corporation</a>' in page.text and "vip" in text
    assert [int(n) for n in _TICKET_ROW.findall(page.text)] == [second, first]
    assert "VPN drops every hour" in text and "Printer on floor 3 is broken" in text
    assert "4/5" in text and "Quick and kind" in text and f'href="/tickets/{first}">#{first}</a>' in page.text
    assert "4.0/5 from 1 rating" in text and "2 new" in text


async def test_an_address_finds_its_card_and_an_unknown_one_is_404(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))

    found = await browser.get("/contacts?email=%20ANN@Acme.com%20")
    missing = await browser.get("/contacts?email=nobody@acme.com")

    assert found.status_code == 303 and found.headers["location"] == f"/contacts/{await contact_id()}"
    assert missing.status_code == 404


async def test_editing_the_card_changes_how_the_next_mail_greets_them_and_in_which_language(
        rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    card = f"/contacts/{await contact_id()}"

    saved = await browser.post(card, {"preferred_name": "Annie", "salutation": "Dear Ms Example,",
                                      "language": "ru", "timezone": "Asia/Tokyo"})

    assert saved.status_code == 303 and saved.headers["location"] == f"{card}?saved=1"
    contact = await Contact.get(email="ann@acme.com")
    assert (contact.preferred_name, contact.salutation, contact.language, contact.timezone) == (
        "Annie", "Dear Ms Example,", "ru", "Asia/Tokyo")
    [event] = await changed_events()
    assert event.actor == f"agent:{AGENT}" and event.data["changes"]["language"] == ["en", "ru"]
    shown = text_of(await browser.get(f"{card}?saved=1"))
    assert "Saved." in shown and "Mon 19:00 (UTC+09:00)" in shown  # their local time, from the new zone

    number = await ingest(rt, mail("Scanner jams", sender=ANN, date=NOW, body="The scanner jams on page 2.\n"))
    text = plain_text(await acknowledgement(number))
    assert text.startswith("Dear Ms Example,\n"), text
    assert "Спасибо за обращение" in text and "(Asia/Tokyo)" in text


async def test_an_emptied_field_is_cleared_and_a_field_left_out_is_kept(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    card = f"/contacts/{await contact_id()}"
    await browser.post(card, {"preferred_name": "Annie", "salutation": "Dear Ms Example,", "language": "en",
                              "timezone": "Europe/Berlin"})

    cleared = await browser.post(card, {"salutation": ""})

    assert cleared.status_code == 303
    contact = await Contact.get(email="ann@acme.com")
    assert (contact.preferred_name, contact.salutation, contact.timezone) == ("Annie", "", "Europe/Berlin")
    number = await ingest(rt, mail("Scanner jams", sender=ANN, date=NOW))
    assert plain_text(await acknowledgement(number)).startswith("Hello Annie,\n")


INVALID = [  # (form, what the page says), each tried on the same contact
    ({"timezone": "Mars/Olympus"}, "Time zone: unknown time zone 'Mars/Olympus'"),
    ({"timezone": "../../../etc/passwd"}, "Time zone: unknown time zone"),
    ({"timezone": "localtime"}, "Time zone: unknown time zone"),
    ({"language": "xx"}, "Language: our mail has no templates in 'xx'; choose one of en, ru"),
    ({"salutation": "Dear " + "x" * 200}, "Salutation: at most 200 characters, not 205."),
    ({"preferred_name": "Ann\x00"}, "Preferred name: no control characters."),
    ({"preferred_name": "Ann\u202eelpmaxE"}, "Preferred name: no control characters."),
]


async def test_invalid_input_shows_the_form_again_with_400_and_writes_nothing(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    before = await Contact.get(email="ann@acme.com")
    card = f"/contacts/{before.id}"

    for form, message in INVALID:
        refused = await browser.post(card, {"salutation": "Dear Ms Example,", **form})

        assert refused.status_code == 400, form
        assert "Nothing was saved" in text_of(refused) and message in text_of(refused), text_of(refused)
        assert 'aria-invalid="true"' in refused.text and f'<form method="post" action="{card}"' in refused.text
        after = await Contact.get(email="ann@acme.com")
        assert (after.preferred_name, after.salutation, after.language, after.timezone) == (
            before.preferred_name, before.salutation, before.language, before.timezone)  # nor the valid salutation
    assert await changed_events() == []


async def test_a_language_learnt_from_mail_without_templates_does_not_block_saving(
        rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    await Contact.filter(email="ann@acme.com").update(language="uk")
    card = f"/contacts/{await contact_id()}"
    assert '<option value="uk" selected>uk</option>' in (await browser.get(card)).text

    saved = await browser.post(card, {"preferred_name": "Annie", "language": "uk"})

    assert saved.status_code == 303
    [event] = await changed_events()
    assert event.data["changes"] == {"preferred_name": ["", "Annie"]}


async def test_the_command_writes_as_the_card_does_and_names_no_agent(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))

    assert await set_contact("ANN@acme.com", {"salutation": "Dear Ms Example,", "timezone": "Asia/Tokyo"}, StringIO())

    [event] = await changed_events()
    assert event.actor == "system" and event.data["changes"] == {"salutation": ["", "Dear Ms Example,"],
                                                                  "timezone": ["", "Asia/Tokyo"]}
    card = await browser.get(f"/contacts/{await contact_id()}")
    assert 'value="Dear Ms Example,"' in card.text and "Mon 19:00 (UTC+09:00)" in text_of(card)
    assert not await set_contact("nobody@acme.com", {"language": "ru"}, StringIO())


async def test_a_post_without_the_csrf_token_is_refused(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))

    refused = await browser.post(f"/contacts/{await contact_id()}", {"salutation": "Hi there"}, csrf=False)

    assert refused.status_code == 403
    assert (await Contact.get(email="ann@acme.com")).salutation == ""


async def test_cards_need_a_login(rt: Runtime, client: httpx.AsyncClient) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    stranger = Browser(client)
    card, company = f"/contacts/{await contact_id()}", f"/companies/{await acme_id()}"

    for path in (card, company, "/contacts?email=ann@acme.com"):
        refused = await stranger.get(path)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?next="), path
    posted = await stranger.post(card, {"salutation": "Hi there"})
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login?next=")
    assert (await Contact.get(email="ann@acme.com")).salutation == ""


async def test_unknown_ids_are_404(rt: Runtime, browser: Browser) -> None:
    for path in ("/contacts/999999", "/companies/999999"):
        assert (await browser.get(path)).status_code == 404, path
    assert (await browser.post("/contacts/999999", {"salutation": "Hi"})).status_code == 404


async def test_customer_written_names_are_escaped(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    await Contact.filter(email="ann@acme.com").update(name='<script>alert("x")</script>')

    page = await browser.get(f"/contacts/{await contact_id()}")

    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text


async def test_a_long_history_shows_the_newest_hundred_and_counts_the_rest(rt: Runtime, browser: Browser) -> None:
    await ingest(rt, mail(sender=ANN, date=NOW))
    ann = await Contact.get(email="ann@acme.com")
    await Ticket.bulk_create([
        Ticket(number=5000 + i, subject=f"Old problem {i}", normalized_subject=f"old problem {i}", status="closed",
               urgency="normal", line=1, mailbox="support", requester_id=ann.id, company_id=await acme_id(),
               created_at=NOW - timedelta(days=200 - i), updated_at=NOW - timedelta(days=200 - i))
        for i in range(150)])

    card = await browser.get(f"/contacts/{ann.id}")
    company = await browser.get(f"/companies/{await acme_id()}")

    for page in (card, company):
        numbers = [int(n) for n in _TICKET_ROW.findall(page.text)]
        assert len(numbers) == 100 and numbers[0] < 5000 and numbers[1:] == list(range(5149, 5050, -1))
        assert "The newest 100 shown, and 51 more." in text_of(page)


# --- the company page --------------------------------------------------------------------------


async def test_the_company_page_lists_domains_contacts_and_tickets_read_only(rt: Runtime, browser: Browser) -> None:
    first = await ingest(rt, mail("Printer on floor 3 is broken", sender=ANN, date=NOW))
    second = await ingest(rt, mail("Invoice missing", sender="Hans Muster <hans@eu.acme.de>", date=NOW))
    company = await acme_id()

    page = await browser.get(f"/companies/{company}")

    assert page.status_code == 200, page.text
    text = text_of(page)
    assert "Acme Corporation vip" in text and "acme.com , acme.de" in text and "declared by an admin" in text
    assert f'href="/contacts/{await contact_id()}">ann@acme.com</a>' in page.text
    assert f'href="/contacts/{await contact_id("hans@eu.acme.de")}">hans@eu.acme.de</a>' in page.text
    assert [int(n) for n in _TICKET_ROW.findall(page.text)] == [second, first]
    assert f'href="/?queue=open&amp;company={company}"' in page.text
    assert "companies: section of the rules file" in text and "companies seed FILE" in text
    assert page.text.count('method="post"') == 1  # the header's log-out: nothing here edits a company
