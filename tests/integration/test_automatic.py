"""Auto-replies and bounces never create or reopen tickets; related ones become internal notes.
Mail that only looks automated makes or joins a ticket, but is answered by no one and reopens nothing."""

from io import StringIO

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.explain import explain_ticket
from mailhelpdesk.domain.types import InboundState, TicketStatus, Visibility
from mailhelpdesk.store.models import Contact, Event, Inbound, Message, Outbox, Ticket

from .mails import bounce, event_kinds, inbound, ingest, mail, messages_of, our_reply, out_of_office, receive, ticket

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
