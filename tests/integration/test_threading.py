"""Threading in DESIGN's order of trust, checked on what is stored."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from io import StringIO

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.explain import explain_ticket
from mailhelpdesk.domain.types import ThreadSignal, TicketStatus
from mailhelpdesk.store.models import Event, Message, Outbox, Ticket

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


async def test_subject_fallback_never_crosses_companies(rt: Runtime) -> None:
    acme = await ingest(rt, mail("Invoice question"))

    from_globex = await ingest(rt, mail("Re: Invoice question", sender="Gail <gail@globex.example>"))

    assert from_globex != acme
    assert len(await messages_of(acme)) == 1
    globex_ticket, acme_ticket = await ticket(from_globex), await ticket(acme)
    assert globex_ticket.company is not None and acme_ticket.company is not None
    assert globex_ticket.company.id != acme_ticket.company.id


async def test_a_colleague_answering_without_headers_joins_the_companys_ticket(rt: Runtime) -> None:
    """Bob at the same company answers Ann's request from his own client, which kept only the subject."""
    older = await ingest(rt, mail("Invoice question", date=datetime.now(UTC) - timedelta(days=3)))
    acme = await ingest(rt, mail("Invoice question", sender="Cara <cara@acme.com>"))

    from_colleague = await ingest(rt, mail("RE: Invoice question", sender="Bob <bob@acme.com>"))

    assert from_colleague == acme != older  # the company's most recently active ticket of that subject
    joined = (await messages_of(acme))[-1]
    assert joined.thread_signal == ThreadSignal.SUBJECT_FALLBACK.value and joined.from_addr == "bob@acme.com"
    event = await Event.get(kind="message.customer_reply", ticket__number=acme)
    assert "colleague at" in event.data["detail"] and event.data["confidence"] == "high"


async def test_free_mail_users_sharing_a_subject_are_never_colleagues(rt: Runtime) -> None:
    first = await ingest(rt, mail("Order 5521 not delivered", sender="Ann <ann.k@gmail.com>"))

    other = await ingest(rt, mail("Re: Order 5521 not delivered", sender="Max <max.p@gmail.com>"))

    assert other != first


async def test_a_parent_arriving_after_its_reply_joins_the_replys_ticket(rt: Runtime) -> None:
    """IMAP order and imports deliver a reply before the mail it answers: the parent follows it."""
    parent = mail("Scanner jams", date=datetime.now(UTC) - timedelta(hours=2))
    answer = reply_to(parent, body="It jams on every page now.\n")
    number = await ingest(rt, answer)
    await Ticket.filter(number=number).update(status=TicketStatus.PENDING.value)
    acknowledged = await Outbox.filter(template="acknowledgement").count()

    result = await rt.intake.receive("support", parent, "test")

    assert result is not None and (result.ticket_number, result.created_ticket) == (number, False)
    assert await Ticket.all().count() == 1
    late = (await messages_of(number))[-1]
    assert late.thread_signal == ThreadSignal.REFERENCED_BY.value and late.subject == "Scanner jams"
    assert (await ticket(number)).status == TicketStatus.PENDING.value  # an old mail reopens nothing
    assert await Outbox.filter(template="acknowledgement").count() == acknowledged


async def test_a_parent_found_by_a_later_replys_references_chain(rt: Runtime) -> None:
    root_id, middle_id = new_message_id(), new_message_id()
    number = await ingest(rt, mail("Re: VPN", in_reply_to=middle_id, references=[root_id, middle_id]))

    assert await ingest(rt, mail("VPN", message_id=root_id)) == number
    assert await ingest(rt, mail("Re: VPN", message_id=middle_id, in_reply_to=root_id,
                                 references=[root_id])) == number
    assert await Ticket.all().count() == 1


@pytest.mark.parametrize("prefix", ["Fwd: ", "FW: ", "WG: ", "Пересл: ", "TR: "])
async def test_a_forward_by_someone_else_is_a_new_request_linked_to_the_old_ticket(rt: Runtime,
                                                                                  prefix: str) -> None:
    first = mail("Printer on floor 3 is broken")
    old = await ingest(rt, first)

    # Gmail and Outlook keep the forwarded mail's Message-ID in In-Reply-To/References.
    forward = reply_to(first, sender="Bob <bob@acme.com>", subject=f"{prefix}Printer on floor 3 is broken",
                       body="Same here on floor 5.\n")
    new = await ingest(rt, forward)

    assert new != old
    assert len(await messages_of(old)) == 1
    created = await Event.get(kind="ticket.created", ticket__number=new)
    assert created.data["forwarded_from"] == old
    story = StringIO()
    await explain_ticket(story, new)
    assert f"a forward of #{old} by someone not on it" in story.getvalue()


async def test_a_forward_by_the_requester_stays_on_the_ticket(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)

    assert await ingest(rt, reply_to(first, subject="Fwd: Printer on floor 3 is broken")) == number


async def test_a_forward_with_the_old_mail_attached_is_a_new_request(rt: Runtime) -> None:
    first = mail("Printer on floor 3 is broken")
    old = await ingest(rt, first)
    forward = EmailMessage()
    forward["From"], forward["To"], forward["Subject"] = "Bob <bob@acme.com>", SUPPORT, "Fwd: printer"
    forward["Message-ID"] = new_message_id("bob@acme.com")
    forward.set_content("See the mail below; mine broke too.\n")
    forward.add_attachment(message_from_bytes(first, policy=policy.default))

    new = await ingest(rt, forward.as_bytes())

    assert new != old
    assert (await Event.get(kind="ticket.created", ticket__number=new)).data["forwarded_from"] == old


async def test_a_generic_subject_is_trusted_only_when_it_is_unambiguous(rt: Runtime) -> None:
    """One person reuses "Problem" for different requests: a reply with only the subject joins
    their one fresh "Problem" ticket, but with two of them it opens a new ticket flagged as a
    possible duplicate of the latest, which the panel offers to merge."""
    first = await ingest(rt, mail("Problem", body="The scanner jams.\n"))
    assert await ingest(rt, mail("Re: Problem", body="Still jams.\n")) == first
    second = await ingest(rt, mail("Problem", body="Now the VPN is down.\n"))
    assert second != first

    third = await ingest(rt, mail("Re: Problem", body="Any news?\n"))

    assert third not in (first, second)
    created = await Event.get(kind="ticket.created", ticket__number=third)
    assert created.data["possible_duplicate_of"] == second
    story = StringIO()
    await explain_ticket(story, third)
    assert f"POSSIBLE DUPLICATE of #{second}" in story.getvalue()


async def test_a_generic_subject_on_a_ticket_quiet_for_a_week_is_only_a_possible_duplicate(rt: Runtime) -> None:
    ann = await ingest(rt, mail("Вопрос", date=datetime.now(UTC) - timedelta(days=10)))

    bob = await ingest(rt, mail("Ответ: Вопрос", sender="Bob <bob@acme.com>"))

    assert bob != ann
    assert (await Event.get(kind="ticket.created", ticket__number=bob)).data["possible_duplicate_of"] == ann
    assert await ingest(rt, mail("Ответ: Вопрос", sender="Bob <bob@acme.com>")) == bob  # his own now


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
