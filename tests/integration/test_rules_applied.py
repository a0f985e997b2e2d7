"""The example rules applied to real tickets: fields, deadlines, and one event per fired rule."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.store.models import Event, Ticket

from .conftest import MAILBOXES
from .mails import mail, receive, reply_to

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"
MONDAY_10 = datetime(2026, 11, 23, 7, 15, tzinfo=UTC)  # 10:15 in Moscow, the office is open


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url, tmp_path, mailboxes=MAILBOXES, rules_file=EXAMPLE)
    async with running(settings, clock=lambda: MONDAY_10) as runtime:
        for seed in runtime.rules().companies:
            await runtime.repo.upsert_company(seed.name, seed.domains, seed.tier)
        yield runtime


async def events(number: int, kind: str) -> list[dict[str, object]]:
    rows = await Event.filter(ticket__number=number, kind=kind).order_by("id")
    return [dict(r.data) for r in rows]


async def test_a_vip_outage_gets_its_fields_deadlines_and_reasons(rt: Runtime) -> None:
    result = await receive(rt, mail("Сервер не работает", sender="Ivan <ivan@eu.acme.com>", date=MONDAY_10))

    ticket = await Ticket.get(number=result.ticket_number)
    assert (ticket.urgency, ticket.line, ticket.team, ticket.tags, ticket.sla_policy) == (
        "critical", 2, "", ["outage"], "VIP critical")
    assert ticket.first_response_due == MONDAY_10 + timedelta(minutes=30)
    assert ticket.resolution_due == MONDAY_10 + timedelta(hours=8)
    fired = await events(ticket.number, "rule.fired")
    assert [e["rule"] for e in fired] == ["VIP customers", "Outage"]
    assert fired[1]["matched"] == [{"field": "subject", "matcher": "contains",
                                    "expected": "outage, down, не работает, авария",
                                    "seen": "Сервер не работает", "captures": {}}]
    assert {"field": "urgency", "text": "urgency: high → critical"} in fired[1]["changes"]  # type: ignore[operator]
    policy = await events(ticket.number, "sla.policy")
    assert policy[0]["policy"] == "VIP critical" and len(policy[0]["deadlines"]) == 4  # type: ignore[arg-type]


async def test_a_standard_question_gets_the_24_hour_policy(rt: Runtime) -> None:
    result = await receive(rt, mail("How do I export?", sender="Pat <pat@globex.ru>", date=MONDAY_10))

    ticket = await Ticket.get(number=result.ticket_number)
    assert (ticket.urgency, ticket.line, ticket.sla_policy) == ("normal", 1, "Standard")
    assert ticket.first_response_due == MONDAY_10 + timedelta(hours=24)
    assert await events(ticket.number, "rule.fired") == []


async def test_spam_is_ignored_with_the_rule_named(rt: Runtime) -> None:
    result = await receive(rt, mail("Crypto giveaway!!!", sender="x@spam.example"))

    assert (result.state, result.reason) == (InboundState.IGNORED, "spam, by rule 'Spam'")
    assert await Ticket.all().count() == 0


async def test_a_customer_reply_can_raise_urgency_and_moves_the_next_response(rt: Runtime) -> None:
    first = mail("Export question", sender="Pat <pat@globex.ru>")
    created = await receive(rt, first)
    replied = await receive(rt, reply_to(first, sender="Pat <pat@globex.ru>", body="Now production is down!\n"))

    assert replied.ticket_number == created.ticket_number
    ticket = await Ticket.get(number=created.ticket_number)
    assert (ticket.urgency, ticket.tags) == ("critical", ["outage"])
    fired = await events(ticket.number, "rule.fired")
    assert [(e["rule"], e["on"]) for e in fired] == [("Outage", "customer_replied")]


async def test_the_mailbox_sets_team_and_line_through_the_rules(rt: Runtime) -> None:
    result = await receive(rt, mail("Invoice question", sender="Pat <pat@globex.ru>", to="billing@example.com"),
                           mailbox="billing")
    ticket = await Ticket.get(number=result.ticket_number)
    assert (ticket.team, ticket.line) == ("billing", 2)


async def test_a_broken_rules_file_is_refused_with_its_problems(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("rules:\n  - name: r\n    on: ticket_created\n    then: {urgency: extreme}\n")
    async with running(make_settings(database_url, tmp_path, rules_file=broken)) as runtime:
        with pytest.raises(ConfigError) as raised:
            runtime.rules.load()
    assert f"{broken}:4:21: urgency must be one of" in str(raised.value)
