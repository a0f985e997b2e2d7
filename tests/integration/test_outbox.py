"""The outbox on real tickets: what a change queues, in its own transaction, and what the brakes stop."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.store.models import Event, Message, Outbox, Rating, ServiceFlag, Ticket, TicketTimer

from .mails import Clock, agent_reply, ingest, mail, receive, reply_to

BOXES = [
    {"name": "support", "address": "support@example.com", "team": "dispatch"},
    {"name": "billing", "address": "billing@example.com", "team": "billing"},
]
AGENT = "agent@desk.example"
RULES = f"""
teams:
  dispatch: {{line: 1, members: [{AGENT}, second@desk.example]}}
  billing: {{line: 2, members: [maria@desk.example], address: billing-team@desk.example}}
replies:
  close_after_days: 2
rules:
  - name: Needs information
    on: ticket_created
    when: {{subject: {{contains: "need info"}}}}
    then: {{status: pending}}
  - name: Reminder
    on: {{pending_for: 2d}}
    then: {{template: reminder}}
  - name: Agent solves
    on: agent_replied
    when: {{reply_text: {{contains: solved}}}}
    then: {{status: resolved, assignee: {AGENT}}}
  - name: Billing hears of it
    on: customer_replied
    when: {{reply_text: {{contains: "still broken"}}}}
    then: {{notify: billing}}
"""
PLAIN_RULES = "rules: []\n"  # no teams: a new ticket queues just the acknowledgement
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ANN = "Ann Example <ann@acme.com>"


Boot = Callable[..., AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY_10)


def booter(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path, clock: Clock) -> Boot:
    @asynccontextmanager
    async def start(rules: str = RULES, **overrides: Any) -> AsyncIterator[Runtime]:
        path = tmp_path / "rules.yaml"
        path.write_text(rules)
        settings = make_settings(database_url, tmp_path, mailboxes=BOXES, rules_file=path, **overrides)
        async with running(settings, clock=clock) as runtime:
            yield runtime

    return start


@pytest.fixture
def boot(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path, clock: Clock) -> Boot:
    """``async with boot(rules=..., **settings) as rt``: a runtime on the test's clock and database."""
    return booter(make_settings, database_url, tmp_path, clock)


@pytest.fixture
async def rt(boot: Boot) -> AsyncIterator[Runtime]:
    async with boot() as runtime:
        yield runtime


# --- helpers -------------------------------------------------------------------------------------


async def outbox(number: int | None = None, **filters: Any) -> list[Outbox]:
    if number is not None:
        filters["ticket__number"] = number
    return await Outbox.filter(**filters).order_by("id")


def summary(rows: list[Outbox]) -> list[tuple[str, str, str]]:
    return [(r.template, r.recipient, r.status) for r in rows]


def parsed(row: Outbox) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(bytes(row.raw_message), policy=policy.default))


def message_id_of(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Message-ID"])


async def events(kind: str, number: int | None = None) -> list[Event]:
    query = Event.filter(kind=kind)
    if number is not None:
        query = query.filter(ticket__number=number)
    return await query.order_by("id")


async def new_ticket(rt: Runtime, clock: Clock, subject: str = "Printer on floor 3 is broken",
                     sender: str = ANN, **kwargs: Any) -> tuple[int, bytes]:
    raw = mail(subject, sender=sender, date=clock.now, **kwargs)
    return await ingest(rt, raw, kwargs.get("to", "support@example.com").partition("@")[0]), raw


async def resolved_ticket(rt: Runtime, clock: Clock) -> tuple[int, bytes, datetime]:
    """A ticket an agent resolved at MONDAY_10 + 1h; its raw first mail and its auto-close moment."""
    number, raw = await new_ticket(rt, clock)
    clock.now = MONDAY_10 + HOUR
    await ingest(rt, agent_reply(rt, raw, number, AGENT, "New toner cartridge: solved.\n", clock.now))
    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.assignee) == ("resolved", AGENT)
    timer = await TicketTimer.get(ticket_id=ticket.id, event="auto_close", fired_at=None)
    return number, raw, timer.due_at


async def closed_ticket(rt: Runtime, clock: Clock) -> tuple[int, bytes]:
    number, raw, close_at = await resolved_ticket(rt, clock)
    clock.now = close_at
    assert await rt.timers.run(close_at) == {"auto_close": 1}
    assert (await Ticket.get(number=number)).status == "closed"
    return number, raw


# --- a new ticket --------------------------------------------------------------------------------


async def test_a_new_ticket_queues_one_acknowledgement_and_tells_each_team_member(rt: Runtime,
                                                                                 clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock)

    rows = await outbox(number)
    assert summary(rows) == [("acknowledgement", "ann@acme.com", "queued"),
                             ("agent_new_ticket", AGENT, "queued"),
                             ("agent_new_ticket", "second@desk.example", "queued")]
    ack = rows[0]
    assert (ack.audience, ack.automatic, ack.cause, ack.mailbox, ack.sender) == (
        "customer", True, "ticket_created", "support", "support@example.com")
    assert (ack.attempts, ack.next_attempt_at, ack.created_at) == (0, MONDAY_10, MONDAY_10)

    head = parsed(ack)
    assert f"[#{number}]" in str(head["Subject"]) and ack.subject == str(head["Subject"])
    assert str(head["Auto-Submitted"]) == "auto-replied"
    assert str(head["In-Reply-To"]) == message_id_of(raw)
    assert message_id_of(raw) in str(head["References"]).split()
    assert head["To"].addresses[0].addr_spec == "ann@acme.com"
    assert head["From"].addresses[0].addr_spec == "support@example.com"
    reply_address = head["Reply-To"].addresses[0].addr_spec
    assert rt.signer.ticket_from_reply_address(reply_address) == number
    message_id = str(head["Message-ID"]).strip("<>")
    assert message_id == ack.message_id
    assert rt.signer.ticket_from_message_id(message_id) == number
    assert head.get_body(("plain",)) is not None

    agent_mail = parsed(rows[1])
    assert str(agent_mail["Auto-Submitted"]) == "auto-generated"
    assert rt.signer.ticket_from_message_id(str(agent_mail["Message-ID"]).strip("<>")) == number

    ours = await Message.filter(ticket__number=number, direction="out")
    assert [(m.message_id, m.flags["outbox"], m.from_addr) for m in ours] == [
        (ack.message_id, ack.id, "support@example.com")]  # the agents' mail is not part of the thread
    queued = await events("mail.queued", number)
    assert [(e.data["template"], e.data["to"], e.data["outbox"]) for e in queued] == [
        (r.template, r.recipient, r.id) for r in rows]


async def test_a_team_with_an_address_gets_one_mail_there(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock, "Invoice is wrong", to="billing@example.com")

    rows = await outbox(number)
    assert summary(rows) == [("acknowledgement", "ann@acme.com", "queued"),
                             ("agent_new_ticket", "billing-team@desk.example", "queued")]
    head = parsed(rows[0])
    assert head["From"].addresses[0].addr_spec == "billing@example.com"
    assert rt.signer.ticket_from_reply_address(head["Reply-To"].addresses[0].addr_spec) == number


async def test_mail_is_queued_in_the_transaction_of_its_change(rt: Runtime, clock: Clock,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    number, raw = await new_ticket(rt, clock)
    before = summary(await outbox(number))
    original = rt.repo.event

    async def failing(kind: str, data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if kind == "message.customer_reply":  # after the notifier queued the mail for the reply
            raise RuntimeError("disk on fire")
        await original(kind, data, *args, **kwargs)

    monkeypatch.setattr(rt.repo, "event", failing)
    clock.now = MONDAY_10 + HOUR
    result = await receive(rt, reply_to(raw, body="It is still broken.\n", date=clock.now))

    assert (result.state, result.step) == (InboundState.QUARANTINED, "persist")
    assert summary(await outbox(number)) == before
    assert await Outbox.filter(template="agent_notify").count() == 0
    assert [e.data["template"] for e in await events("mail.queued", number)] == [t for t, _, _ in before]
    assert await Message.filter(ticket__number=number).count() == 2  # the first mail and our acknowledgement

    monkeypatch.undo()  # the fault is fixed: the quarantined reply runs again and queues its mail once
    assert await rt.repo.requeue([result.inbound_id]) == 1
    again = await rt.pipeline.process(result.inbound_id)
    assert again.state is InboundState.INGESTED
    assert summary(await outbox(number, template="agent_notify")) == [
        ("agent_notify", "billing-team@desk.example", "queued")]


# --- what is not sent ----------------------------------------------------------------------------


async def test_a_mail_without_message_id_is_answered_without_pointing_at_an_id_we_made_up(
        rt: Runtime, clock: Clock) -> None:
    raw = b"\r\n".join(line for line in mail("No id", sender=ANN, date=clock.now).split(b"\n")
                        if not line.startswith(b"Message-ID:"))
    number = await ingest(rt, raw)
    [ack] = await outbox(number, template="acknowledgement")
    headers = parsed(ack)
    assert headers["In-Reply-To"] is None and headers["References"] is None
    assert "[#" in str(headers["Subject"])


async def test_old_mail_gets_no_automatic_answer(rt: Runtime, clock: Clock) -> None:
    old = MONDAY_10 - 25 * HOUR
    number = await ingest(rt, mail("Printer from yesterday", sender=ANN, date=old))

    assert await outbox(number) == []  # an import leaves the outbox clean: the events tell what was not sent
    reason = "caused by mail of 2026-11-22 09:00 UTC, older than 24 hours"
    suppressed = await events("mail.suppressed", number)
    assert [(e.data["template"], e.data["reason"]) for e in suppressed] == [
        ("acknowledgement", reason), ("agent_new_ticket", reason)]  # one event per mail, to all its people
    assert suppressed[0].data["to"] == "the requester" and len(suppressed[1].data["to"]) == 2
    assert await Message.filter(ticket__number=number, direction="out").count() == 0

    recent = await ingest(rt, mail("Printer this morning", sender="bob@acme.com", date=MONDAY_10 - 24 * HOUR))
    assert {r.status for r in await outbox(recent)} == {"queued"}  # 24 hours is not older than 24 hours


async def test_no_automatic_mail_to_a_machine_address(rt: Runtime, clock: Clock) -> None:
    number, _ = await new_ticket(rt, clock, sender="Shop <noreply@acme.com>")

    rows = await outbox(number)
    assert summary(rows) == [("acknowledgement", "noreply@acme.com", "suppressed"),
                             ("agent_new_ticket", AGENT, "queued"),
                             ("agent_new_ticket", "second@desk.example", "queued")]
    assert rows[0].reason == "noreply@acme.com is a machine address that reads no mail"
    [event] = await events("mail.suppressed", number)
    assert event.data["reason"] == rows[0].reason


@pytest.mark.parametrize("sender", ["Support <support@example.com>", "billing@example.com"])
async def test_mail_from_our_own_mailbox_makes_no_ticket_and_no_mail(rt: Runtime, clock: Clock,
                                                                     sender: str) -> None:
    result = await receive(rt, mail("Printer on floor 3 is broken", sender=sender, date=clock.now))

    assert (result.state, result.step) == (InboundState.IGNORED, "loop")
    assert await Ticket.all().count() == 0
    assert await Outbox.all().count() == 0


async def test_the_per_recipient_limit_suppresses_the_excess(boot: Boot, clock: Clock) -> None:
    async with boot(PLAIN_RULES, outbox={"per_recipient_hourly": 3}) as rt:
        numbers = [(await new_ticket(rt, clock, f"Problem number {i}"))[0] for i in range(5)]
        clock.now = MONDAY_10 + HOUR  # the hour has passed
        later, _ = await new_ticket(rt, clock, "Problem number 5")

        statuses = [[r.status for r in await outbox(n)] for n in numbers]
        assert statuses == [["queued"], ["queued"], ["queued"], ["suppressed"], ["suppressed"]]
        reason = "rate limit: 3 automatic mails an hour to ann@acme.com"
        suppressed = await events("mail.suppressed")
        assert [(e.data["to"], e.data["reason"]) for e in suppressed] == [("ann@acme.com", reason)] * 2
        assert [r.status for r in await outbox(later)] == ["queued"]


async def test_the_per_ticket_limit_suppresses_the_excess(boot: Boot, clock: Clock) -> None:
    async with boot(outbox={"per_ticket_hourly": 2}) as rt:
        number, _ = await new_ticket(rt, clock)

        assert summary(await outbox(number)) == [("acknowledgement", "ann@acme.com", "queued"),
                                                 ("agent_new_ticket", AGENT, "queued"),
                                                 ("agent_new_ticket", "second@desk.example", "suppressed")]
        [event] = await events("mail.suppressed", number)
        assert event.data["reason"] == "rate limit: 2 automatic mails an hour about this ticket"


async def lone_request(rt: Runtime, clock: Clock, i: int) -> Outbox:
    """A new ticket from its own sender (no per-recipient limit bites): its one acknowledgement."""
    number, _ = await new_ticket(rt, clock, f"Request {i}", sender=f"user{i}@acme.com")
    [row] = await outbox(number)
    return row


async def test_the_breaker_holds_automatic_mail_until_an_admin_decides(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path, clock: Clock
) -> None:
    async with booter(make_settings, database_url, tmp_path, clock)(PLAIN_RULES, outbox={"breaker_limit": 4}) as rt:
        assert [(await lone_request(rt, clock, i)).status for i in range(4)] == ["queued"] * 4
        fifth, sixth = await lone_request(rt, clock, 4), await lone_request(rt, clock, 5)
        assert (fifth.status, fifth.reason) == ("held", "4 automatic mails in 10 minutes: automatic mail paused")
        assert (sixth.status, sixth.reason) == ("held", "the outbox breaker is tripped")
        assert fifth.raw_message and message_id_of(bytes(fifth.raw_message)).strip("<>") == fifth.message_id
        [tripped] = await events("outbox.breaker_tripped")
        assert tripped.data["reason"] == fifth.reason and tripped.data["to"] == "user4@acme.com"
        assert len(await events("mail.held")) == 2
        assert await rt.outbox.breaker_tripped() == fifth.reason

        clock.now = MONDAY_10 + timedelta(minutes=5)
        assert await rt.outbox.reset_breaker(True, clock.now) == 2
        assert await rt.outbox.breaker_tripped() == ""
        released = await Outbox.filter(id__in=[fifth.id, sixth.id]).order_by("id")
        assert [(r.status, r.reason, r.next_attempt_at) for r in released] == [("queued", "", clock.now)] * 2
        assert await rt.outbox.due(clock.now, 100) == [r.id for r in await outbox()]


async def test_after_a_resume_the_breaker_counts_only_new_mail(boot: Boot, clock: Clock) -> None:
    async with boot(PLAIN_RULES, outbox={"breaker_limit": 4}) as rt:
        assert [(await lone_request(rt, clock, i)).status for i in range(6)] == ["queued"] * 4 + ["held"] * 2
        clock.now = MONDAY_10 + timedelta(minutes=5)
        assert await rt.outbox.reset_breaker(True, clock.now) == 2
        assert await rt.outbox.breaker_resumed_at() == clock.now

        # Six mails are still in the window, but the admin has looked at them: the breaker counts
        # afresh from the resume, so four more go out and only the fifth new one trips it again.
        assert [(await lone_request(rt, clock, i)).status for i in range(6, 10)] == ["queued"] * 4
        again = await lone_request(rt, clock, 10)
        assert (again.status, again.reason) == ("held", "4 automatic mails in 10 minutes: automatic mail paused")
        assert len(await events("outbox.breaker_tripped")) == 2

        # This time the admin discards; mail flows again at once, counted from this resume.
        clock.now += timedelta(minutes=1)
        assert await rt.outbox.reset_breaker(False, clock.now) == 1
        discarded = await Outbox.get(id=again.id)
        assert (discarded.status, discarded.reason) == ("suppressed", "held by the breaker, discarded by an admin")
        assert (await lone_request(rt, clock, 11)).status == "queued"
        assert [r.status for r in await outbox()] == ["queued"] * 10 + ["suppressed", "queued"]


async def test_a_tripped_breaker_holds_mail_until_it_is_released_or_discarded(rt: Runtime,
                                                                             clock: Clock) -> None:
    await ServiceFlag.create(name="outbox_breaker", value="tripped by another process", changed_at=clock.now)

    number, _ = await new_ticket(rt, clock)
    rows = await outbox(number)
    assert {(r.status, r.reason) for r in rows} == {("held", "the outbox breaker is tripped")}
    assert all(r.raw_message for r in rows)  # composed: ready to go the moment an admin releases it
    assert len(await events("mail.held", number)) == 3
    assert await events("outbox.breaker_tripped") == []  # this process did not trip it
    assert await rt.outbox.due(clock.now, 100) == []

    clock.now += timedelta(minutes=5)
    assert await rt.outbox.reset_breaker(True, clock.now) == 3
    assert [(r.status, r.next_attempt_at) for r in await outbox(number)] == [("queued", clock.now)] * 3
    assert await rt.outbox.due(clock.now, 100) == [r.id for r in rows]

    await ServiceFlag.create(name="outbox_breaker", value="tripped again", changed_at=clock.now)
    other, _ = await new_ticket(rt, clock, "Scanner is broken", sender="bob@acme.com")
    assert {r.status for r in await outbox(other)} == {"held"}
    assert await rt.outbox.reset_breaker(False, clock.now) == 3
    assert {(r.status, r.reason) for r in await outbox(other)} == {
        ("suppressed", "held by the breaker, discarded by an admin")}
    assert {r.status for r in await outbox(number)} == {"queued"}
    assert await rt.outbox.breaker_tripped() == ""


# --- rules and the ticket's life -----------------------------------------------------------------


async def test_a_rule_template_goes_out_when_a_pending_for_timer_fires(rt: Runtime, clock: Clock) -> None:
    number, raw = await new_ticket(rt, clock, "need info: which printer?")
    assert (await Ticket.get(number=number)).status == "pending"
    assert await outbox(number, template="reminder") == []

    clock.now = MONDAY_10 + 48 * HOUR
    assert await rt.timers.run(clock.now - timedelta(seconds=1)) == {}
    assert await rt.timers.run(clock.now) == {"pending_for": 1}
    assert await rt.timers.run(clock.now + HOUR) == {}

    [reminder] = await outbox(number, template="reminder")
    assert (reminder.recipient, reminder.status, reminder.cause, reminder.created_at) == (
        "ann@acme.com", "queued", "pending_for", clock.now)
    head = parsed(reminder)
    assert str(head["Auto-Submitted"]) == "auto-generated"  # it answers no mail of the customer
    assert str(head["In-Reply-To"]) == message_id_of(raw)
    assert f"[#{number}]" in str(head["Subject"])
    event = (await events("mail.queued", number))[-1]
    assert (event.data["template"], event.data["rule"], event.data["on"]) == ("reminder", "Reminder", "pending_for")
    assert await Message.filter(ticket__number=number, direction="out", message_id=reminder.message_id).exists()


async def test_a_resolved_ticket_gets_the_closing_request_and_closes_by_itself(rt: Runtime,
                                                                              clock: Clock) -> None:
    number, _, close_at = await resolved_ticket(rt, clock)
    assert close_at == datetime(2026, 11, 26, tzinfo=UTC)  # the end of the second whole day after Monday

    [closing] = await outbox(number, template="closing_request")
    assert (closing.recipient, closing.status, closing.cause) == ("ann@acme.com", "queued", "agent_replied")
    assert await outbox(number, template="closed_survey") == []

    clock.now = close_at
    assert await rt.timers.run(close_at - timedelta(seconds=1)) == {}
    assert await rt.timers.run(close_at) == {"auto_close": 1}

    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.closed_at) == ("closed", close_at)
    [closed] = await events("ticket.auto_closed", number)
    assert closed.data["on"] == "auto_close"
    [survey] = await outbox(number, template="closed_survey")
    assert (survey.recipient, survey.status, survey.cause) == ("ann@acme.com", "queued", "auto_close")
    assert f"[#{number}]" in str(parsed(survey)["Subject"])
    assert await rt.timers.run(close_at + 24 * HOUR) == {}


async def test_a_customer_reply_before_the_close_reopens_and_drops_the_timer(rt: Runtime, clock: Clock) -> None:
    number, raw, close_at = await resolved_ticket(rt, clock)
    before = len(await outbox(number))

    clock.now = MONDAY_10 + 2 * HOUR
    await ingest(rt, reply_to(raw, body="It jams again after ten pages.\n", date=clock.now))

    ticket = await Ticket.get(number=number)
    assert ticket.status == "open"
    assert await events("ticket.reopened", number)
    assert summary((await outbox(number))[before:]) == [("reopened", "ann@acme.com", "queued"),
                                                        ("agent_reopened", AGENT, "queued")]
    assert await TicketTimer.filter(ticket_id=ticket.id, event="auto_close", fired_at=None).count() == 0
    clock.now = close_at
    assert await rt.timers.run(close_at) == {}
    assert (await Ticket.get(number=number)).status == "open"
    assert await outbox(number, template="closed_survey") == []


async def test_a_lone_digit_to_the_survey_is_a_rating_and_the_ticket_stays_closed(rt: Runtime,
                                                                                  clock: Clock) -> None:
    number, raw = await closed_ticket(rt, clock)
    queued = len(await outbox(number))

    clock.now += HOUR
    assert (await ingest(rt, reply_to(raw, body="4\n", date=clock.now))) == number

    ticket = await Ticket.get(number=number)
    assert ticket.status == "closed"
    rating = await Rating.get(ticket_id=ticket.id)
    assert (rating.score, rating.source, rating.agent, rating.line, rating.team, rating.company_id) == (
        4, "reply", AGENT, ticket.line, ticket.team, ticket.company_id)
    assert (rating.agent, rating.team) == (AGENT, "dispatch")
    [received] = await events("rating.received", number)
    assert received.data == {"score": 4, "source": "reply"}
    assert await events("ticket.reopened", number) == []
    assert len(await outbox(number)) == queued  # nothing to tell anyone


async def test_a_digit_with_more_words_is_a_reply_that_reopens(rt: Runtime, clock: Clock) -> None:
    number, raw = await closed_ticket(rt, clock)
    queued = len(await outbox(number))

    clock.now += HOUR
    await ingest(rt, reply_to(raw, body="4 but the printer is broken again\n", date=clock.now))

    ticket = await Ticket.get(number=number)
    assert ticket.status == "open"
    assert await Rating.filter(ticket_id=ticket.id).count() == 0
    assert await events("rating.received", number) == []
    [reopened] = await events("ticket.reopened", number)
    assert reopened.data == {"from": "closed", "to": "open"}
    assert summary((await outbox(number))[queued:]) == [("reopened", "ann@acme.com", "queued"),
                                                        ("agent_reopened", AGENT, "queued")]


async def test_a_broken_template_fails_its_mail_but_not_the_customers(boot: Boot, clock: Clock,
                                                                      tmp_path: Path) -> None:
    admin = tmp_path / "admin"
    (admin / "email" / "en").mkdir(parents=True)
    (admin / "email" / "en" / "acknowledgement.txt.j2").write_text("Hello {{ nope }}\n")

    async with boot(templates_dir=admin) as rt:
        result = await receive(rt, mail("Printer on floor 3 is broken", sender=ANN, date=clock.now))

        assert result.state is InboundState.INGESTED and result.ticket_number is not None
        number = result.ticket_number
        rows = await outbox(number)
        assert summary(rows) == [("acknowledgement", "ann@acme.com", "failed"),
                                 ("agent_new_ticket", AGENT, "queued"),
                                 ("agent_new_ticket", "second@desk.example", "queued")]
        assert rows[0].reason.startswith("template error: ") and "nope" in rows[0].reason
        assert rows[0].raw_message == b""
        [failed] = await events("mail.failed", number)
        assert (failed.data["template"], failed.data["reason"]) == ("acknowledgement", rows[0].reason)
        assert await Message.filter(ticket__number=number, direction="in").count() == 1
        assert await Message.filter(ticket__number=number, direction="out").count() == 0
