"""A day's work in a real browser: Debian's Chromium driven by Playwright against `mailhelpdesk serve`.

An agent logs in, takes a ticket from a queue to closed (answer, note, fields), searches; the
customer follows the request from the link in our mail, writes from the page and rates it.
Our mail goes to a real SMTP server. Screenshots of the main pages at desktop and phone width
are kept in ``$MHD_ARTIFACTS`` (default ``build/screenshots``) for people to look at.
"""

import os
import re
import shutil
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .sink import ThreadSink, thread_sink
from .test_serve import PASSWORD, Service

AGENT = "ivan@helpdesk.test"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MHD_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"))
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, ThreadSink]]:
    with thread_sink() as sink:
        service = Service(tmp_path_factory.mktemp("browser-desk"))
        service.config.write_text(service.config.read_text() + (
            f"relay: {{host: 127.0.0.1, port: {sink.port}}}\n"
            f"public_url: http://127.0.0.1:{service.web_port}\n"
            "outbox: {interval: 1}\n"))
        service.start()
        assert service.cli("agents", "set-password", AGENT, stdin=PASSWORD + "\n").returncode == 0
        for subject, sender in (("VPN drops every hour", "Pavel Orlov <pavel@initech.com>"),
                                ("Invoice 2026-114 is wrong", "Kim Lee <kim@umbrella.example>"),
                                ("Не приходит почта", "Анна Котова <anna@globex.ru>")):
            send(service, subject, "Please help.", sender=sender)  # other work in the queues
        try:
            yield service, sink
        finally:
            service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/test installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield chromium
        chromium.close()


def send(service: Service, subject: str, body: str, sender: str = "Olga Smirnova <olga@globex.ru>") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@helpdesk.test", subject
    msg["Message-ID"] = f"<{abs(hash((subject, body)))}@globex.ru>"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", service.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


def shoot(page: Page, name: str) -> None:
    """The page now, at desktop and phone width (full length)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    was = page.viewport_size
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
    if was:
        page.set_viewport_size(was)


def log_in(page: Page, base: str, screenshots: bool) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    if screenshots:
        shoot(page, "login")
    page.fill("#email", AGENT)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("")
    assert "/login" not in page.url


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_an_agent_works_a_ticket_from_queue_to_closed_and_the_customer_rates_it(
        desk: tuple[Service, ThreadSink], browser: Browser, screen: str) -> None:
    service, sink = desk
    base, customer_address = f"http://127.0.0.1:{service.web_port}", f"olga.{screen}@globex.ru"
    subject = f"Printer on floor 3 prints blank pages ({screen})"
    send(service, subject, "Hello, since this morning the printer prints nothing.",
         sender=f"Olga Smirnova <{customer_address}>")
    acknowledgement = sink.wait_for(lambda d: customer_address in d.rcpt_tos, what="the acknowledgement")
    page = browser.new_page(viewport=SIZES[screen])
    screenshots = screen == "desktop"  # the desktop run takes both widths of each page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    log_in(page, base, screenshots)
    page.click("text=Unassigned")
    row = page.locator("table.tickets tbody tr", has_text=subject)
    expect(row).to_have_count(1)
    if screenshots:
        shoot(page, "queue")
    row.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text(subject)

    page.select_option("#f-assignee", AGENT)
    page.select_option("#f-urgency", "high")
    page.click("text=Save fields")
    expect(page.locator(".flash-ok")).to_contain_text("urgency: normal → high")

    page.fill("#note-text", "Probably the toner; checking the driver first.")
    page.click("text=Add note")
    expect(page.locator("article.internal")).to_contain_text("checking the driver first")

    page.fill("#reply-text", "Please open the front cover and remove the orange strip from the toner.")
    page.select_option("#reply-status", "pending")
    page.click("text=Send answer")
    expect(page.locator(".flash-ok")).to_contain_text("queued to the customer")
    answer = sink.wait_for(lambda d: customer_address in d.rcpt_tos
                           and "orange strip" in d.message.get_body(("plain",)).get_content(), what="the answer")
    assert answer.rcpt_tos == [customer_address]
    if screenshots:
        shoot(page, "ticket")

    customer = browser.new_page(viewport=SIZES["phone" if screen == "desktop" else "desktop"])
    status_url = status_link(acknowledgement.message, base)
    customer.goto(status_url)
    expect(customer.locator("body")).to_contain_text("orange strip")
    expect(customer.locator("body")).not_to_contain_text("checking the driver first")  # the note stays inside
    customer.fill("#text", "Removed the strip, it prints again. Thank you!")
    customer.click("#send")
    expect(customer.locator("body")).to_contain_text("it prints again")

    page.goto(f"{base}/search?q=toner")
    expect(page.locator("body")).to_contain_text(subject)
    if screenshots:
        shoot(page, "search")

    page.goto(f"{base}/?queue=mine")
    row = page.locator("table.tickets tbody tr", has_text=subject)
    expect(row).to_contain_text("open")  # the customer's reply reopened it
    row.locator("a").first.click()
    expect(page.locator("article.public").last).to_contain_text("it prints again")
    page.select_option("#f-status", "closed")
    page.click("text=Save fields")
    expect(page.locator(".flash-ok")).to_contain_text("status: open → closed")

    rate(customer, status_url, screenshots)
    assert errors == [], errors  # CSP violations and script errors show up as console errors


def status_link(acknowledgement: EmailMessage, base: str) -> str:
    text = acknowledgement.get_body(("plain",)).get_content()
    found = re.search(rf"{re.escape(base)}/status/\S+", text)
    assert found, text
    return found.group(0)


def rate(customer: Page, status_url: str, screenshots: bool) -> None:
    """The closed request's page offers the survey; a score counts after the button is pressed."""
    customer.goto(status_url)
    if screenshots:
        shoot(customer, "status")
    customer.locator("a.score", has_text="5").first.click()
    expect(customer.locator("#send")).to_be_visible()
    customer.click("#send")
    expect(customer.locator("body")).to_contain_text("Thank you")
