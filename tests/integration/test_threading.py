"""Threading in DESIGN's order of trust, checked on what is stored."""

from datetime import UTC, datetime, timedelta

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import ThreadSignal, TicketStatus
from mailhelpdesk.store.models import Message, Ticket

from .mails import SUPPORT, event_kinds, ingest, mail, messages_of, new_message_id, reply_to, ticket

ANN = "Ann Example <ann@acme.com>"


async def test_in_reply_to_threads_onto_the_ticket(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)
    result_number = await ingest(rt, reply_to(first, subject="completely different words"))

    assert result_number == number
    assert await Ticket.all().count() == 1
    stored = await messages_of(number)
    assert [m.thread_signal for m in stored] == [ThreadSignal.NEW.value, ThreadSignal.REFERENCES.value]
    assert "message.customer_reply" in await event_kinds(number)


async def test_references_chain_with_unseen_intermediates_matches_the_root(rt: Runtime) -> None:
    root_id = new_message_id()
    number = await ingest(rt, mail(message_id=root_id))
    # A long discussion among the customer's colleagues that never reached us, then a reply.
    unseen = [new_message_id("colleague@acme.com") for _ in range(3)]
    reply = mail("Re: Re: Re: Printer on floor 3 is broken", sender="Bob <bob@acme.com>",
                 in_reply_to=unseen[-1], references=[root_id, *unseen])

    assert await ingest(rt, reply) == number
    assert (await messages_of(number))[-1].thread_signal == ThreadSignal.REFERENCES.value


async def test_our_signed_message_id_threads_even_if_never_stored(rt: Runtime) -> None:
    number = await ingest(rt, mail())
    ours = rt.signer.message_id(number, "example.com")
    assert not await Message.filter(message_id=ours).exists()

    reply = mail("Something else entirely", in_reply_to=f"<{ours}>")
    assert await ingest(rt, reply) == number
    assert (await messages_of(number))[-1].thread_signal == ThreadSignal.SIGNED_MESSAGE_ID.value


async def test_forged_signed_message_id_is_not_trusted(rt: Runtime) -> None:
    number = await ingest(rt, mail())
    other = await ingest(rt, mail("Another request", sender="Carl <carl@globex.example>"))
    genuine = rt.signer.message_id(number, "example.com")
    forged = genuine.replace(f"mhd.{number}.", f"mhd.{other}.", 1)  # signature of another ticket

    result = await ingest(rt, mail("Let me in", sender="Eve <eve@evil.example.net>", in_reply_to=f"<{forged}>"))
    assert result not in (number, other)
    assert len(await messages_of(other)) == 1


async def test_signed_reply_address_in_to_threads(rt: Runtime) -> None:
    number = await ingest(rt, mail())
    address = rt.signer.reply_address(SUPPORT, number)

    reply = mail("new words, no references", to=address)
    assert await ingest(rt, reply) == number
    assert (await messages_of(number))[-1].thread_signal == ThreadSignal.REPLY_ADDRESS.value


@pytest.mark.parametrize("address", [
    "support+{n}@example.com",  # unsigned
    "support+{n}.aaaaaaaaaaaa@example.com",  # signature of the right shape, wrong value
    "support+{other}.{sig_of_n}@example.com",  # a valid signature moved to another ticket
])
async def test_forged_or_unsigned_plus_address_is_not_trusted(rt: Runtime, address: str) -> None:
    number = await ingest(rt, mail())
    other = await ingest(rt, mail("Another request", sender="Carl <carl@globex.example>"))
    sig_of_n = rt.signer.reply_address(SUPPORT, number).split(".", 1)[1].split("@")[0]
    to = address.format(n=number, other=other, sig_of_n=sig_of_n)

    result = await ingest(rt, mail("Please add me", sender="Eve <eve@evil.example.net>", to=to))
    assert result not in (number, other)
    assert len(await messages_of(number)) == 1
    assert len(await messages_of(other)) == 1


async def test_subject_token_from_requester_cc_and_colleague_is_accepted(rt: Runtime) -> None:
    number = await ingest(rt, mail(cc="Carla Cc <carla@partner.example>"))

    from_requester = mail(f"Update [#{number}]")
    from_cc = mail(f"[#{number}] also affects floor 4", sender="Carla Cc <carla@partner.example>")
    from_colleague = mail(f"Ticket [#{number}] - more info", sender="Bob <bob@eu.acme.com>")
    for raw in (from_requester, from_cc, from_colleague):
        assert await ingest(rt, raw) == number

    stored = await messages_of(number)
    assert [m.thread_signal for m in stored[1:]] == [ThreadSignal.SUBJECT_TOKEN.value] * 3


async def test_subject_token_from_a_stranger_at_another_company_opens_a_new_ticket(rt: Runtime) -> None:
    number = await ingest(rt, mail())

    hijack = mail(f"Re: [#{number}] Printer on floor 3 is broken", sender="Mallory <mallory@globex.example>")
    result = await ingest(rt, hijack)

    assert result != number
    assert len(await messages_of(number)) == 1
    stranger_ticket = await ticket(result)
    assert stranger_ticket.requester.email == "mallory@globex.example"
    assert stranger_ticket.company is not None and stranger_ticket.company.name == "globex.example"


async def test_subject_token_from_a_freemail_stranger_is_rejected(rt: Runtime) -> None:
    number = await ingest(rt, mail(sender="Ann <ann.private@gmail.com>"))

    result = await ingest(rt, mail(f"[#{number}] hello", sender="Mallory <mallory@gmail.com>"))
    assert result != number
    assert len(await messages_of(number)) == 1


@pytest.mark.parametrize("prefix", ["Re: ", "RE: ", "AW: ", "SV: ", "Ответ: ", "回复：", "Re[2]: ", "Re: Fwd: "])
async def test_subject_fallback_with_reply_prefixes_from_the_same_requester(rt: Runtime, prefix: str) -> None:
    number = await ingest(rt, mail("Printer on floor 3 is broken"))

    # No In-Reply-To/References: a client that drops them (or a reply typed from scratch).
    result = await ingest(rt, mail(f"{prefix}Printer on floor 3 is broken"))

    assert result == number
    assert (await messages_of(number))[-1].thread_signal == ThreadSignal.SUBJECT_FALLBACK.value


@pytest.mark.parametrize(("days_ago", "same_ticket"), [(10, True), (45, False)])
async def test_subject_fallback_only_within_the_window(rt: Runtime, days_ago: int, same_ticket: bool) -> None:
    assert rt.settings.subject_match_days == 30
    then = datetime.now(UTC) - timedelta(days=days_ago)
    number = await ingest(rt, mail("Monitor flickers", date=then))

    result = await ingest(rt, mail("Re: Monitor flickers"))

    assert (result == number) is same_ticket


async def test_new_mail_reusing_an_old_subject_is_a_new_ticket(rt: Runtime) -> None:
    number = await ingest(rt, mail("Password reset"))

    assert await ingest(rt, mail("Password reset")) != number
    assert await Ticket.all().count() == 2


async def test_subject_fallback_never_crosses_companies_or_requesters(rt: Runtime) -> None:
    acme = await ingest(rt, mail("Invoice question"))

    from_globex = await ingest(rt, mail("Re: Invoice question", sender="Gail <gail@globex.example>"))
    from_colleague = await ingest(rt, mail("Re: Invoice question", sender="Bob <bob@acme.com>"))

    assert len({acme, from_globex, from_colleague}) == 3
    assert len(await messages_of(acme)) == 1
    globex_ticket, acme_ticket = await ticket(from_globex), await ticket(acme)
    assert globex_ticket.company is not None and acme_ticket.company is not None
    assert globex_ticket.company.id != acme_ticket.company.id


async def test_subject_fallback_ignores_closed_tickets(rt: Runtime) -> None:
    number = await ingest(rt, mail("VPN down"))
    await Ticket.filter(number=number).update(status=TicketStatus.CLOSED.value)

    assert await ingest(rt, mail("Re: VPN down")) != number
    assert (await ticket(number)).status == TicketStatus.CLOSED.value


async def test_customer_reply_reopens_a_closed_ticket(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)
    await Ticket.filter(number=number).update(status=TicketStatus.CLOSED.value)

    result = await rt.intake.receive("support", reply_to(first, body="It broke again.\n"), "test")

    assert result is not None and result.ticket_number == number and not result.created_ticket
    reopened = await ticket(number)
    assert reopened.status == TicketStatus.OPEN.value
    assert reopened.closed_at is None
    assert "ticket.reopened" in await event_kinds(number)
    assert await Ticket.all().count() == 1


async def test_cc_of_a_reply_joins_the_ticket(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)

    await ingest(rt, reply_to(first, cc="Dora Dev <dora@acme.com>, support@example.com"))

    cc = {c.email: c.name for c in (await ticket(number)).cc}
    assert cc == {"dora@acme.com": "Dora Dev"}  # our own address never becomes a contact
    assert "ticket.cc_added" in await event_kinds(number)


async def test_replies_thread_across_mailboxes(rt: Runtime) -> None:
    first = mail(to="billing@example.com")
    number = await ingest(rt, first, mailbox="billing")

    assert (await ticket(number)).mailbox == "billing"
    assert await ingest(rt, reply_to(first), mailbox="support") == number
