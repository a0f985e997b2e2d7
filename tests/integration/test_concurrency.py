"""Several deliveries at once (concurrent SMTP sessions, an IMAP poller) on one database."""

import asyncio

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import ProcessResult
from mailhelpdesk.store.models import Company, Contact, Inbound, Message, Ticket

from .mails import mail, redelivered


def known_race(request: pytest.FixtureRequest, engines: tuple[str, ...], reason: str) -> None:
    """Package bug (reported): a unique-key race between concurrent pipelines is not retried, so the
    loser is quarantined (or raises) instead of being processed normally. Timing-dependent, hence
    not strict; remove the call once the pipeline retries on IntegrityError."""
    if request.node.callspec.params["database_url"] in engines:
        request.applymarker(pytest.mark.xfail(strict=False, reason=f"package bug: {reason}"))


async def receive_all(rt: Runtime, raws: list[bytes]) -> list[ProcessResult | BaseException | None]:
    return list(await asyncio.gather(*(rt.intake.receive("support", raw, "smtp") for raw in raws),
                                     return_exceptions=True))


def states(results: list[ProcessResult | BaseException | None]) -> list[str]:
    return sorted(repr(r) if isinstance(r, BaseException) else "none" if r is None else r.state.value
                  for r in results)


async def test_concurrent_new_mails_get_distinct_ticket_numbers(rt: Runtime, request: pytest.FixtureRequest) -> None:
    known_race(request, ("postgres",), "ticket number clash retried only 5 times")
    raws = [mail(f"Request {i}", sender=f"user{i}@gmail.com") for i in range(8)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 8
    numbers = sorted(r.ticket_number for r in results if isinstance(r, ProcessResult) and r.ticket_number)
    assert numbers == list(range(1000, 1008))


async def test_concurrent_first_mails_from_a_new_company(rt: Runtime, request: pytest.FixtureRequest) -> None:
    known_race(request, ("postgres",), "auto-created company name clash")
    raws = [mail(f"Request {i}", sender=f"user{i}@initech.io") for i in range(4)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 4
    assert await Company.all().count() == 1
    assert await Ticket.filter(company__name="initech.io").count() == 4


async def test_concurrent_first_mails_from_a_new_contact(rt: Runtime, request: pytest.FixtureRequest) -> None:
    known_race(request, ("postgres",), "new contact email clash")
    raws = [mail(f"Request {i}", sender="Ann <ann@gmail.com>") for i in range(4)]

    results = await receive_all(rt, raws)

    assert states(results) == ["ingested"] * 4
    assert await Contact.all().count() == 1


async def test_the_same_bytes_delivered_twice_at_once_are_stored_once(
    rt: Runtime, request: pytest.FixtureRequest
) -> None:
    known_race(request, ("sqlite", "postgres"), "Repository.accept is check-then-insert")
    raw = mail()

    results = await receive_all(rt, [raw, raw])

    assert states(results) in (["ingested", "none"], ["ingested", "ingested"])
    assert await Inbound.all().count() == 1
    assert await Message.all().count() == 1


async def test_the_same_message_via_two_routes_at_once_is_stored_once(
    rt: Runtime, request: pytest.FixtureRequest
) -> None:
    known_race(request, ("postgres",), "message_id clash quarantined, not a duplicate")
    raw = mail()

    results = await receive_all(rt, [redelivered(raw, "mx1.example.com"), redelivered(raw, "mx2.example.com")])

    assert states(results) == ["duplicate", "ingested"]
    assert await Message.all().count() == 1
    assert await Inbound.filter(state=InboundState.QUARANTINED.value).count() == 0
