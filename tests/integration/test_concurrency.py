"""Several deliveries at once (concurrent SMTP sessions, an IMAP poller) on one database."""

import asyncio

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import ProcessResult
from mailhelpdesk.store.models import Company, Contact, Inbound, Message, Ticket

from .mails import mail, redelivered


async def receive_all(rt: Runtime, raws: list[bytes]) -> list[ProcessResult | BaseException | None]:
    return list(await asyncio.gather(*(rt.intake.receive("support", raw, "smtp") for raw in raws),
                                     return_exceptions=True))


def states(results: list[ProcessResult | BaseException | None]) -> list[str]:
    return sorted(repr(r) if isinstance(r, BaseException) else "none" if r is None else r.state.value
                  for r in results)


async def test_concurrent_new_mails_get_distinct_ticket_numbers(rt: Runtime) -> None:
    raws = [mail(f"Request {i}", sender=f"user{i}@gmail.com") for i in range(8)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 8
    numbers = sorted(r.ticket_number for r in results if isinstance(r, ProcessResult) and r.ticket_number)
    assert numbers == list(range(1000, 1008))


async def test_concurrent_first_mails_from_a_new_company(rt: Runtime) -> None:
    raws = [mail(f"Request {i}", sender=f"user{i}@initech.io") for i in range(4)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 4
    assert await Company.all().count() == 1
    assert await Ticket.filter(company__name="initech.io").count() == 4


async def test_concurrent_first_mails_from_a_new_contact(rt: Runtime) -> None:
    raws = [mail(f"Request {i}", sender="Ann <ann@gmail.com>") for i in range(4)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 4
    assert await Contact.all().count() == 1


async def test_the_same_bytes_delivered_twice_at_once_are_stored_once(
    rt: Runtime
) -> None:
    raw = mail()

    results = await receive_all(rt, [raw, raw])

    assert states(results) in (["ingested", "none"], ["ingested", "ingested"])
    assert await Inbound.all().count() == 1
    assert await Message.filter(direction="in").count() == 1


async def test_the_same_message_via_two_routes_at_once_is_stored_once(
    rt: Runtime
) -> None:
    raw = mail()

    results = await receive_all(rt, [redelivered(raw, "mx1.example.com"), redelivered(raw, "mx2.example.com")])

    assert states(results) == ["duplicate", "ingested"]
    assert await Message.filter(direction="in").count() == 1
    assert await Inbound.filter(state=InboundState.QUARANTINED.value).count() == 0
