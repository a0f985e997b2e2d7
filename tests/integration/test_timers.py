"""The timer job and the SLA clock on real tickets: warnings, breaches, pauses, timed rules, agent replies."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import Event, Ticket, TicketTimer

from .conftest import MAILBOXES, ruled_settings
from .mails import Clock, agent_reply, ingest, mail, reply_to

RULES = """
calendars:
  office: {timezone: UTC, hours: {mon-fri: "09:00-18:00"}}
teams:
  dispatch: {line: 1, members: [Agent@Desk.example]}
sla:
  calendar: office
  policies:
    - name: Vendor
      lines: [4]
      resolution: 45h
    - name: Urgent
      urgencies: [high, critical]
      first_response: 1h
      resolution: 1d
    - name: Standard
      first_response: 4h
      next_response: 8h
      resolution: 2d
      warn_before: 25%
rules:
  - name: Needs information
    on: ticket_created
    when: {subject: {contains: "need info"}}
    then: {status: pending}
  - name: Urgent reply
    on: customer_replied
    when: {reply_text: {contains: urgent}}
    then: {urgency: high}
  - name: To the vendor
    on: customer_replied
    when: {reply_text: {contains: firmware}}
    then: {line: 4}
  - name: Solved
    on: customer_replied
    when: {reply_text: {contains: "solved, thanks"}}
    then: {status: resolved}
  - name: Warned
    on: sla_warning
    then: {tags: [warned]}
  - name: Breach escalates
    on: sla_breached
    then: {escalate: true, tags: [breached]}
  - name: Reminder
    on: {pending_for: 3d}
    then: {tags: [reminded]}
  - name: Stale
    on: {no_update_for: 10d}
    then: {status: closed}
  - name: Closed note
    on: status_changed
    when: {status: closed}
    then: {note: "closed for lack of news"}
"""
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path,
             clock: Clock) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES, mailboxes=MAILBOXES)
    async with running(settings, clock=clock) as runtime:
        yield runtime


async def kinds(number: int) -> list[str]:
    return [e.kind for e in await Event.filter(ticket__number=number).order_by("id")]


async def fired(number: int) -> list[tuple[str, str]]:
    rows = await Event.filter(ticket__number=number, kind="rule.fired").order_by("id")
    return [(str(r.data["rule"]), str(r.data["on"])) for r in rows]


async def new_ticket(rt: Runtime, clock: Clock, subject: str = "Export fails") -> tuple[int, bytes]:
    raw = mail(subject, sender="Pat <pat@globex.ru>", date=clock.now)
    return await ingest(rt, raw), raw


async def test_a_warning_and_a_breach_fire_once_each_when_due(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    ticket = await Ticket.get(number=number)
    assert ticket.first_response_due == MONDAY_10 + 4 * HOUR
    assert ticket.status_since == MONDAY_10

    assert await rt.timers.run(MONDAY_10 + 3 * HOUR - timedelta(seconds=1)) == {}
    assert await rt.timers.run(MONDAY_10 + 3 * HOUR) == {"sla_warning": 1}  # 25% of 4h before
    assert await rt.timers.run(MONDAY_10 + 4 * HOUR) == {"sla_breached": 1}
    assert await rt.timers.run(MONDAY_10 + 5 * HOUR) == {}

    ticket = await Ticket.get(number=number)
    assert (ticket.line, sorted(ticket.tags)) == (2, ["breached", "warned"])
    assert await fired(number) == [("Warned", "sla_warning"), ("Breach escalates", "sla_breached")]
    breach = await Event.get(ticket_id=ticket.id, kind="sla.breached")
    assert breach.data == {"on": "sla_breached", "target": "first_response",
                           "due": (MONDAY_10 + 4 * HOUR).isoformat()}


async def test_a_pending_ticket_stops_the_clock_and_a_reply_moves_the_deadlines(rt: Runtime, clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock, "We need info from you")
    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.sla_paused_at) == ("pending", MONDAY_10)
    assert await rt.timers.run(MONDAY_10 + 6 * HOUR) == {}  # past due, but the clock is stopped

    clock.now = MONDAY_10 + 24 * HOUR  # Tuesday 10:00: 9 business hours later
    await ingest(rt, reply_to(raw, sender="Pat <pat@globex.ru>", body="Here it is.\n", date=clock.now))

    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.sla_paused_at, ticket.sla_paused_seconds) == ("open", None, 9 * 3600)
    assert ticket.first_response_due == MONDAY_10 + 28 * HOUR  # 14:00 + 9h business = Tuesday 14:00
    assert ticket.next_response_due == MONDAY_10 + 32 * HOUR  # 8 business hours from Tuesday 10:00
    assert "sla.paused" in await kinds(number) and "sla.resumed" in await kinds(number)
    resumed = await Event.get(ticket_id=ticket.id, kind="sla.resumed")
    assert resumed.data["stopped_seconds"] == 9 * 3600
    assert await rt.timers.run(MONDAY_10 + 28 * HOUR - timedelta(seconds=1)) == {"sla_warning": 1}
    assert await rt.timers.run(MONDAY_10 + 28 * HOUR) == {"sla_breached": 1}


async def test_pending_for_fires_once_per_pending_stretch(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock, "need info: which version?")

    assert await rt.timers.run(MONDAY_10 + 72 * HOUR - timedelta(seconds=1)) == {}
    assert await rt.timers.run(MONDAY_10 + 72 * HOUR) == {"pending_for": 1}
    assert await rt.timers.run(MONDAY_10 + 100 * HOUR) == {}
    assert await fired(number) == [("Needs information", "ticket_created"), ("Reminder", "pending_for")]
    assert "reminded" in (await Ticket.get(number=number)).tags


async def test_no_update_for_closes_the_ticket_and_runs_the_status_changed_rules(rt: Runtime,
                                                                                  clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)

    tally = await rt.timers.run(MONDAY_10 + 10 * 24 * HOUR)
    assert tally["no_update_for"] == 1
    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.status_since) == ("closed", MONDAY_10 + 10 * 24 * HOUR)
    assert ("Closed note", "status_changed") in await fired(number)
    assert await TicketTimer.filter(ticket_id=ticket.id, fired_at=None).count() == 0  # nothing left to fire
    assert await rt.timers.run(MONDAY_10 + 30 * 24 * HOUR) == {}


async def test_an_agent_reply_meets_the_first_response_and_is_not_a_customer_reply(rt: Runtime,
                                                                                   clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)
    clock.now = MONDAY_10 + HOUR
    await ingest(rt, agent_reply(rt, raw, number, "agent@desk.example", "Looking into it.\n", clock.now))

    ticket = await Ticket.get(number=number).prefetch_related("cc")
    assert (ticket.status, ticket.first_response_due, ticket.next_response_due) == ("open", None, None)
    assert list(ticket.cc) == []
    assert "message.agent_reply" in await kinds(number) and "message.customer_reply" not in await kinds(number)
    assert await rt.timers.run(MONDAY_10 + 5 * HOUR) == {}  # first response met: no warning, no breach


async def test_an_urgency_change_on_a_reply_recomputes_the_deadlines_from_the_start(rt: Runtime,
                                                                                   clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)
    clock.now = MONDAY_10 + 30 * timedelta(minutes=1)
    await ingest(rt, reply_to(raw, sender="Pat <pat@globex.ru>", body="This is urgent now.\n",
                                date=clock.now))

    ticket = await Ticket.get(number=number)
    assert (ticket.urgency, ticket.sla_policy) == ("high", "Urgent")
    assert ticket.first_response_due == MONDAY_10 + HOUR  # 1h from the ticket's start, not from the reply
    assert ticket.next_response_due is None  # the Urgent policy has no next-response target
    policies = await Event.filter(ticket_id=ticket.id, kind="sla.policy").order_by("id")
    assert [(p.data["policy"], p.data["on"]) for p in policies] == [("Standard", "ticket_created"),
                                                                    ("Urgent", "customer_replied")]
    assert await rt.timers.run(MONDAY_10 + HOUR) == {"sla_warning": 1, "sla_breached": 1}  # warning: 20% before


async def test_a_move_to_the_vendor_line_changes_the_policy_and_its_deadlines(rt: Runtime, clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)
    clock.now = MONDAY_10 + 2 * HOUR
    await ingest(rt, reply_to(raw, sender="Pat <pat@globex.ru>", body="It is the firmware.\n", date=clock.now))

    ticket = await Ticket.get(number=number)
    assert (ticket.line, ticket.sla_policy) == (4, "Vendor")
    # 45 business hours (five 9-hour days) from Monday 10:00, its start: Monday 10:00 a week later.
    assert ticket.resolution_due == MONDAY_10 + 7 * 24 * HOUR
    assert ticket.first_response_due is None  # the vendor policy has no first-response target
    policy = await Event.filter(ticket_id=ticket.id, kind="sla.policy").order_by("-id").first()
    assert policy is not None
    assert policy.data["reason"] == "first policy for tier 'standard', urgency 'normal' and line 4"


async def test_a_resolved_ticket_fires_nothing_and_a_reopened_one_gets_its_timers_back(rt: Runtime,
                                                                                      clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)
    clock.now = MONDAY_10 + HOUR
    solved = reply_to(raw, sender="Pat <pat@globex.ru>", body="Solved, thanks!\n", date=clock.now)
    await ingest(rt, solved)
    ticket = await Ticket.get(number=number)
    assert ticket.status == "resolved"
    unfired = await TicketTimer.filter(ticket_id=ticket.id, fired_at=None).values_list("event", flat=True)
    assert unfired == ["auto_close"]  # no SLA moments; the closing request's promise
    assert await rt.timers.run(MONDAY_10 + 5 * HOUR) == {}

    clock.now = MONDAY_10 + 2 * HOUR
    await ingest(rt, reply_to(solved, sender="Pat <pat@globex.ru>", body="It broke again.\n", date=clock.now))
    ticket = await Ticket.get(number=number)
    assert ticket.status == "open" and ticket.first_response_due == MONDAY_10 + 4 * HOUR
    assert await rt.timers.run(MONDAY_10 + 4 * HOUR) == {"sla_breached": 1}  # first response, restored
