"""Auto-replies and bounces never create or reopen tickets; related ones become internal notes."""

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import InboundState, TicketStatus, Visibility
from mailhelpdesk.store.models import Contact, Event, Inbound, Message, Ticket

from .mails import bounce, event_kinds, inbound, ingest, mail, messages_of, our_reply, out_of_office, receive, ticket

UNRELATED_AUTOMATIC = {
    "out-of-office": out_of_office(sender="Olaf <olaf@acme.com>"),
    "vacation (German, X-Autoreply)": mail("Abwesenheitsnotiz: Ihre Anfrage", sender="Olaf <olaf@acme.com>",
                                           headers={"X-Autoreply": "yes"}),
    "precedence bulk": mail("Our newsletter", sender="news@acme.com", headers={"Precedence": "bulk"}),
    "mailing list": mail("[dev] weekly", sender="list@lists.acme.com",
                         headers={"List-Id": "<dev.lists.acme.com>"}),
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
