"""The ticket service on real tickets: what each action stores (columns, events, outbox, thread), and
how agents' mail is trusted on its way to it."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import Event, Message, Outbox, Ticket, TicketCollaborator, TicketTimer
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.tickets.service import ActionResult, Done, Refused

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail, reply_to

BOXES = [{"name": "support", "address": SUPPORT, "team": "dispatch"}]
RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
teams:
  dispatch: {line: 1}
  network: {line: 2, address: network-team@example.com}
  experts: {line: 3}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
  - {email: ivan@example.com, name: Ivan Orlov, teams: [network]}
  - {email: sergey@example.com, name: Sergey Volkov, teams: [experts]}
sla:
  calendar: office
  policies:
    - name: VIP
      tiers: [vip]
      first_response: 1h
      resolution: 1d
    - name: Standard
      first_response: 4h
      next_response: 8h
      resolution: 3d
companies:
  - {name: Acme, tier: vip, domains: [acme.com]}
  - {name: Globex, tier: standard, domains: [globex.ru]}
rules:
  - name: Waiting tag
    on: status_changed
    when: {status: pending}
    then: {tags: [waiting]}
  - name: Answered
    on: agent_replied
    then: {tags: [answered]}
  - name: Reminder
    on: {pending_for: 3d}
    then: {template: reminder}
"""
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PAT = "Pat Customer <pat@globex.ru>"
BOB = "Bob Colleague <bob@globex.ru>"
ANNA, OLEG, IVAN, SERGEY = "anna@example.com", "oleg@example.com", "ivan@example.com", "sergey@example.com"
AS_ANNA = Actor.agent(ANNA)


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path,
             clock: Clock) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES, mailboxes=BOXES)
    async with running(settings, clock=clock) as runtime:
        for seed in runtime.rules().companies:  # the VIP tier comes from the seeded company
            await runtime.repo.upsert_company(seed.name, seed.domains, seed.tier)
        yield runtime


# --- helpers -------------------------------------------------------------------------------------


async def act(action: Awaitable[ActionResult]) -> ActionResult:
    """Run one service action the way its callers do: the caller holds the transaction."""
    async with transaction():
        return await action


def done(result: ActionResult) -> Done:
    assert isinstance(result, Done), result
    return result


async def new_ticket(rt: Runtime, clock: Clock, subject: str = "Printer on floor 3 is broken",
                     sender: str = PAT, **kwargs: Any) -> tuple[int, bytes]:
    raw = mail(subject, sender=sender, date=kwargs.pop("date", clock.now), **kwargs)
    return await ingest(rt, raw), raw


async def last_event() -> int:
    """The newest event id: what an action records comes after it."""
    row = await Event.all().order_by("-id").first()
    return row.id if row else 0


async def last_outbox() -> int:
    row = await Outbox.all().order_by("-id").first()
    return row.id if row else 0


async def events_since(mark: int, number: int | None = None, kind: str | None = None) -> list[Event]:
    query = Event.filter(id__gt=mark)
    if number is not None:
        query = query.filter(ticket__number=number)
    if kind is not None:
        query = query.filter(kind=kind)
    return await query.order_by("id")


async def outbox_since(mark: int) -> list[Outbox]:
    return await Outbox.filter(id__gt=mark).order_by("id")


def sent(rows: list[Outbox]) -> set[tuple[str, str]]:
    return {(r.template, r.recipient) for r in rows}


def parsed(row: Outbox) -> EmailMessage:
    return message_from_bytes(bytes(row.raw_message), policy=policy.default)


def body_of(row: Outbox) -> str:
    part = parsed(row).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def followers(number: int) -> list[str]:
    return [c.agent for c in await TicketCollaborator.filter(ticket__number=number).order_by("id")]


async def message_ids(number: int) -> set[int]:
    return {m.id for m in await Message.filter(ticket__number=number)}


async def event_data(number: int, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in await Event.filter(ticket__number=number, kind=kind).order_by("id")]


def agent_mail(number: int, body: str, *, sender: str = f"Anna Smirnova <{ANNA}>", to: str = SUPPORT,
               in_reply_to: str | None = None, at: datetime = MONDAY_10) -> bytes:
    """An agent's mail about ticket ``number``: the ``[#N]`` token alone proves nothing."""
    return mail(f"Re: Printer on floor 3 is broken [#{number}]", sender=sender, to=to, body=body,
                in_reply_to=in_reply_to, date=at)


def signed_for(rt: Runtime, number: int, agent: str) -> str:
    """The reply address every notification to ``agent`` about ``number`` carries."""
    return rt.signer.agent_reply_address(SUPPORT, number, agent)


async def snapshot(number: int) -> tuple[Any, ...]:
    t = await Ticket.get(number=number)
    return (t.status, t.urgency, t.line, t.team, t.assignee, sorted(t.tags), t.updated_at, t.first_response_due,
            t.history_only)


# --- set_fields ----------------------------------------------------------------------------------


async def test_set_fields_refuses_invalid_values_then_changes_every_field_and_runs_status_changed(
        rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    before, events, mails = await snapshot(number), await last_event(), await last_outbox()

    reasons = []
    for invalid in (FieldChanges(status="resolved", team="nope"), FieldChanges(assignee="pat@globex.ru"),
                    FieldChanges(line=5), FieldChanges(status="new")):
        refused = await act(rt.service.set_fields(number, invalid, AS_ANNA, Moment.of(clock.now)))
        assert isinstance(refused, Refused), invalid
        reasons.append(refused.reason)
    assert reasons == [
        "unknown team 'nope' (teams: dispatch, experts, network)",  # the valid status is not applied alone
        "pat@globex.ru is not a declared agent",
        "support lines are numbered 1 to 4, not 5",
        "unknown status 'new' (open, pending, resolved, closed)",
    ]
    assert await act(rt.service.set_fields(9999, FieldChanges(status="open"), AS_ANNA,
                                           Moment.of(clock.now))) == Refused("no ticket #9999")
    assert await snapshot(number) == before
    assert await events_since(events) == [] and await outbox_since(mails) == []

    result = done(await act(rt.service.set_fields(number, FieldChanges(
        status="pending", urgency="high", team="network", assignee="Ivan@Example.com", tags=("+vpn",)),
        AS_ANNA, Moment.of(clock.now))))

    ticket = await Ticket.get(number=number)
    # The team brought its line (2); the status_changed rule added its tag on top of the agent's.
    assert (ticket.status, ticket.urgency, ticket.line, ticket.team, ticket.assignee, sorted(ticket.tags)) == (
        "pending", "high", 2, "network", IVAN, ["vpn", "waiting"])
    assert "status: new → pending" in result.changes and "line: 1 → 2" in result.changes
    changed = await events_since(events, number, "ticket.changed")
    assert [(e.actor, e.data["changes"]) for e in changed] == [("agent:anna@example.com", [
        {"field": "status", "old": "new", "new": "pending"},
        {"field": "urgency", "old": "normal", "new": "high"},
        {"field": "line", "old": 1, "new": 2},
        {"field": "team", "old": "dispatch", "new": "network"},
        {"field": "assignee", "old": "", "new": IVAN},
        {"field": "tags", "old": [], "new": ["vpn"]},
    ])]
    fired = await events_since(events, number, "rule.fired")
    assert [(e.data["rule"], e.data["on"]) for e in fired] == [("Waiting tag", "status_changed")]
    # The escalation speaks for the assignment to the customer; anna is told nothing of her own doing.
    assert sent(await outbox_since(mails)) == {("agent_assigned", IVAN), ("escalated", "pat@globex.ru"),
                                              ("agent_new_ticket", "network-team@example.com"),
                                              ("waiting_for_reply", "pat@globex.ru")}


# --- reply ---------------------------------------------------------------------------------------


async def test_a_reply_goes_to_the_requester_and_cc_meets_the_first_response_and_opens_the_ticket(
        rt: Runtime, clock: Clock) -> None:
    # The customer copied a colleague and, as customers do, an agent: the agent is no cc of the answer.
    number, _ = await new_ticket(rt, clock, cc=f"{BOB}, Oleg <{OLEG}>")
    events, mails = await last_event(), await last_outbox()
    clock.now = MONDAY_10 + HOUR

    result = done(await act(rt.service.reply(number, "Hello Pat,\nthe new toner is on its way.", AS_ANNA,
                                             Moment.of(clock.now))))

    rows = await outbox_since(mails)
    assert [(r.id, r.template, r.audience, r.automatic, r.recipient, r.cc, r.status) for r in rows] == [
        (result.outbox_id, "agent_reply", "customer", False, "pat@globex.ru", "bob@globex.ru", "queued")]
    raw = bytes(rows[0].raw_message)
    # From the mailbox: the agent's address and name stay inside the desk.
    assert b"anna@example.com" not in raw.lower() and b"smirnova" not in raw.lower()
    assert b"oleg@example.com" not in raw.lower()
    message = parsed(rows[0])
    assert (message["From"].addresses[0].addr_spec, message["Cc"].addresses[0].addr_spec) == (SUPPORT,
                                                                                              "bob@globex.ru")
    assert f"[#{number}]" in str(message["Subject"]) and "new toner" in body_of(rows[0])
    thread = await Message.get(message_id=rows[0].message_id)
    assert (thread.direction, thread.visibility, thread.from_addr, thread.flags["agent"],
            thread.flags["automatic"]) == ("out", "public", SUPPORT, ANNA, False)

    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.first_response_due, ticket.tags) == ("open", None, ["answered"])
    assert ticket.resolution_due == MONDAY_10 + 3 * 24 * HOUR  # met targets are cleared, the others stay
    assert [(e.data["rule"], e.data["on"]) for e in await events_since(events, number, "rule.fired")] == [
        ("Answered", "agent_replied")]
    answer = await events_since(events, number, "message.agent_answer")
    assert [(e.actor, e.data["outbox"]) for e in answer] == [("agent:anna@example.com", result.outbox_id)]

    # "#status pending" with an answer: the answer asks the question, no waiting_for_reply on top.
    mails = await last_outbox()
    done(await act(rt.service.reply(number, "Which model is it?", AS_ANNA, Moment.of(clock.now),
                                    FieldChanges(status="pending"))))
    assert sent(await outbox_since(mails)) == {("agent_reply", "pat@globex.ru")}
    ticket = await Ticket.get(number=number)
    assert (ticket.status, sorted(ticket.tags)) == ("pending", ["answered", "waiting"])


async def test_notes_a_line_3_reply_asks_line_2_and_a_mention_tells_the_named_agent(rt: Runtime,
                                                                                     clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    events, mails = await last_event(), await last_outbox()

    result = done(await act(rt.service.reply(number, "It is the fuser: tell them to replace it.",
                                             Actor.agent(SERGEY), Moment.of(clock.now))))

    assert result.outbox_id == 0
    assert sent(await outbox_since(mails)) == {("agent_answer_needed", "network-team@example.com")}
    note = await Message.filter(ticket__number=number, from_addr=SERGEY).get()
    assert (note.direction, note.visibility, note.flags, note.text) == (
        "out", "internal", {"note": True}, "It is the fuser: tell them to replace it.")
    added = await events_since(events, number, "note.added")
    assert [(e.actor, e.data["answer_needed"]) for e in added] == [("agent:sergey@example.com", True)]
    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.first_response_due) == ("new", MONDAY_10 + 4 * HOUR)  # nobody answered yet
    assert await events_since(events, number, "message.agent_answer") == []

    # The same by mail, verified: the agent's message is the note, line 2 is asked again.
    mails = await last_outbox()
    by_mail = agent_mail(number, "Or the drum.\n", sender=f"Sergey <{SERGEY}>", to=signed_for(rt, number, SERGEY))
    assert await ingest(rt, by_mail) == number
    assert sent(await outbox_since(mails)) == {("agent_answer_needed", "network-team@example.com")}
    kept = await Message.filter(ticket__number=number, from_addr=SERGEY).order_by("id")
    assert [(m.direction, m.visibility) for m in kept] == [("out", "internal"), ("in", "internal")]

    # A note by oleg naming anna and himself: anna is told, oleg is not.
    mails = await last_outbox()

    done(await act(rt.service.note(number, "@anna can you check the toner? @oleg keeps an eye on it.",
                                   Actor.agent(OLEG), Moment.of(clock.now))))

    rows = await outbox_since(mails)
    assert [(r.template, r.audience, r.recipient) for r in rows] == [("agent_mention", "agent", ANNA)]
    # Anna's answer to it is trusted: it carries her signed address for this ticket.
    assert parsed(rows[0])["Reply-To"] == signed_for(rt, number, ANNA)
    note = await Message.filter(ticket__number=number, from_addr=OLEG).get()
    assert (note.direction, note.from_addr, note.flags) == ("out", OLEG, {"note": True})


async def test_collaborators_hear_of_the_customers_reply(rt: Runtime, clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)

    refused = await act(rt.service.collaborators(number, ["pat@globex.ru"], [], AS_ANNA, Moment.of(clock.now)))
    assert refused == Refused("pat@globex.ru: not a declared agent")
    done(await act(rt.service.collaborators(number, [IVAN.upper(), SERGEY], [], AS_ANNA, Moment.of(clock.now))))
    done(await act(rt.service.collaborators(number, [], [SERGEY], AS_ANNA, Moment.of(clock.now))))
    assert await followers(number) == [IVAN]
    changes = await Event.filter(ticket__number=number, kind="ticket.collaborators").order_by("id")
    assert [(e.actor, e.data) for e in changes] == [
        ("agent:anna@example.com", {"added": [IVAN, SERGEY], "removed": []}),
        ("agent:anna@example.com", {"added": [], "removed": [SERGEY]})]

    mails = await last_outbox()
    clock.now = MONDAY_10 + HOUR
    await ingest(rt, reply_to(raw, sender=PAT, body="It is still broken.\n", date=clock.now))

    assert sent(await outbox_since(mails)) == {("agent_customer_replied", ANNA), ("agent_customer_replied", OLEG),
                                               ("agent_customer_replied", IVAN)}


# --- merge ---------------------------------------------------------------------------------------


async def test_a_merge_moves_the_thread_closes_the_source_and_its_mail_follows(rt: Runtime, clock: Clock) -> None:
    source, _ = await new_ticket(rt, clock)
    target, _ = await new_ticket(rt, clock, "Scanner jams", sender="Sam <sam@initech.com>")
    other, _ = await new_ticket(rt, clock, "Fax is silent", sender="Kim <kim@initech.com>")
    moved = await message_ids(source)
    assert len(moved) == 2  # the customer's mail and our acknowledgement
    done(await act(rt.service.collaborators(source, [IVAN], [], AS_ANNA, Moment.of(clock.now))))
    clock.now = MONDAY_10 + HOUR

    # Different customers: the one would receive the other's answers, so only when forced.
    assert await act(rt.service.merge(source, target, AS_ANNA, Moment.of(clock.now))) == Refused(
        f"#{source} and #{target} have different customers (neither the requester nor the company in common): "
        "merged, the one would receive the other's answers")
    assert (await Ticket.get(number=source)).merged_into is None
    result = done(await act(rt.service.merge(source, target, AS_ANNA, Moment.of(clock.now), force=True)))

    assert result.changes == (f"#{source} merged into #{target} (2 messages moved)",)
    merged = await Ticket.get(number=source)
    assert (merged.status, merged.merged_into, merged.closed_at) == ("closed", target, clock.now)
    assert await Message.filter(ticket__number=source).count() == 0
    assert moved <= await message_ids(target)
    assert await Outbox.filter(ticket__number=source).count() == 0
    into = await Ticket.get(number=target).prefetch_related("cc")
    assert [c.email for c in into.cc] == ["pat@globex.ru"]  # the source's requester follows their mail
    assert await followers(target) == [IVAN]
    assert await TicketTimer.filter(ticket__number=source, fired_at=None).count() == 0  # no SLA left to run
    for number in (source, target):
        merges = await Event.filter(ticket__number=number, kind="ticket.merged")
        assert [(e.actor, e.data) for e in merges] == [
            ("agent:anna@example.com", {"from": source, "into": target, "messages": 2})]

    now = Moment.of(clock.now)
    assert await act(rt.service.merge(target, target, AS_ANNA, now)) == Refused(
        f"cannot merge #{target} into itself")
    assert await act(rt.service.merge(other, source, AS_ANNA, now)) == Refused(
        f"ticket #{source} was merged into #{target}")
    assert await act(rt.service.merge(source, other, AS_ANNA, now)) == Refused(
        f"ticket #{source} was merged into #{target}")
    assert (await Ticket.get(number=other)).merged_into is None

    # A fresh mail naming the merged ticket lands on the one it was merged into.
    assert await ingest(rt, mail(f"[#{source}] one more thing", sender=PAT, date=clock.now)) == target


# --- the action's clock --------------------------------------------------------------------------


async def test_events_carry_the_clock_of_the_action_and_of_the_timer(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    waiting, _ = await new_ticket(rt, clock, "Scanner jams")
    clock.now = MONDAY_10 + 24 * HOUR  # the runtime's clock has moved on; the action says when it was done
    acted = MONDAY_10 + 2 * HOUR
    events = await last_event()

    done(await act(rt.service.set_fields(waiting, FieldChanges(status="pending", assignee=IVAN), AS_ANNA,
                                         Moment.of(acted))))

    recorded = await events_since(events)
    # The agent's change, what the rules and the SLA clock made of it, and the mail it queued.
    assert {"ticket.changed", "rule.fired", "sla.paused", "mail.queued"} <= {e.kind for e in recorded}
    assert {e.created_at for e in recorded} == {acted}
    assert (await Ticket.get(number=waiting)).status_since == acted

    due = MONDAY_10 + 4 * HOUR  # the other ticket's first response is due: nobody answered its customer
    events = await last_event()
    assert await rt.timers.run(due) == {"sla_warning": 1, "sla_breached": 1}  # the warning was due too
    recorded = await events_since(events)
    assert {"sla.warning", "sla.breached", "mail.queued"} <= {e.kind for e in recorded}
    assert await Event.filter(id__gt=events).exclude(ticket__number=number).count() == 0
    assert {e.created_at for e in recorded} == {due}


# --- SLA and history -----------------------------------------------------------------------------


async def test_the_sla_policy_stays_the_companys_when_an_agent_replies_by_mail(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock, "Printer down", sender="Ann <ann@acme.com>")
    ticket = await Ticket.get(number=number)
    assert (ticket.sla_policy, ticket.first_response_due) == ("VIP", MONDAY_10 + HOUR)
    clock.now = MONDAY_10 + 30 * timedelta(minutes=1)

    # Anna's domain is no VIP's: her answer must not move the ticket to the Standard policy.
    answer = agent_mail(number, "We are on our way.\n", to=signed_for(rt, number, ANNA), at=clock.now)
    assert await ingest(rt, answer) == number

    ticket = await Ticket.get(number=number).prefetch_related("company")
    assert ticket.company is not None and ticket.company.name == "Acme"
    assert (ticket.sla_policy, ticket.first_response_due, ticket.resolution_due) == (
        "VIP", None, MONDAY_10 + 24 * HOUR)
    assert [p["policy"] for p in await event_data(number, "sla.policy")] == ["VIP"]
    assert await Outbox.filter(ticket__number=number, template="agent_reply",
                               recipient="ann@acme.com").count() == 1


async def test_history_mails_no_one_until_fresh_mail_makes_it_live(rt: Runtime, clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock, date=MONDAY_10 - 730 * 24 * HOUR)
    ticket = await Ticket.get(number=number)
    assert ticket.history_only is True
    assert await Outbox.filter(ticket__number=number).count() == 0
    suppressed = await event_data(number, "mail.suppressed")
    assert {d["template"] for d in suppressed} == {"acknowledgement", "agent_new_ticket"}

    far = MONDAY_10 + 30 * 24 * HOUR
    events = await last_event()
    assert (await rt.timers.run(far))["sla_breached"] >= 1  # the two-year-old deadlines are long past
    assert await Outbox.filter(ticket__number=number).count() == 0
    later = await events_since(events, number, "mail.suppressed")
    assert later and {e.created_at for e in later} == {far}
    assert (await Ticket.get(number=number)).history_only is True

    clock.now = far + HOUR
    mails = await last_outbox()
    await ingest(rt, reply_to(raw, sender=PAT, body="It broke again today.\n", date=clock.now))

    assert (await Ticket.get(number=number)).history_only is False
    rows = await outbox_since(mails)
    assert sent(rows) == {("agent_customer_replied", ANNA), ("agent_customer_replied", OLEG)}
    assert {r.status for r in rows} == {"queued"}


# --- agents' mail through the pipeline -------------------------------------------------------------


async def test_a_verified_agents_mail_changes_the_ticket_and_relays_the_answer(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    to_oleg = await Outbox.get(ticket__number=number, template="agent_new_ticket", recipient=OLEG)
    mails = await last_outbox()

    # Sent to her signed reply address: proof that she got our mail.
    text = "#status pending\n\nCould you send us the printer's model?\n"
    assert await ingest(rt, agent_mail(number, text, to=signed_for(rt, number, ANNA))) == number

    ticket = await Ticket.get(number=number)
    assert (ticket.status, sorted(ticket.tags)) == ("pending", ["answered", "waiting"])
    rows = await outbox_since(mails)
    assert [(r.template, r.recipient, r.automatic) for r in rows] == [("agent_reply", "pat@globex.ru", False)]
    assert "printer's model" in body_of(rows[0])
    assert b"#status" not in bytes(rows[0].raw_message)
    stored = await Message.filter(ticket__number=number, from_addr=ANNA).get()
    assert (stored.direction, stored.visibility, stored.flags["agent"]["kind"]) == ("in", "internal", "verified")
    changed = await Event.get(ticket__number=number, kind="ticket.changed")
    assert (changed.actor, changed.data["changes"][0]) == (
        "agent:anna@example.com", {"field": "status", "old": "new", "new": "pending"})

    # In reply to the notification we sent oleg, to the plain address: verified as well.
    mails = await last_outbox()
    text = "#urgency high\n\nWe will bring a spare printer.\n"
    assert await ingest(rt, agent_mail(number, text, sender=f"Oleg <{OLEG}>",
                                       in_reply_to=f"<{to_oleg.message_id}>")) == number
    assert (await Ticket.get(number=number)).urgency == "high"
    assert sent(await outbox_since(mails)) == {("agent_reply", "pat@globex.ru")}

    # A notification to a team's address is answered by a member, from their own address.
    done(await act(rt.service.set_fields(number, FieldChanges(team="network"), AS_ANNA, Moment.of(clock.now))))
    to_team = await Outbox.get(ticket__number=number, template="agent_new_ticket",
                               recipient="network-team@example.com")
    assert parsed(to_team)["Reply-To"] == signed_for(rt, number, "network-team@example.com")
    mails = await last_outbox()
    text = "#tag +network\n\nThe switch port is fixed.\n"
    assert await ingest(rt, agent_mail(number, text, sender=f"Ivan <{IVAN}>", to=str(parsed(to_team)["Reply-To"]))) \
        == number
    assert "network" in (await Ticket.get(number=number)).tags
    assert sent(await outbox_since(mails)) == {("agent_reply", "pat@globex.ru")}


async def test_an_unproven_agents_mail_changes_nothing_and_a_bad_command_is_refused(rt: Runtime,
                                                                                     clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    to_oleg = await Outbox.get(ticket__number=number, template="agent_new_ticket", recipient=OLEG)
    before, events, mails = await snapshot(number), await last_event(), await last_outbox()
    text = "#status pending\n\nCould you send us the printer's model?\n"

    # Anyone can write anna's From line: to the plain address, or in reply to mail that went to oleg;
    # and anna's signed address proves nothing for oleg.
    assert await ingest(rt, agent_mail(number, text)) == number
    assert await ingest(rt, agent_mail(number, text, in_reply_to=f"<{to_oleg.message_id}>")) == number
    assert await ingest(rt, agent_mail(number, text, sender=f"Oleg <{OLEG}>", to=signed_for(rt, number, ANNA))) \
        == number

    assert await snapshot(number) == before
    assert await outbox_since(mails) == []
    kept = await Message.filter(ticket__number=number, from_addr__in=[ANNA, OLEG]).order_by("id")
    assert [(m.from_addr, m.direction, m.visibility, m.flags["agent"]["kind"]) for m in kept] == [
        (ANNA, "in", "internal", "unverified"), (ANNA, "in", "internal", "unverified"),
        (OLEG, "in", "internal", "unverified")]
    assert "nothing was changed or sent" in kept[0].flags["agent"]["reason"]
    recorded = await events_since(events, number)
    assert [(e.kind, e.actor) for e in recorded] == [("message.unverified", "agent:anna@example.com")] * 2 + [
        ("message.unverified", "agent:oleg@example.com")]

    # A verified mail with a mistyped command: nothing changes, only anna hears why.
    events = await last_event()
    bad = "#stauts pending\n\nCould you send us the printer's model?\n"
    assert await ingest(rt, agent_mail(number, bad, to=signed_for(rt, number, ANNA))) == number
    assert await snapshot(number) == before
    rows = await outbox_since(mails)
    assert [(r.template, r.recipient) for r in rows] == [("agent_command_failed", ANNA)]
    refused = await events_since(events, number, "agent.mail_refused")
    assert [(e.actor, e.data["errors"][0]["line"]) for e in refused] == [("agent:anna@example.com", 1)]


async def test_an_archived_agent_reply_leaves_a_history_ticket_quiet(rt: Runtime, clock: Clock) -> None:
    # An archive of our own mailbox imported again: the agent's old answer carries a valid signature.
    old = MONDAY_10 - 730 * 24 * HOUR
    number, _ = await new_ticket(rt, clock, date=old)
    answer = agent_mail(number, "#status pending\n\nWhich model is it?\n", to=signed_for(rt, number, ANNA),
                        at=old + HOUR)
    assert await ingest(rt, answer) == number
    assert (await Ticket.get(number=number)).status == "pending"  # the archive's story is recorded
    assert await Outbox.filter(ticket__number=number, status="queued").count() == 0  # the answer is not sent

    await rt.timers.run(MONDAY_10 + 30 * 24 * HOUR)  # "pending for 3 days" was due two years ago

    assert [(r.template, r.status) for r in await Outbox.filter(ticket__number=number, status="queued")] == []
    assert (await Ticket.get(number=number)).history_only is True


async def test_a_merge_that_cannot_be_made_refuses_the_whole_mail(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    before, mails = await snapshot(number), await last_outbox()

    text = "#status pending\n#merge 9999\n\nCould you send us the printer's model?\n"
    assert await ingest(rt, agent_mail(number, text, to=signed_for(rt, number, ANNA))) == number

    assert [(r.template, r.recipient) for r in await outbox_since(mails)] == [("agent_command_failed", ANNA)]
    assert await snapshot(number) == before


async def test_an_answer_that_cannot_go_out_is_not_reported_as_queued(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock, sender="Robot <noreply@globex.ru>")

    before = await snapshot(number)

    result = await act(rt.service.reply(number, "Thanks.", AS_ANNA, Moment.of(clock.now)))

    # Refused before anything changes: an answer that cannot go out meets no deadline either.
    assert result == Refused("the answer cannot go to noreply@globex.ru: noreply@globex.ru is a machine address "
                             "that reads no mail")
    assert await Outbox.filter(ticket__number=number, template="agent_reply").count() == 0
    assert await snapshot(number) == before


async def test_an_agents_direct_mail_to_a_customer_opens_the_ticket_as_the_agent(rt: Runtime,
                                                                                  clock: Clock) -> None:
    # Anna writes to a customer with the desk copied: the customer's ticket, recorded as anna's doing.
    raw = mail("Your quote", sender=f"Anna Smirnova <{ANNA}>", to=PAT, cc=SUPPORT, body="Here it is.\n",
               date=clock.now)
    number = await ingest(rt, raw)

    ticket = await Ticket.get(number=number).prefetch_related("requester")
    assert ticket.requester.email == "pat@globex.ru"
    kept = await Message.get(ticket__number=number)
    assert (kept.direction, kept.visibility, kept.flags["agent"]["kind"]) == ("out", "public", "direct")
    assert await Outbox.filter(ticket__number=number).count() == 0  # pat has anna's mail: no acknowledgement
    recorded = await Event.filter(ticket__number=number, kind__in=["ticket.created", "message.agent_direct"]
                                  ).order_by("id")
    assert [(e.kind, e.actor) for e in recorded] == [("ticket.created", "agent:anna@example.com"),
                                                     ("message.agent_direct", "agent:anna@example.com")]


# --- what proves nothing changes nothing -------------------------------------------------------------


async def test_a_forged_direct_mail_adds_no_reader_to_a_ticket(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    before, mails, events = await snapshot(number), await last_outbox(), await last_event()
    forged = mail(f"Re: Printer on floor 3 is broken [#{number}]", sender=f"Anna Smirnova <{ANNA}>",
                  to="Eve <eve@evil.example>", cc=SUPPORT, body="Forwarding for you.\n", date=clock.now)

    assert await ingest(rt, forged) == number

    assert await snapshot(number) == before
    assert [c.email for c in (await Ticket.get(number=number).prefetch_related("cc")).cc] == []
    assert await outbox_since(mails) == []
    [stored] = [m for m in await Message.filter(ticket__number=number).order_by("id") if m.from_addr == ANNA]
    assert (stored.visibility, stored.flags["agent"]["kind"]) == ("internal", "unverified")
    assert [e.kind for e in await events_since(events, number)] == ["message.unverified"]


async def test_an_answer_a_customer_also_received_is_recorded_not_relayed(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    before, mails = await snapshot(number), await last_outbox()
    answer = mail(f"Re: Printer on floor 3 is broken [#{number}]", sender=f"Anna Smirnova <{ANNA}>",
                  to=signed_for(rt, number, ANNA), cc=PAT, body="#status resolved\n\nDone.\n", date=clock.now)

    assert await ingest(rt, answer) == number

    # The customer has it from Anna already, with her signed address: no second copy, no commands taken.
    assert await snapshot(number) == before
    assert await outbox_since(mails) == []
    [kind] = [e.data for e in await Event.filter(ticket__number=number, kind="message.agent_direct")]
    assert "no commands taken" in kind["reason"]


async def test_a_quote_the_trimming_missed_is_never_relayed(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    before, mails = await snapshot(number), await last_outbox()
    leaked = (f"Replaced the toner.\n\nNotification about #{number}: reply to "
              f"{signed_for(rt, number, ANNA)}, open http://127.0.0.1:8000/tickets/{number}\n")
    answer = agent_mail(number, "#status resolved\n\n" + leaked, to=signed_for(rt, number, ANNA), at=clock.now)

    assert await ingest(rt, answer) == number

    assert await snapshot(number) == before
    assert sent(await outbox_since(mails)) == {("agent_command_failed", ANNA)}
    [refused] = await event_data(number, "agent.mail_refused")
    assert "still holds the quoted notification" in refused["errors"][0]["reason"]


async def test_an_attached_mail_is_not_passed_on_to_the_customer(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock)
    mails = await last_outbox()
    answer = message_from_bytes(agent_mail(number, "Here is the manual.\n", to=signed_for(rt, number, ANNA),
                                           at=clock.now), policy=policy.default)
    assert isinstance(answer, EmailMessage)
    answer.add_attachment(b"%PDF-1.4 manual", maintype="application", subtype="pdf", filename="manual.pdf")
    inner = message_from_bytes(b"From: support@example.com\r\nSubject: [#1000] internal\r\n\r\nTier: vip\r\n",
                               policy=policy.default)
    answer.add_attachment(inner)  # Outlook's "attach the original message"

    assert await ingest(rt, answer.as_bytes()) == number

    [relayed] = [r for r in await outbox_since(mails) if r.template == "agent_reply"]
    files = [part.get_filename() for part in parsed(relayed).iter_attachments()]
    assert files == ["manual.pdf"]
    assert b"Tier: vip" not in bytes(relayed.raw_message)
