"""``GET /metrics`` on a real desk, on each engine: mail of every outcome goes through the runtime,
the outbox breaker trips, IMAP folders fetch and fail, and the scrape tells each of it; the token,
the Host check and the text format a Prometheus server reads."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings, load_settings
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.web.app import create_web_app

from .mails import Clock, mail, out_of_office, receive, redelivered

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BOXES = [{"name": "support", "address": "support@example.com"}, {"name": "billing", "address": "billing@example.com"}]
TOKEN = "metrics-token-0123456789abcdef"
SECRET_KEY = "metrics-test-secret-" + "x" * 32
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@asynccontextmanager
async def desk(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A runtime on ``settings`` and an HTTP client on its panel (on this event loop, where the
    runtime opened the database)."""
    async with running(settings, clock=clock) as rt:
        transport = httpx.ASGITransport(app=create_web_app(rt, clock))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield rt, client


def desk_settings(database_url: str, tmp_path: Path, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n")
    return load_settings(overrides={"data_dir": tmp_path, "database_url": database_url, "mailboxes": BOXES,
                                    "rules_file": rules, **overrides},
                         environ={"MAILHELPDESK_SECRET_KEY": SECRET_KEY, **(env or {})})


@pytest.fixture
def make_desk(database_url: str, tmp_path: Path, clock: Clock) -> Callable[..., Any]:
    def make(env: dict[str, str] | None = None, **overrides: Any) -> Any:
        return desk(desk_settings(database_url, tmp_path, env, **overrides), clock)
    return make


def samples(text: str) -> Samples:
    """Every sample of a scrape, parsed by Prometheus's own client parser (which refuses a malformed text)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return samples(response.text)


async def one_of_each(rt: Runtime, clock: Clock) -> None:
    """Three new tickets (the third trips the breaker at a limit of two), a re-delivery, an
    out-of-office, a mail too large to take, and one accepted but not processed yet."""
    first = mail("Printer broken", sender="user0@acme.com", date=clock.now)
    results = [await receive(rt, first)]
    results += [await receive(rt, mail(f"Request {i}", sender=f"user{i}@acme.com", date=clock.now)) for i in (1, 2)]
    results.append(await receive(rt, redelivered(first)))
    results.append(await receive(rt, out_of_office(sender="user9@acme.com")))
    results.append(await receive(rt, mail("Scan", sender="user8@acme.com", body="x" * 40_000)))
    assert [r.state for r in results] == [InboundState.INGESTED] * 3 + [
        InboundState.DUPLICATE, InboundState.IGNORED, InboundState.QUARANTINED]
    await rt.intake.accept("billing", mail("Invoice", sender="ann@corp.example"), "test")


async def test_the_scrape_tells_what_went_through_the_desk(make_desk: Callable[..., Any], clock: Clock) -> None:
    async with make_desk(outbox={"breaker_limit": 2}, max_message_bytes=20_000) as (rt, client):
        await one_of_each(rt, clock)
        clock.now = MONDAY_10 + timedelta(seconds=90)
        found = await scrape(client)

    assert found[("mailhelpdesk_database_up", ())] == 1
    states = {state.value: found[("mailhelpdesk_inbound_messages", (("state", state.value),))]
              for state in InboundState}
    assert states == {"accepted": 1, "ingested": 3, "ignored": 1, "duplicate": 1, "quarantined": 1}
    assert found[("mailhelpdesk_inbound_received_total", (("mailbox", "support"),))] == 6
    assert found[("mailhelpdesk_inbound_received_total", (("mailbox", "billing"),))] == 1
    assert found[("mailhelpdesk_ingest_lag_seconds", ())] == 90  # accepted at 10:00, scraped at 10:01:30
    # One acknowledgement per new ticket: two went out, the third tripped the breaker and is held.
    assert found[("mailhelpdesk_outbox_messages", (("status", "queued"),))] == 2
    assert found[("mailhelpdesk_outbox_messages", (("status", "held"),))] == 1
    assert found[("mailhelpdesk_outbox_messages", (("status", "failed"),))] == 0
    assert found[("mailhelpdesk_outbox_breaker_tripped", ())] == 1
    assert found[("mailhelpdesk_outbox_breaker_trips_total", ())] == 1
    processed = {state: found[("mailhelpdesk_processing_seconds_count", (("state", state),))]
                 for state in ("ingested", "ignored", "duplicate", "quarantined")}
    assert processed == {"ingested": 3, "ignored": 1, "duplicate": 1, "quarantined": 1}
    # The rules ran for the three customer mails; the duplicate, the auto-reply and the
    # oversized mail stopped before the rules step.
    assert found[("mailhelpdesk_rule_evaluation_seconds_count", ())] == 3
    assert 0 < found[("mailhelpdesk_rule_evaluation_seconds_sum", ())] < 3


async def test_the_breaker_and_the_backlog_read_zero_when_all_is_well(make_desk: Callable[..., Any],
                                                                      clock: Clock) -> None:
    async with make_desk() as (rt, client):
        await receive(rt, mail("Printer broken", date=clock.now))
        found = await scrape(client)
        await rt.outbox.trip_breaker("tripped by hand", clock.now)
        tripped = await scrape(client)
        await rt.outbox.reset_breaker(True, clock.now)
        reset = await scrape(client)

    assert found[("mailhelpdesk_ingest_lag_seconds", ())] == 0
    assert found[("mailhelpdesk_inbound_messages", (("state", "accepted"),))] == 0
    assert found[("mailhelpdesk_inbound_received_total", (("mailbox", "billing"),))] == 0  # configured, no mail yet
    assert found[("mailhelpdesk_outbox_breaker_tripped", ())] == 0
    assert tripped[("mailhelpdesk_outbox_breaker_tripped", ())] == 1
    assert reset[("mailhelpdesk_outbox_breaker_tripped", ())] == 0
    assert found[("mailhelpdesk_processing_seconds_count", (("state", "quarantined"),))] == 0  # there before any


async def test_each_imap_folder_reports_its_failures_and_last_good_fetch(make_desk: Callable[..., Any],
                                                                        clock: Clock) -> None:
    async with make_desk() as (_rt, client):
        states = ImapStates()
        await states.advance("support", "INBOX", 7, 42, MONDAY_10 - timedelta(minutes=10))
        await states.failed("support", "INBOX", "connection refused", MONDAY_10)
        await states.failed("support", "INBOX", "connection refused", MONDAY_10)
        await states.advance("billing", "INBOX", 3, 5, MONDAY_10 - timedelta(seconds=30))
        await states.failed("billing", "Archive", "no such folder", MONDAY_10)  # never fetched
        found = await scrape(client)

    def folder(name: str, mailbox: str, path: str) -> float | None:
        return found.get((name, (("folder", path), ("mailbox", mailbox))))

    assert folder("mailhelpdesk_imap_consecutive_failures", "support", "INBOX") == 2
    assert folder("mailhelpdesk_imap_last_success_age_seconds", "support", "INBOX") == 600
    assert folder("mailhelpdesk_imap_consecutive_failures", "billing", "INBOX") == 0
    assert folder("mailhelpdesk_imap_last_success_age_seconds", "billing", "INBOX") == 30
    assert folder("mailhelpdesk_imap_consecutive_failures", "billing", "Archive") == 1
    assert folder("mailhelpdesk_imap_last_success_age_seconds", "billing", "Archive") is None


async def test_with_a_token_only_its_bearer_gets_the_metrics(make_desk: Callable[..., Any]) -> None:
    async with make_desk({"MAILHELPDESK_METRICS_TOKEN": TOKEN}) as (rt, client):
        assert rt.settings.metrics_token == TOKEN
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
        basic = await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        found = await scrape(client, Authorization=f"Bearer {TOKEN}")
        lower = await client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})

    for refused in (missing, wrong, basic):
        assert refused.status_code == 401  # never the login form's redirect: a scraper cannot log in
        assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert "mailhelpdesk_" not in refused.text
    assert found[("mailhelpdesk_database_up", ())] == 1
    assert lower.status_code == 200  # the scheme's name is case-insensitive (RFC 9110)


async def test_the_route_keeps_the_panels_host_check_and_headers_and_sets_no_cookie(
        make_desk: Callable[..., Any]) -> None:
    async with make_desk() as (_rt, client):
        served = await client.get("/metrics")
        elsewhere = await client.get("/metrics", headers={"Host": "metrics.attacker.example"})
        posted = await client.post("/metrics")

    assert served.status_code == 200
    assert "set-cookie" not in served.headers  # no session, no CSRF cookie for a scraper
    assert served.headers["cache-control"] == "no-store"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert elsewhere.status_code == 400  # a page that rebinds its DNS name to us reads nothing
    assert posted.status_code == 405
