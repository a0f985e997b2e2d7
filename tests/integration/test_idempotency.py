"""No mail is processed twice: identical bytes, re-deliveries, reused Message-IDs, export."""

from typing import Any

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.export import export_records
from mailhelpdesk.store.models import Event, Inbound, Message, Ticket

from .mails import bounce, ingest, mail, messages_of, out_of_office, receive, redelivered, reply_to


async def export() -> list[dict[str, Any]]:
    return [record async for record in export_records()]


async def test_the_same_bytes_twice_are_stored_once(rt: Runtime) -> None:
    raw = mail()
    number = await ingest(rt, raw)

    assert await rt.intake.receive("support", raw, "imap:INBOX:17") is None

    assert await Inbound.all().count() == 1
    assert len(await messages_of(number)) == 1
    assert await Ticket.all().count() == 1


async def test_redelivery_with_an_extra_received_header_is_a_duplicate(rt: Runtime) -> None:
    raw = mail()
    number = await ingest(rt, raw)
    original = (await messages_of(number))[0]

    result = await receive(rt, redelivered(raw))

    assert (result.state, result.step) == (InboundState.DUPLICATE, "duplicate")
    assert f"message {original.id}" in result.reason
    assert await Message.filter(direction="in").count() == 1
    assert await Event.filter(kind="message.customer_reply").count() == 0
    assert await Inbound.filter(state=InboundState.DUPLICATE.value).count() == 1


async def test_redelivery_of_a_reply_does_not_add_a_second_message(rt: Runtime) -> None:
    first = mail()
    number = await ingest(rt, first)
    reply = reply_to(first)
    await ingest(rt, reply)

    assert (await receive(rt, redelivered(reply, "mx9.example.net"))).state is InboundState.DUPLICATE
    assert len(await messages_of(number)) == 2


async def test_a_different_message_reusing_a_message_id_gets_a_synthesized_one(rt: Runtime) -> None:
    reused = "<1@localhost>"  # a broken mailer that numbers from 1 on every start
    first = await ingest(rt, mail("Broken scanner", message_id=reused))
    other = mail("Toner is empty", sender="Bob <bob@globex.example>", message_id=reused,
                 body="Completely different content.\n")

    second = await ingest(rt, other)

    assert second != first  # not threaded onto the other message's ticket
    stored = await Message.filter(ticket__number=second, direction="in").get()
    assert stored.message_id.endswith("@synthesized.mailhelpdesk.invalid")
    assert stored.flags["message_id_synthesized"] is True
    assert any("DuplicateMessageId" in d for d in stored.flags["defects"])
    assert await Message.filter(direction="in").count() == 2


async def test_redelivery_of_a_message_with_a_reused_message_id_is_a_duplicate(rt: Runtime) -> None:
    reused = "<1@localhost>"
    await ingest(rt, mail("Broken scanner", message_id=reused))
    other = mail("Toner is empty", sender="Bob <bob@globex.example>", message_id=reused)
    await ingest(rt, other)

    again = await receive(rt, redelivered(other))

    assert again.state is InboundState.DUPLICATE, again
    assert await Message.filter(direction="in").count() == 2


async def test_redelivery_of_a_message_without_message_id_is_a_duplicate(rt: Runtime) -> None:
    raw = b"".join(line + b"\n" for line in mail().splitlines() if not line.startswith(b"Message-ID:"))
    number = await ingest(rt, raw)
    assert (await messages_of(number))[0].message_id.endswith("@synthesized.mailhelpdesk.invalid")

    again = await receive(rt, redelivered(raw))

    assert again.state is InboundState.DUPLICATE, again
    assert await Message.filter(direction="in").count() == 1


async def test_export_is_identical_after_reingesting_everything(rt: Runtime) -> None:
    first = mail(cc="Carla <carla@acme.com>")
    corpus = [
        first,
        reply_to(first, body="More details: it happens on every page.\n"),
        mail("VPN down", sender="Ivan <ivan@yandex.ru>"),
        out_of_office(sender="olaf@globex.example"),  # ignored: a loose inbound record
        mail("Password reset", sender="Ina <ina@initech.io>"),
    ]
    corpus.append(bounce(first))  # an internal note on the first ticket
    for raw in corpus:
        await receive(rt, raw)
    before = await export()
    assert [r["type"] for r in before] == ["ticket"] * 3 + ["inbound"]
    assert [len(r["messages"]) for r in before[:3]] == [4, 2, 2]  # each with our acknowledgement
    assert before[3]["state"] == "ignored"

    for raw in corpus:
        assert await rt.intake.receive("support", raw, "re-ingest") is None
    assert await export() == before

    for raw in corpus:  # re-deliveries: new inbound rows, but no ticket changes
        await receive(rt, redelivered(raw))
    assert [r for r in await export() if r["type"] == "ticket"] == before[:3]
