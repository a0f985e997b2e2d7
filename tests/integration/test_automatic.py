"""Auto-replies and bounces never create or reopen tickets; related ones become internal notes.
Mail that only looks automated, or whose sender our receiving server found forged, makes or joins
a ticket, but is answered by no one and reopens nothing. Forged senders of one domain are
stopped at that domain's limit, before the breaker that would hold everyone's mail."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.explain import explain_ticket
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.types import InboundState, TicketStatus, Visibility
from mailhelpdesk.store.models import Contact, Event, Inbound, Message, Outbox, Ticket

from .conftest import MAILBOXES
from .mails import (
    Clock,
    bounce,
    event_kinds,
    inbound,
    ingest,
    mail,
    messages_of,
    our_reply,
    out_of_office,
    receive,
    ticket,
)

UNRELATED_AUTOMATIC = {
    "out-of-office": out_of_office(sender="Olaf <olaf@acme.com>"),
    "vacation (German, X-Autoreply)": mail("Abwesenheitsnotiz: Ihre Anfrage", sender="Olaf <olaf@acme.com>",
                                           headers={"X-Autoreply": "yes"}),
    "out-of-office subject and header": mail("Out of Office: Printer", sender="Olaf <olaf@acme.com>",
                                             headers={"X-Auto-Response-Suppress": "All"}),
    "list manager": mail("Your message to Dev awaits moderator approval", sender="dev-owner@lists.acme.com",
                         body="Post by non-member to a members-only list\n"),
    "bounce": bounce(mail("Hello", sender="Support <support@example.com>", to="nobody@acme.com")),
}


@pytest.mark.parametrize("raw", UNRELATED_AUTOMATIC.values(), ids=UNRELATED_AUTOMATIC.keys())
async def test_unrelated_automatic_mail_is_ignored_with_a_reason(rt: Runtime, raw: bytes) -> None:
    result = await receive(rt, raw)

    assert result.state is InboundState.IGNORED
    assert result.step == "thread_match"
    assert "not related to any ticket" in result.reason
    row = await inbound(result)
    assert (row.state, row.reason) == (InboundState.IGNORED.value, result.reason)
    assert row.flags.get("auto_reply") or row.flags.get("bounce")
    assert await Ticket.all().count() == 0
    assert await Message.filter(direction="in").count() == 0
    assert await Contact.all().count() == 0  # a robot is not a customer


@pytest.mark.parametrize("how", ["signed", "stored"])
async def test_bounce_of_our_ticket_mail_is_an_internal_note(rt: Runtime, how: str) -> None:
    first = mail()
    number = await ingest(rt, first)
    returned = our_reply(rt, number) if how == "signed" else first
    before = (await ticket(number)).updated_at

    result = await receive(rt, bounce(returned))

    assert (result.state, result.automatic, result.ticket_number) == (InboundState.INGESTED, "bounce", number)
    assert not result.created_ticket
    note = (await messages_of(number))[-1]
    assert note.visibility == Visibility.INTERNAL.value
    assert note.flags["bounce"] and note.from_addr == "mailer-daemon@mx.acme.com"
    assert "message.bounce" in await event_kinds(number)
    after = await ticket(number)
    assert (after.status, after.updated_at) == (TicketStatus.NEW.value, before)
    assert await Ticket.all().count() == 1
    assert not await Contact.filter(email="mailer-daemon@mx.acme.com").exists()


async def test_out_of_office_reply_to_our_mail_is_an_internal_note(rt: Runtime) -> None:
    number = await ingest(rt, mail())
    ours = rt.signer.message_id(number, "example.com")

    result = await receive(rt, out_of_office(in_reply_to=f"<{ours}>"))

    assert (result.state, result.automatic, result.ticket_number) == (InboundState.INGESTED, "auto_reply", number)
    note = (await messages_of(number))[-1]
    assert note.visibility == Visibility.INTERNAL.value
    assert note.flags["auto_reply"].startswith("Auto-Submitted")
    kinds = await event_kinds(number)
    assert "message.auto_reply" in kinds and "message.customer_reply" not in kinds


@pytest.mark.parametrize("status", [TicketStatus.CLOSED, TicketStatus.RESOLVED, TicketStatus.PENDING])
async def test_auto_reply_does_not_reopen_or_touch_the_ticket(rt: Runtime, status: TicketStatus) -> None:
    first = mail()
    number = await ingest(rt, first)
    await Ticket.filter(number=number).update(status=status.value)
    first_id = (await messages_of(number))[0].message_id

    result = await receive(rt, out_of_office(in_reply_to=f"<{first_id}>"))

    assert result.ticket_number == number and not result.created_ticket
    assert (await ticket(number)).status == status.value
    assert "ticket.reopened" not in await event_kinds(number)
    assert await Ticket.all().count() == 1


async def test_auto_reply_with_a_subject_token_from_a_stranger_is_ignored(rt: Runtime) -> None:
    number = await ingest(rt, mail())

    result = await receive(rt, out_of_office(sender="bot@globex.example",
                                             subject=f"Automatic reply: [#{number}] Printer"))

    assert result.state is InboundState.IGNORED
    assert len(await messages_of(number)) == 1


async def test_our_own_mail_coming_back_is_ignored(rt: Runtime) -> None:
    number = await ingest(rt, mail())

    looped = our_reply(rt, number)  # e.g. a customer's server forwarding our own mail back
    result = await receive(rt, looped)

    assert (result.state, result.step) == (InboundState.IGNORED, "loop")
    assert len(await messages_of(number)) == 1
    assert await Event.filter(kind="ticket.created").count() == 1
    assert (await Inbound.get(id=result.inbound_id)).reason.startswith("loop:")


async def test_a_bounce_without_any_sender_address_still_reaches_its_ticket(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)
    original_id = (await messages_of(number))[0].message_id
    raw = (b"Return-Path: <>\r\nFrom: Mail Delivery System <>\r\nTo: support@example.com\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-nosender@mx.acme.com>\r\n"
           b"In-Reply-To: <" + original_id.encode() + b">\r\n\r\nThis is the mail system at host mx.acme.com.\r\n")

    result = await receive(rt, raw)

    assert (result.state, result.automatic, result.ticket_number) == (InboundState.INGESTED, "bounce", number)
    note = (await messages_of(number))[-1]
    assert note.visibility == Visibility.INTERNAL.value and note.from_addr == ""


WEAKLY_AUTOMATED = {
    "precedence bulk": ({"Precedence": "bulk"}, "Precedence: bulk"),
    "google group": ({"List-Id": "<users.googlegroups.com>", "Precedence": "list"},
                     "List-Id: <users.googlegroups.com>"),
    "monitoring": ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
    "empty return path": ({"Return-Path": "<>"}, "empty return path (<>) without a failure report"),
    "auto-reply header alone": ({"X-Autoreply": "yes"}, "X-Autoreply: yes"),
}


@pytest.mark.parametrize(("headers", "signal"), WEAKLY_AUTOMATED.values(), ids=WEAKLY_AUTOMATED.keys())
async def test_mail_that_only_looks_automated_makes_a_ticket_without_an_acknowledgement(
        rt: Runtime, headers: dict[str, str], signal: str) -> None:
    control = await ingest(rt, mail("Scanner jams", sender="Bob <bob@acme.com>"))
    assert await Outbox.filter(template="acknowledgement").count() == 1, "a person's mail is acknowledged"

    result = await receive(rt, mail(headers=headers))

    assert result.state is InboundState.INGESTED and result.created_ticket and result.automatic == ""
    number = result.ticket_number
    assert number is not None and number != control
    assert signal in (await inbound(result)).flags["automated"]
    first = (await messages_of(number))[0]
    assert first.visibility == Visibility.PUBLIC.value and signal in first.flags["automated"]
    assert await Outbox.filter(template="acknowledgement").count() == 1
    suppressed = await Event.filter(kind="mail.suppressed", ticket__number=number)
    assert [e.data["template"] for e in suppressed] == ["acknowledgement"]
    assert suppressed[0].data["reason"].startswith("automated mail: ") and signal in suppressed[0].data["reason"]
    assert await Contact.filter(email="ann@acme.com").exists()
    story = StringIO()
    assert await explain_ticket(story, number)
    line = next(t for t in story.getvalue().splitlines() if "automated mail (no automatic reply, reopens nothing)" in t)
    assert signal in line


@pytest.mark.parametrize("status", [TicketStatus.CLOSED, TicketStatus.RESOLVED, TicketStatus.PENDING])
async def test_mail_that_only_looks_automated_joins_a_ticket_but_does_not_reopen_it(
        rt: Runtime, status: TicketStatus) -> None:
    first = mail()
    number = await ingest(rt, first)
    await Ticket.filter(number=number).update(status=status.value)
    first_id = (await messages_of(number))[0].message_id
    queued = await Outbox.all().count()

    result = await receive(rt, mail("Re: Printer on floor 3 is broken", in_reply_to=f"<{first_id}>",
                                    headers={"Precedence": "list", "List-Id": "<it.lists.acme.com>"}))

    assert (result.ticket_number, result.created_ticket) == (number, False)
    assert (await ticket(number)).status == status.value
    kinds = await event_kinds(number)
    assert "ticket.reopened" not in kinds and "message.automated" in kinds
    reply = (await messages_of(number))[-1]
    assert reply.visibility == Visibility.PUBLIC.value  # the customer's words, shown as theirs
    customer_mail = await Outbox.filter(id__gt=0).exclude(template__startswith="agent_").count()
    assert customer_mail <= queued  # nothing new to the customer


async def test_a_person_replying_to_a_closed_ticket_still_reopens_it(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)
    await Ticket.filter(number=number).update(status=TicketStatus.CLOSED.value)
    first_id = (await messages_of(number))[0].message_id

    await receive(rt, mail("Re: Printer on floor 3 is broken", in_reply_to=f"<{first_id}>"))

    assert (await ticket(number)).status == TicketStatus.OPEN.value
    assert "ticket.reopened" in await event_kinds(number)


async def test_a_bounce_keeps_its_status_code_and_failed_recipient(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)

    await receive(rt, bounce(first))

    event = await Event.get(kind="message.bounce", ticket__number=number)
    assert event.data["status"] == "5.1.1" and event.data["recipients"] == ["ann@acme.com"]
    assert event.data["kind"] == "bounce" and event.data["reason"].startswith("delivery report")
    story = StringIO()
    await explain_ticket(story, number)
    assert "status 5.1.1; for ann@acme.com" in story.getvalue()


# --- senders our receiving server found forged ---------------------------------------------------

Boot = Callable[..., AbstractAsyncContextManager[Runtime]]
BORDER = ("Received: from mail.acme.com (mail.acme.com [192.0.2.7]) by mx.example.com with ESMTPS id 4Xy;"
          " Mon, 23 Nov 2026 10:00:00 +0000")
DMARC_FAILED = "dmarc=fail (p=reject dis=none) header.from=acme.com"
DMARC_REASON = "the sender failed DMARC at mx.example.com (header.from=acme.com)"


@pytest.fixture
def boot(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Boot:
    """``async with boot(rules=..., clock=..., **settings) as rt``: a runtime on the test's database."""
    @asynccontextmanager
    async def start(rules: str | None = None, clock: Clock | None = None,
                    **overrides: Any) -> AsyncIterator[Runtime]:
        if rules is not None:
            overrides["rules_file"] = tmp_path / "rules.yaml"
            overrides["rules_file"].write_text(rules)
        settings = make_settings(database_url, tmp_path, **{"mailboxes": MAILBOXES, **overrides})
        async with running(settings, clock=clock or Clock(datetime.now(UTC))) as runtime:
            yield runtime

    return start


def received_by_us(raw: bytes, results: str, authserv_id: str = "mx.example.com") -> bytes:
    """``raw`` as our receiving server hands it on: its verdict and its Received header on top."""
    return f"Authentication-Results: {authserv_id}; {results}\r\n{BORDER}\r\n".encode() + raw


async def test_a_sender_our_server_failed_in_dmarc_gets_a_ticket_but_no_acknowledgement(boot: Boot) -> None:
    async with boot(authserv_id=["mx2.example.com", "MX.Example.com"]) as rt:
        result = await receive(rt, received_by_us(mail(), DMARC_FAILED))

        assert (result.state, result.created_ticket) == (InboundState.INGESTED, True)
        number = result.ticket_number
        assert number is not None
        [first] = await messages_of(number)
        assert first.visibility == Visibility.PUBLIC.value  # agents see it as the customer's mail
        assert await Outbox.filter(template="acknowledgement").count() == 0
        [suppressed] = await Event.filter(kind="mail.suppressed", ticket__number=number)
        assert (suppressed.data["template"], suppressed.data["reason"]) == ("acknowledgement", DMARC_REASON)
        assert f"{DMARC_REASON}: no automatic mail in answer" in (await inbound(result)).flags["notes"]
        story = StringIO()
        assert await explain_ticket(story, number)
        assert f"mail not sent: acknowledgement to the requester: {DMARC_REASON}" in story.getvalue()


@pytest.mark.parametrize(("configured", "written_by"), [
    ("mx.example.com", "mx.attacker.test"),  # a header anyone could have written
    ("", "mx.example.com"),  # no authserv_id: the headers are not read at all
], ids=["foreign authserv-id", "not configured"])
async def test_the_same_mail_is_acknowledged_when_the_failure_is_not_our_server_s(
        boot: Boot, configured: str, written_by: str) -> None:
    async with boot(authserv_id=configured) as rt:
        number = await ingest(rt, received_by_us(mail(), DMARC_FAILED, written_by))

        assert [r.status for r in await Outbox.filter(template="acknowledgement", ticket__number=number)] == \
            ["queued"]
        assert await Event.filter(kind="mail.suppressed").count() == 0


async def test_a_failed_sender_s_reply_gets_no_rule_template_but_still_reopens_the_ticket(boot: Boot) -> None:
    rules = "rules:\n  - name: Answer every reply\n    on: customer_replied\n    then: {template: reminder}\n"
    async with boot(rules, authserv_id="mx.example.com") as rt:
        first = mail()
        number = await ingest(rt, received_by_us(first, "dmarc=pass header.from=acme.com"))
        first_id = (await messages_of(number))[0].message_id
        reply = mail("Re: Printer on floor 3 is broken", in_reply_to=f"<{first_id}>")
        await ingest(rt, received_by_us(reply, "spf=pass smtp.mailfrom=acme.com"))
        assert await Outbox.filter(template="reminder").count() == 1  # a sender that passed is answered
        await Ticket.filter(number=number).update(status=TicketStatus.RESOLVED.value)

        forged = mail("Re: Printer on floor 3 is broken", in_reply_to=f"<{first_id}>", body="Send it elsewhere.\n")
        result = await receive(rt, received_by_us(forged, "spf=fail smtp.mailfrom=acme.com"))

        assert (result.ticket_number, result.created_ticket) == (number, False)
        assert len(await messages_of(number)) == 3  # joined the ticket: agents read it
        assert await Outbox.filter(template="reminder").count() == 1
        suppressed = await Event.filter(kind="mail.suppressed", ticket__number=number)
        reason = "the sender failed SPF at mx.example.com (smtp.mailfrom=acme.com)"
        assert sorted((e.data["template"], e.data["reason"]) for e in suppressed) == [
            ("reminder", reason), ("reopened", reason)]  # the rule's template and the reopening notice
        # A real customer behind a forwarder that breaks DMARC is still waiting: agents must see it.
        assert (await ticket(number)).status == TicketStatus.OPEN.value
        assert "ticket.reopened" in await event_kinds(number)


# --- the limit per recipient domain --------------------------------------------------------------


async def acknowledgements() -> list[tuple[str, str, str]]:
    rows = await Outbox.filter(template="acknowledgement").order_by("id")
    return [(r.recipient, r.status, r.reason) for r in rows]


async def test_300_forged_senders_of_one_domain_cannot_trip_the_breaker_for_everyone(boot: Boot) -> None:
    async with boot() as rt:  # the default limits: 60 an hour to one domain, 300 in 10 minutes overall
        for i in range(300):
            await ingest(rt, mail(f"Invoice {i}", sender=f"Victim {i} <victim{i}@victim.test>"))
        await ingest(rt, mail("Scanner jams", sender="Bob <bob@globex.test>"))

        acks = await acknowledgements()
        capped = "rate limit: 60 automatic mails an hour to addresses at victim.test"
        assert [(status, reason) for _, status, reason in acks[:300]] == \
            [("queued", "")] * 60 + [("suppressed", capped)] * 240
        assert acks[300] == ("bob@globex.test", "queued", "")  # another customer is still acknowledged
        assert await rt.outbox.breaker_tripped() == ""
        assert await Event.filter(kind="outbox.breaker_tripped").count() == 0


async def test_the_domain_limit_comes_before_the_breaker_and_counts_one_hour(boot: Boot) -> None:
    clock = Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    async with boot(clock=clock, outbox={"per_domain_hourly": 3, "breaker_limit": 5}) as rt:
        for i in range(8):
            await ingest(rt, mail(f"Invoice {i}", sender=f"victim{i}@victim.test"))
        for i in range(2):
            await ingest(rt, mail(f"Question {i}", sender=f"ann{i}@acme.com"))
        assert [status for _, status, _ in await acknowledgements()] == \
            ["queued"] * 3 + ["suppressed"] * 5 + ["queued"] * 2
        assert await rt.outbox.breaker_tripped() == ""

        clock.now += timedelta(hours=1, minutes=1)  # the domain's hour has passed
        await ingest(rt, mail("Invoice 8", sender="victim8@victim.test"))
        assert (await acknowledgements())[-1][:2] == ("victim8@victim.test", "queued")


async def test_free_mail_domains_have_no_domain_limit_but_each_address_keeps_its_own(boot: Boot) -> None:
    async with boot(outbox={"per_domain_hourly": 2, "per_recipient_hourly": 2}) as rt:
        for i in range(5):
            await ingest(rt, mail(f"Question {i}", sender=f"someone{i}@gmail.com"))
        for i in range(3):
            await ingest(rt, mail(f"Again {i}", sender="someone0@gmail.com"))

        assert [status for _, status, _ in await acknowledgements()] == ["queued"] * 6 + ["suppressed"] * 2
        assert (await acknowledgements())[-1][2] == "rate limit: 2 automatic mails an hour to someone0@gmail.com"


async def test_mail_to_agents_has_no_domain_limit(boot: Boot) -> None:
    rules = ("teams:\n  dispatch: {line: 1, members: [a1@desk.example, a2@desk.example, a3@desk.example]}\n"
             "rules: []\n")
    boxes = [{"name": "support", "address": "support@example.com", "team": "dispatch"}]
    async with boot(rules, mailboxes=boxes, outbox={"per_domain_hourly": 1}) as rt:
        await ingest(rt, mail("Printer", sender="ann@acme.com"))
        await ingest(rt, mail("Scanner", sender="bob@acme.com"))

        rows = await Outbox.all().order_by("id")
        assert [(r.recipient, r.status) for r in rows if r.audience == "customer"] == [
            ("ann@acme.com", "queued"), ("bob@acme.com", "suppressed")]
        assert {r.status for r in rows if r.audience == "agent"} == {"queued"}
        assert len([r for r in rows if r.audience == "agent"]) == 6
