"""Search for agents, in process on each engine: what finds a ticket, what never breaks the page,
and that the index keeps up with every message however it was written."""

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate
from tortoise.transactions import in_transaction

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.config import Settings
from mailhelpdesk.store.db import tortoise_config
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.store.search import (
    POSTGRES_SENDER_DOMAIN,
    POSTGRES_VECTOR,
    SQLITE_SENDER_DOMAIN,
    SearchQuery,
    fts5_match,
    parse_query,
    search_tickets,
    tsquery,
)
from mailhelpdesk.store.sql import Sql
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.service import Done
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail, reply_to
from .web import Browser, logged_in

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AGENT = "oleg@example.com"
RULES = """
teams:
  dispatch: {line: 1}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
"""
COMPANIES = """
companies:
  - {name: Acme Corp, domains: [acme.com]}
  - {name: Рога и Копыта, domains: [roga.ru]}
"""
ANN, BOB, PAT = "Ann <ann@acme.com>", "Bob <bob@acme.com>", "Пётр <pat@roga.ru>"
_RESULT = re.compile(r'<tr>\s*<td><a href="/tickets/(\d+)">')


def settings_for(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Settings:
    return ruled_settings(make_settings, database_url, tmp_path, RULES,
                          mailboxes=[{"name": "support", "address": SUPPORT}])


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(settings_for(make_settings, database_url, tmp_path), clock=Clock(NOW)) as runtime:
        runtime.rules.load()
        (tmp_path / "companies.yaml").write_text(COMPANIES)
        await seed_companies(runtime, tmp_path / "companies.yaml")
        yield runtime


@pytest.fixture
async def browser(rt: Runtime) -> AsyncIterator[Browser]:
    app = create_web_app(rt, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
        yield await logged_in(client, AGENT)


async def search_page(browser: Browser, query: str) -> httpx.Response:
    response = await browser.get(f"/search?q={quote(query, safe='')}")
    assert response.status_code == 200, response.text
    return response


async def found(browser: Browser, query: str) -> list[int]:
    """The ticket numbers the search page lists for ``query``, in order."""
    return [int(n) for n in _RESULT.findall((await search_page(browser, query)).text)]


async def new_ticket(rt: Runtime, subject: str, body: str, sender: str = ANN) -> int:
    return await ingest(rt, mail(subject, sender=sender, body=body, date=NOW))


# --- words ------------------------------------------------------------------------------------


async def test_words_of_a_body_find_its_ticket_and_no_other(rt: Runtime, browser: Browser) -> None:
    printer = await new_ticket(rt, "Printer on floor 3 is broken", "The toner cartridge in room 300 leaks.\n")
    invoice = await new_ticket(rt, "Invoice overdue", "Please pay invoice 2026-17 by Friday.\n")

    assert await found(browser, "toner cartridge") == [printer]
    assert await found(browser, "TONER Leaks") == [printer]  # any case, any order
    assert await found(browser, "cartri") == [printer]  # the last word may be the start of one
    assert await found(browser, "cartri toner") == []  # only the last
    assert await found(browser, "room 30") == []  # and not a number
    assert await found(browser, "floor") == [printer]  # the subject counts too
    assert await found(browser, "invoice") == [invoice]
    assert await found(browser, '"leaks toner"') == []  # a quoted phrase keeps its order
    page = await search_page(browser, "toner friday")  # every word, in one message
    assert _RESULT.findall(page.text) == [] and 'id="no-results"' in page.text


async def test_the_snippet_shows_the_matching_words_marked_and_escaped(rt: Runtime, browser: Browser) -> None:
    number = await new_ticket(rt, "Broken page", "Intro text. The <b>toner</b> & drum unit leaks since Monday.\n")

    [hit] = await search_tickets("drum")

    assert hit.number == number and "drum unit leaks" in hit.snippet
    assert ("drum", True) in hit.snippet_parts
    assert (hit.requester_email, hit.company_name, hit.status) == ("ann@acme.com", "Acme Corp", "new")
    page = (await search_page(browser, "drum")).text
    # Autoescaped (PostgreSQL's headline drops what looks like a tag, SQLite's snippet keeps it as text).
    assert "&amp; <mark>drum</mark> unit" in page and "<b>" not in page


async def test_cyrillic_words_match_in_any_case(rt: Runtime, browser: Browser) -> None:
    number = await new_ticket(rt, "Принтер не печатает", "Картридж закончился, ЗАМЕНИТЕ пожалуйста.\n", sender=PAT)

    for query in ("принтер", "ПРИНТЕР", "картридж замените", "Замен", "печата"):
        assert await found(browser, query) == [number], query


async def test_accents_count_on_postgresql_only(rt: Runtime, browser: Browser, database_url: str) -> None:
    number = await new_ticket(rt, "Machine à café en panne", "Le café coule froid.\n")

    assert await found(browser, "café") == [number]
    assert await found(browser, "cafe froid") == ([number] if database_url.startswith("sqlite") else [])


async def test_internal_notes_are_searched(rt: Runtime, browser: Browser) -> None:
    number = await new_ticket(rt, "Printer on floor 3 is broken", "It shows E42.\n")
    async with transaction():
        result = await rt.service.note(number, "Legacy firmware 2.1: ask the vendor.", Actor.agent(AGENT),
                                       Moment.of(NOW))
    assert isinstance(result, Done)

    assert await found(browser, "legacy firmware vendor") == [number]


# --- numbers and filters ------------------------------------------------------------------------


async def test_a_ticket_number_brings_that_ticket_first(rt: Runtime, browser: Browser) -> None:
    first = await new_ticket(rt, "Printer on floor 3 is broken", "Toner leaks.\n")
    second = await new_ticket(rt, "Scanner jams", "The scanner jams on page 2.\n")
    third = await new_ticket(rt, "Scanner again", "The scanner is slow.\n")

    assert await found(browser, f"#{first}") == [first]
    assert await found(browser, str(first)) == [first]  # a number alone
    assert await found(browser, f"scanner #{first}") == [first, third, second]  # then the newest first
    assert await found(browser, "#99999") == []
    assert await found(browser, "#99999999999999999999") == []  # beyond any ticket number: no error


async def test_from_company_and_status_narrow_the_tickets(rt: Runtime, browser: Browser) -> None:
    ann = await new_ticket(rt, "Printer on floor 3 is broken", "Toner leaks.\n", sender=ANN)
    bob = await new_ticket(rt, "Printer in room 12", "Paper jam.\n", sender=BOB)
    pat = await new_ticket(rt, "Принтер сломан", "Бумага застряла.\n", sender=PAT)

    assert await found(browser, "from:ann@acme.com") == [ann]
    assert await found(browser, "from:ANN@acme.com") == [ann]
    assert await found(browser, "from:acme.com") == [bob, ann]
    assert await found(browser, "from:@roga.ru") == [pat]
    assert await found(browser, "from:acme.co") == []  # a domain is the whole domain
    assert await found(browser, "from:acme.com jam") == [bob]
    assert await found(browser, "from:ann@acme.com from:pat@roga.ru") == [pat, ann]  # either
    assert await found(browser, "company:acme") == [bob, ann]
    assert await found(browser, 'company:"рога и"') == [pat]  # part of the name, any case, any script
    assert await found(browser, "company:Globex") == []
    assert await found(browser, "status:new printer") == [bob, ann]
    assert await found(browser, "status:closed") == []


async def test_a_customer_reply_is_found_on_its_ticket(rt: Runtime, browser: Browser) -> None:
    raw = mail("Printer on floor 3 is broken", sender=ANN, body="It shows E42.\n", date=NOW)
    number = await ingest(rt, raw)
    await ingest(rt, reply_to(raw, sender=ANN, body="Now it also smells of burnt plastic.\n", date=NOW))

    assert await found(browser, "burnt plastic") == [number]
    assert await found(browser, "from:ann@acme.com") == [number]  # one ticket, however many of her mails


async def test_a_merged_ticket_is_found_as_the_one_it_was_merged_into(rt: Runtime, browser: Browser) -> None:
    source = await new_ticket(rt, "Printer on floor 3 is broken", "Toner leaks everywhere.\n")
    target = await new_ticket(rt, "Printer again", "Still broken.\n")
    async with transaction():
        assert isinstance(await rt.service.merge(source, target, Actor.agent(AGENT), Moment.of(NOW)), Done)

    assert await found(browser, "toner leaks") == [target]  # its mail moved there
    assert await found(browser, "status:closed") == []  # the closed source itself is left out
    [hit] = await search_tickets(f"#{source}")
    assert (hit.number, hit.merged_from) == (target, source)
    assert f"#{source} was merged into this ticket" in (await search_page(browser, f"#{source}")).text


# --- what an agent may type -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("printer E42", SearchQuery(words=("printer", "E42"), prefix=True)),
    ('"error E42" toner', SearchQuery(words=("error E42", "toner"), prefix=True)),
    ('toner "error E42"', SearchQuery(words=("toner", "error E42"), prefix=False)),
    ("room 3", SearchQuery(words=("room", "3"), prefix=False)),
    ("#1042 toner", SearchQuery(words=("toner",), prefix=True, tickets=(1042,))),
    ("1042", SearchQuery(words=("1042",), tickets=(1042,))),
    ("From:Ann@Acme.com company:\"Acme Corp\" STATUS:Open", SearchQuery(
        senders=("ann@acme.com",), companies=("Acme Corp",), statuses=("open",))),
    ("a:b", SearchQuery(words=("a:b",), prefix=True)),
    ('"from:acme.com"', SearchQuery(words=("from:acme.com",))),
    ("#0 #-1 #99999999999", SearchQuery(words=("#0", "#-1", "#99999999999"), prefix=True)),
    ('- *** "" from: #', SearchQuery()),
    ('toner "from: #', SearchQuery(words=("toner", "from: #"))),  # an unclosed quote takes the rest
])
def test_what_a_query_asks_for(text: str, expected: SearchQuery) -> None:
    assert parse_query(text) == expected


def test_words_reach_the_engines_quoted() -> None:
    words = ('say "hi"*', "NEAR(a b)", "o'brien\\")

    assert fts5_match(words, prefix=True) == '"say ""hi""*" "NEAR(a b)" "o\'brien\\"*'
    assert tsquery(words, prefix=True) == "'say \"hi\"*' & 'NEAR(a b)' & 'o''brien\\\\':*"


HOSTILE = ['"', '""', "*", "toner*", "NEAR(", "NEAR(toner leaks)", "-", "-toner", "a:b", ":", "toner:", "from:",
           "company:", "status:", "#", "#-1", "#0", "'", "\\", "toner' OR 1=1 --", "AND OR NOT", "(", ")", "^toner",
           "{toner}", "toner & leaks | !x", "x" * 2000, "toner " * 400, "", "   ", "\x00", "\u200b",
           "<script>alert(1)</script>", "%", "_", "from:%", "company:%"]


async def test_no_query_breaks_the_search(rt: Runtime, browser: Browser) -> None:
    number = await new_ticket(rt, "Printer on floor 3 is broken", "The toner leaks.\n")

    for query in HOSTILE:
        page = (await search_page(browser, query)).text  # a 200, never a 500
        assert "<script>alert" not in page, query
        hits = await search_tickets(query)
        assert {hit.number for hit in hits} <= {number}, query


async def test_a_query_with_nothing_to_search_for_finds_nothing(rt: Runtime, browser: Browser) -> None:
    await new_ticket(rt, "Printer on floor 3 is broken", "The toner leaks.\n")

    for query in ("", "   ", "***", "-", '"', "from:", "#"):
        assert await search_tickets(query) == [], query
    page = (await search_page(browser, "")).text
    assert 'id="no-results"' not in page and "How to search" in page


async def test_search_needs_a_login(rt: Runtime) -> None:
    app = create_web_app(rt, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
        response = await Browser(client).get("/search?q=toner")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote("/search?q=toner", safe="")


async def test_the_search_page_holds_no_inline_script_or_style(rt: Runtime, browser: Browser) -> None:
    await new_ticket(rt, "Printer on floor 3 is broken", "The toner leaks.\n")

    text = (await search_page(browser, "toner")).text

    assert "<script" not in text and "<style" not in text and " style=" not in text
    assert '<link rel="stylesheet" href="/static/search.css">' in text
    assert (await browser.get("/static/search.css")).status_code == 200


# --- the index keeps up -----------------------------------------------------------------------------


async def test_the_index_follows_changed_and_deleted_messages(rt: Runtime, browser: Browser,
                                                              database_url: str) -> None:
    number = await new_ticket(rt, "Printer on floor 3 is broken", "The toner leaks.\n")
    sql = Sql()
    ticket_id = (await sql.rows('SELECT "id" FROM "ticket" WHERE "number" = ?', number))[0][0]

    await sql.execute('UPDATE "message" SET "text" = ? WHERE "ticket_id" = ?', "The drum squeaks.\n", ticket_id)
    assert await found(browser, "squeaks") == [number]
    assert await found(browser, "toner") == []

    await sql.execute('DELETE FROM "attachment" WHERE "message_id" IN (SELECT "id" FROM "message" WHERE'
                      ' "ticket_id" = ?)', ticket_id)
    await sql.execute('DELETE FROM "message" WHERE "ticket_id" = ?', ticket_id)
    assert await found(browser, "squeaks") == []
    if database_url.startswith("sqlite"):  # an external-content index told wrong old values is corrupt
        await sql.execute("""INSERT INTO "message_fts" ("message_fts") VALUES ('integrity-check')""")


async def test_a_huge_message_is_stored_and_found(rt: Runtime, browser: Browser) -> None:
    """PostgreSQL refuses a text-search vector over 1 MB: the index reads the first 100,000 characters."""
    words = " ".join(f"w{i:06x}z" for i in range(150_000))  # 1.4 MB, every word different
    number = await new_ticket(rt, "Log attached inline", f"Overheating printer log follows. {words}\n")

    assert await found(browser, "overheating") == [number]


async def test_messages_stored_before_the_index_existed_are_found(
        make_settings: Callable[..., Settings], empty_database_url: str, tmp_path: Path) -> None:
    config = tortoise_config(empty_database_url)
    await migrate(config=config, target="models.0007_panel_accounts")
    await Tortoise.init(config=config)
    await old_ticket(Tortoise.get_connection("default"))
    await Tortoise.close_connections()

    async with running(settings_for(make_settings, empty_database_url, tmp_path), clock=Clock(NOW)):
        [hit] = await search_tickets("ancient fax")
        assert (hit.number, hit.subject) == (1000, "Old")


async def old_ticket(connection: Any) -> None:
    """A ticket with one message, written as any version before 0008 wrote them."""
    now = "2026-11-23 10:00:00+00:00"
    for statement in (
        f"INSERT INTO contact (email, name, created_at) VALUES ('ann@acme.com', 'Ann', '{now}')",
        "INSERT INTO ticket (number, subject, normalized_subject, status, urgency, line, team, mailbox,"
        " requester_id, created_at, updated_at, assignee, tags, sla_policy) VALUES (1000, 'Old', 'old',"
        f" 'open', 'normal', 1, '', 'support', 1, '{now}', '{now}', '', '[]', 'Standard')",
        "INSERT INTO message (ticket_id, message_id, fingerprint, in_reply_to, \"references\", direction,"
        " visibility, from_name, from_addr, \"to\", cc, subject, date, text, reply_text, html, html_sanitized,"
        " flags, thread_signal, created_at) VALUES (1, '<old@acme.com>', 'f', '[]', '[]', 'in', 'public', 'Ann',"
        f" 'ann@acme.com', '[]', '[]', 'Old', '{now}', 'The ancient fax machine hums.', '', '', '', '{{}}', '',"
        f" '{now}')",
    ):
        await connection.execute_query(statement)


async def plan(statement: str, database_url: str) -> str:
    """How the engine would run ``statement``, as one line of text."""
    async with in_transaction() as connection:
        if database_url.startswith("sqlite"):
            _, rows = await connection.execute_query(f"EXPLAIN QUERY PLAN {statement}")
            return " ".join(str(row[3]) for row in rows)
        await connection.execute_query("SET LOCAL enable_seqscan = off")  # a tiny table would be read whole
        _, rows = await connection.execute_query(f"EXPLAIN {statement}")
        return " ".join(str(row[0]) for row in rows)


async def test_searches_go_through_the_indexes(rt: Runtime, database_url: str) -> None:
    """The expressions of the queries must be the indexes' (migration 0008), or every message is read."""
    sqlite = database_url.startswith("sqlite")
    words = ("""SELECT rowid FROM message_fts WHERE message_fts MATCH '"toner"'""" if sqlite else
             f"SELECT m.id FROM message m WHERE {POSTGRES_VECTOR} @@ to_tsquery('simple', 'toner')")
    domain = SQLITE_SENDER_DOMAIN if sqlite else POSTGRES_SENDER_DOMAIN

    assert ("VIRTUAL TABLE" if sqlite else "message_search_vector") in await plan(words, database_url)
    assert "message_from_domain" in await plan(f"SELECT s.id FROM message s WHERE {domain} = 'acme.com'",
                                               database_url)
    assert "message_from_addr" in await plan("SELECT s.id FROM message s WHERE s.from_addr = 'ann@acme.com'",
                                             database_url)
