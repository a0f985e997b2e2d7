"""The panel's front door, in process on each engine: login, sessions, CSRF, Host, headers."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail
from .web import PASSWORD, Browser, hashed_password

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES = """
teams:
  dispatch: {line: 1}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
"""
@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": SUPPORT}],
                              public_url="https://desk.example.com")
    async with running(settings, clock=Clock(NOW)) as runtime:
        runtime.rules.load()
        for agent in ("anna@example.com", "oleg@example.com"):
            await AccountStore().set_password(agent, hashed_password(), NOW)
        yield runtime


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_web_app(rt, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as http:
        yield http


@pytest.fixture
def browser(client: httpx.AsyncClient) -> Browser:
    return Browser(client)


async def test_every_agent_page_needs_a_login_and_sends_you_back_after_it(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken"))
    for path in ("/", f"/tickets/{number}"):
        refused = await browser.get(path)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?next=")

    logged_in = await browser.log_in(next=f"/tickets/{number}")

    assert logged_in.status_code == 303 and logged_in.headers["location"] == f"/tickets/{number}"
    page = await browser.get(f"/tickets/{number}")
    assert page.status_code == 200 and "Printer on floor 3 is broken" in page.text and "Oleg Petrov" in page.text


async def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(browser: Browser) -> None:
    response = await browser.log_in()

    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("mhd_session=")]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= attributes


@pytest.mark.parametrize(("email", "password"), [
    ("oleg@example.com", "not the password"),
    ("nobody@example.com", PASSWORD),  # not an agent: the same answer, nothing to probe
    ("customer@acme.com", ""),
])
async def test_a_wrong_address_or_password_gets_the_same_answer_and_no_session(
        browser: Browser, email: str, password: str) -> None:
    response = await browser.log_in(email, password)

    assert response.status_code == 401 and "Wrong address or password." in response.text
    assert "mhd_session" not in browser.cookies
    assert (await browser.get("/")).status_code == 303


async def test_a_session_id_chosen_before_login_is_never_the_one_after_it(browser: Browser) -> None:
    browser.cookies["mhd_session"] = "attacker-chosen-session-id"
    await browser.log_in()
    assert browser.cookies["mhd_session"] != "attacker-chosen-session-id"

    attacker = Browser(browser.client)
    attacker.cookies["mhd_session"] = "attacker-chosen-session-id"
    assert (await attacker.get("/")).status_code == 303


async def test_forms_without_the_csrf_token_are_refused(browser: Browser) -> None:
    await browser.get("/login")  # the CSRF cookie, but no token in the form
    refused = await browser.post("/login", {"email": "oleg@example.com", "password": PASSWORD}, csrf=False)
    assert refused.status_code == 403 and "mhd_session" not in browser.cookies

    await browser.log_in()
    assert (await browser.post("/logout", {}, csrf=False)).status_code == 403
    assert (await browser.get("/")).status_code == 200  # still logged in


async def test_logging_out_ends_the_session_on_the_server(browser: Browser) -> None:
    await browser.log_in()
    stolen = dict(browser.cookies)

    assert (await browser.post("/logout", {})).status_code == 303

    thief = Browser(browser.client)
    thief.cookies.update(stolen)
    assert (await thief.get("/")).status_code == 303


async def test_too_many_failures_make_even_the_right_password_wait(browser: Browser) -> None:
    for _ in range(5):
        assert (await browser.log_in(password="guess guess guess")).status_code == 401

    waited = await browser.log_in()

    assert waited.status_code == 429 and int(waited.headers["retry-after"]) > 0
    assert "mhd_session" not in browser.cookies
    other = Browser(browser.client, host="localhost")  # the limit is per address too, not per client only
    assert (await other.log_in()).status_code == 429


@pytest.mark.parametrize("host", ["evil.example.net", "desk.example.com.evil.net", "attacker:8000", ""])
async def test_a_foreign_host_is_refused_before_anything_else(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/login", headers={"host": host})
    assert response.status_code == 400 and "unknown host" in response.text
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "[::1]:8000", "desk.example.com",
                                  "DESK.example.com:443"])
async def test_loopback_and_the_public_url_are_served(client: httpx.AsyncClient, host: str) -> None:
    assert (await client.get("/login", headers={"host": host})).status_code == 200


@pytest.mark.parametrize("path", ["/login", "/", "/no/such/page", "/static/panel.css", "/health"])
async def test_every_response_carries_the_security_headers(browser: Browser, path: str) -> None:
    response = await browser.get(path)

    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "server" not in headers


async def test_pages_hold_no_inline_script_or_style(rt: Runtime, browser: Browser) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken"))
    await browser.log_in()
    for path in ("/login", "/", f"/tickets/{number}"):
        text = (await browser.get(path)).text
        assert "<script>" not in text and "<style" not in text and " style=" not in text, path


async def test_an_agent_taken_out_of_the_rules_loses_their_session(rt: Runtime, browser: Browser) -> None:
    await browser.log_in()
    assert rt.settings.rules_file is not None
    rt.settings.rules_file.write_text(RULES.replace(
        "  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}\n", ""))
    rt.rules.load()

    assert (await browser.get("/")).status_code == 303
    assert (await browser.log_in()).status_code == 401


async def test_a_new_sqlite_database_is_readable_by_its_owner_only(rt: Runtime, database_url: str) -> None:
    if not database_url.startswith("sqlite://"):
        pytest.skip("a file of SQLite's")
    path = Path(database_url.removeprefix("sqlite://"))
    assert path.stat().st_mode & 0o777 == 0o600


async def test_a_survey_link_records_nothing_until_the_button_is_pressed_once(
        rt: Runtime, client: httpx.AsyncClient) -> None:
    from mailhelpdesk.store.models import Event, Rating

    number = await ingest(rt, mail("Printer on floor 3 is broken"))
    path = f"/survey/{number}/{rt.signer.survey_signature(number)}"
    host = {"host": "desk.example.com"}

    shown = await client.get(f"{path}/4", headers=host)  # what a link scanner fetches

    assert shown.status_code == 200 and "<script" not in shown.text and 'name="score" value="4"' in shown.text
    assert not await Rating.all().exists()
    for _ in range(3):  # a double click and a reload of the answer
        assert (await client.post(path, data={"score": "4"}, headers=host)).status_code == 200
    assert [r.score for r in await Rating.all()] == [4]
    assert await Event.filter(kind="rating.received").count() == 1


@pytest.mark.parametrize("signature", ["ünïcödé", "%00", "a" * 200])
async def test_a_malformed_survey_signature_is_a_404(rt: Runtime, client: httpx.AsyncClient, signature: str) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken"))
    response = await client.get(f"/survey/{number}/{signature}/5", headers={"host": "127.0.0.1"})
    assert response.status_code == 404
