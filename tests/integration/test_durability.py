"""No mail is lost: accepted mail survives restarts, failures quarantine and replay, bytes stay exact."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.quarantine import replay
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.outcomes import Outcome
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.intake import Intake
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.runner import Pipeline
from mailhelpdesk.store.models import Company, Contact, Event, Inbound, Message, Ticket

from .conftest import MAILBOXES
from .mails import ingest, mail, messages_of, receive


@dataclass(frozen=True, slots=True)
class ExplodingStep:
    """A step with a bug (or a dependency that is down)."""

    name: str = "explode"

    async def run(self, ctx: MailContext) -> Outcome:
        raise RuntimeError("disk on fire")


def broken_intake(rt: Runtime, position: int | None = None) -> Intake:
    """The runtime's own intake with ``ExplodingStep`` inserted (default: after every real step)."""
    steps = list(rt.pipeline.steps)
    steps.insert(len(steps) if position is None else position, ExplodingStep())
    pipeline = Pipeline(tuple(steps), rt.repo, rt.pipeline.mailboxes, rt.pipeline.clock)
    return Intake(rt.repo, pipeline, rt.intake.clock)


async def test_accepted_but_unprocessed_mail_is_completed_by_recover_after_restart(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, mailboxes=MAILBOXES)
    raws = [mail("Server room too hot"), mail("Badge does not open door 2", sender="Bob <bob@acme.com>")]
    async with running(settings) as rt:
        accepted = [await rt.intake.accept("support", raw, "smtp") for raw in raws]
        assert [created for _, created in accepted] == [True, True]
        # ... and then the process dies before the pipeline ran.
    async with running(settings) as rt:
        assert await Inbound.filter(state=InboundState.ACCEPTED.value).count() == 2

        results = await rt.intake.recover()

        assert [r.inbound_id for r in results] == [i for i, _ in accepted]
        assert all(r.state is InboundState.INGESTED and r.created_ticket for r in results)
        assert await Ticket.all().count() == 2
        assert await Inbound.filter(state=InboundState.ACCEPTED.value).count() == 0
        assert await rt.intake.recover() == []  # nothing left, nothing done twice
        assert await Message.filter(direction="in").count() == 2


async def test_accepting_the_same_pending_bytes_again_processes_them_once(rt: Runtime) -> None:
    raw = mail()
    inbound_id, _ = await rt.intake.accept("support", raw, "imap:INBOX:5")

    result = await rt.intake.receive("support", raw, "imap:INBOX:5")  # re-fetched after a crash

    assert result is not None and result.inbound_id == inbound_id and result.state is InboundState.INGESTED
    assert await rt.intake.recover() == []
    assert await Message.filter(direction="in").count() == 1


async def test_exception_in_a_step_quarantines_and_rolls_back_everything(rt: Runtime) -> None:
    raw = mail(sender="Ina <ina@initech.io>", cc="Carl <carl@globex.example>")

    result = await broken_intake(rt).receive("support", raw, "smtp")

    assert result is not None
    assert (result.state, result.step) == (InboundState.QUARANTINED, "explode")
    row = await Inbound.get(id=result.inbound_id)
    assert (row.state, row.step, row.error) == ("quarantined", "explode", "RuntimeError: disk on fire")
    assert row.sender == "ina@initech.io" and row.message_id  # enough to find it in `quarantine list`
    assert bytes(row.raw_message) == raw
    # persist ran before the failure: its ticket, message, contacts, companies and events are gone
    for model in (Ticket, Message, Contact, Company, Event):
        assert await model.all().count() == 0, model.__name__


async def test_replay_with_a_healthy_runtime_ingests_the_quarantined_mail(rt: Runtime) -> None:
    raw = mail()
    failed = await broken_intake(rt, position=3).receive("support", raw, "smtp")
    assert failed is not None and failed.state is InboundState.QUARANTINED

    results = await replay(rt, None)

    assert [(r.inbound_id, r.state, r.created_ticket) for r in results] == [
        (failed.inbound_id, InboundState.INGESTED, True)]
    row = await Inbound.get(id=failed.inbound_id)
    assert (row.state, row.attempts) == ("ingested", 2)
    assert results[0].ticket_number is not None
    assert len(await messages_of(results[0].ticket_number)) == 1
    assert await replay(rt, None) == []  # a second replay has nothing to do


async def test_replay_picks_only_the_requested_ids(rt: Runtime) -> None:
    broken = broken_intake(rt)
    first = await broken.receive("support", mail("one"), "smtp")
    second = await broken.receive("support", mail("two", sender="bob@acme.com"), "smtp")
    assert first is not None and second is not None

    results = await replay(rt, [second.inbound_id])

    assert [r.inbound_id for r in results] == [second.inbound_id]
    assert (await Inbound.get(id=first.inbound_id)).state == "quarantined"
    assert await Ticket.all().count() == 1


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty message"),
    (b"\x00\x01garbage without any header\r\n", "not an email"),
    (b"Subject: no sender at all\r\n\r\nhello\r\n", "no sender address"),
])
async def test_mail_that_cannot_be_processed_is_held_in_quarantine(rt: Runtime, raw: bytes, reason: str) -> None:
    result = await receive(rt, raw)

    assert result.state is InboundState.QUARANTINED and reason in result.reason
    row = await Inbound.get(id=result.inbound_id)
    assert row.state == "quarantined" and bytes(row.raw_message) == raw
    assert await Ticket.all().count() == 0


RAW_8BIT = (
    b"Return-Path: <jose@acme.com>\r\n"
    b"From: =?iso-8859-1?q?Jos=E9_Garc=EDa?= <jose@acme.com>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: Caf\xe9 machine \xab broken \xbb\r\n"  # raw 8-bit in a header (it happens)
    b"Message-ID: <raw-bytes-1@acme.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"La machine \xe0 caf\xe9 fuit.\r\n"
    b"trailing spaces   \r\n"
    b"a bare LF\nand a bare CR\rinside\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Jos\xe9\r\n"
)
RAW_NUL = RAW_8BIT.replace(b"Message-ID: <raw-bytes-1@", b"Message-ID: <raw-bytes-2@").replace(
    b"fuit.", b"fuit.\x00\x00 (NULs from a broken client) " + bytes(range(1, 32)))


@pytest.mark.parametrize("raw", [RAW_8BIT, RAW_NUL], ids=["8bit-crlf", "with-nuls"])
async def test_raw_bytes_are_kept_byte_exact(rt: Runtime, raw: bytes) -> None:
    result = await receive(rt, raw)

    row = await Inbound.get(id=result.inbound_id)
    assert bytes(row.raw_message) == raw
    assert (await rt.repo.inbound_raw(result.inbound_id))[1] == raw
    assert row.size == len(raw)


@pytest.mark.parametrize("raw", [RAW_8BIT, RAW_NUL], ids=["8bit-crlf", "with-nuls"])
async def test_odd_bytes_still_become_a_ticket(rt: Runtime, raw: bytes) -> None:
    number = await ingest(rt, raw)

    stored = (await messages_of(number))[0]
    assert stored.from_name == "José García"
    assert "La machine à café fuit." in stored.text
    assert stored.subject.startswith("Caf")


async def test_nul_in_a_header_does_not_wedge_the_message(rt: Runtime) -> None:
    raw = mail().replace(b"Subject: Printer on floor 3", b"Subject: Printer\x00 on floor 3")

    result = await rt.intake.receive("support", raw, "smtp")

    assert result is not None and result.state is InboundState.INGESTED, result
    assert await rt.intake.recover() == []
