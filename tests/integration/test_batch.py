"""Batched ingest (``Intake.batch``): one commit per batch; a failing message has the batch redone
with a savepoint per message."""

import os
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.export import export_records
from mailhelpdesk.intake import IngestBatch, Intake
from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.parse_ahead import ParseAhead
from mailhelpdesk.pipeline.runner import Pipeline
from mailhelpdesk.store.models import Event, Inbound, Message, Ticket

from .conftest import MAILBOXES
from .mails import mail, reply_to

FIXED = datetime(2026, 11, 23, 7, 15, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FailsOnSubject:
    """A step with a bug that only one message triggers."""

    subject: str
    name: str = "fragile"

    async def run(self, ctx: MailContext) -> Outcome:
        if ctx.parsed.subject == self.subject:
            raise RuntimeError("cannot handle this one")
        return CONTINUE


def fragile_intake(rt: Runtime, subject: str) -> Intake:
    steps = (*rt.pipeline.steps, FailsOnSubject(subject))  # after persist: its writes must be undone
    return Intake(rt.repo, Pipeline(steps, rt.repo, rt.pipeline.mailboxes, rt.pipeline.clock), rt.intake.clock)


async def committed_inbound(database_url: str) -> int:
    """Rows another connection can see, i.e. committed ones."""
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return int(conn.execute("SELECT count(*) FROM inbound").fetchone()[0])
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM inbound"))
    finally:
        await conn.close()


async def test_a_batch_commits_every_max_messages(rt: Runtime, database_url: str) -> None:
    async with rt.intake.batch(max_messages=2, max_seconds=3600) as batch:
        for n in range(3):
            await batch.receive_tracked("support", mail(f"Request {n}"), f"file{n}")
        assert await committed_inbound(database_url) == 2  # the third waits for the next commit
    assert await committed_inbound(database_url) == 3
    assert await Ticket.all().count() == 3


async def test_a_failing_message_is_rolled_back_alone_and_quarantined(rt: Runtime) -> None:
    intake = fragile_intake(rt, "Poison")
    async with intake.batch() as batch:
        results = [(await batch.receive_tracked("support", mail(s), s))[1] for s in ("First", "Poison", "Last")]

    assert [r.state if r else None for r in results] == [
        InboundState.INGESTED, InboundState.QUARANTINED, InboundState.INGESTED]
    assert sorted(await Ticket.all().values_list("subject", flat=True)) == ["First", "Last"]
    poison = await Inbound.get(source="Poison")
    assert (poison.state, poison.step, poison.attempts) == ("quarantined", "fragile", 1)
    assert b"Subject: Poison" in bytes(poison.raw_message)
    assert not await Message.filter(inbound_id=poison.id).exists()
    # A batch writes its mails' events when it commits: the poisoned mail's were rolled back with it.
    assert not await Event.filter(inbound_id=poison.id).exists()
    for subject in ("First", "Last"):
        ingested = await Inbound.get(source=subject)
        kinds = set(await Event.filter(inbound_id=ingested.id).values_list("kind", flat=True))
        assert {"ticket.created", "sla.policy"} <= kinds, (subject, kinds)


async def test_a_redone_batch_keeps_ticket_numbers_consecutive_and_each_mail_once(rt: Runtime) -> None:
    intake = fragile_intake(rt, "Poison")
    subjects = ("One", "Two", "Poison", "Three")
    async with intake.batch() as batch:
        for subject in subjects:
            await batch.receive_tracked("support", mail(subject, message_id=f"<{subject}@acme.com>"), subject)

    rows = await Ticket.all().order_by("number").values_list("subject", "number")
    assert [subject for subject, _ in rows] == ["One", "Two", "Three"]
    numbers = [number for _, number in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 3))  # the rolled-back numbers are given again
    assert await Inbound.all().count() == 4 and await Message.filter(direction="in").count() == 3


async def test_a_batch_without_failures_runs_no_savepoints_and_writes_each_inbound_row_once(
    rt: Runtime, database_url: str
) -> None:
    if not database_url.startswith("sqlite://"):
        pytest.skip("the statement trace is SQLite's")
    from tortoise import connections

    seen: list[str] = []
    await connections.get("default").execute_query("SELECT 1")  # opens the connection
    await connections.get("default")._connection.set_trace_callback(seen.append)
    try:
        async with rt.intake.batch() as batch:
            first = await batch.receive_tracked("support", mail("First", message_id="<first@acme.com>"), "a")
            await batch.receive_tracked("support", reply_to(mail("First", message_id="<first@acme.com>")), "b")
            await batch.receive_tracked("support", mail("Spam", headers={"Auto-Submitted": "auto-replied"}), "c")
    finally:
        await connections.get("default")._connection.set_trace_callback(None)

    assert not [s for s in seen if s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    assert [s for s in seen if 'INTO "inbound"' in s and "INSERT" in s.upper()].__len__() == 3
    assert not [s for s in seen if s.lstrip().upper().startswith('UPDATE "INBOUND"')]
    states = await Inbound.all().order_by("id").values_list("state", "step", flat=False)
    assert [state for state, _ in states] == ["ingested", "ingested", "ignored"]
    assert first[1] is not None and (await Inbound.get(id=first[0])).message_id == "first@acme.com"


async def test_the_same_bytes_again_are_skipped_when_the_first_copy_stored_no_message(rt: Runtime) -> None:
    ignored = mail("Out of office", headers={"Auto-Submitted": "auto-replied"})  # about no ticket: ignored
    async with rt.intake.batch() as batch:
        first = await batch.receive_tracked("support", ignored, "a")
        again = await batch.receive_tracked("support", ignored, "a-again")
    later = await rt.intake.receive_tracked("support", ignored, "a-later")

    assert first[1] is not None and first[1].state is InboundState.IGNORED
    assert again == (first[0], None) and later == (first[0], None)
    assert await Inbound.all().count() == 1


async def test_bytes_stored_before_are_skipped_without_breaking_the_batch(rt: Runtime) -> None:
    # PostgreSQL aborts a whole transaction on a failed INSERT unless it ran in a savepoint.
    first, second = mail("Once"), mail("Twice")
    async with rt.intake.batch() as batch:
        stored = await batch.receive_tracked("support", first, "a")
        again = await batch.receive_tracked("support", first, "a-again")
        other = await batch.receive_tracked("support", second, "b")

    assert again == (stored[0], None)
    assert other[1] is not None and other[1].state is InboundState.INGESTED
    assert await Inbound.all().count() == 2 and await Ticket.all().count() == 2


async def test_an_interrupted_batch_keeps_what_it_committed_and_a_rerun_completes_it(
    rt: Runtime, database_url: str
) -> None:
    raws = [mail(f"Request {n}") for n in range(5)]
    with pytest.raises(KeyboardInterrupt):
        async with rt.intake.batch(max_messages=3, max_seconds=3600) as batch:
            for n, raw in enumerate(raws):
                await batch.receive_tracked("support", raw, f"file{n}")
            raise KeyboardInterrupt
    assert await committed_inbound(database_url) == 3

    async with rt.intake.batch() as batch:
        rerun = [(await batch.receive_tracked("support", raw, f"file{n}"))[1] for n, raw in enumerate(raws)]

    assert [r is None for r in rerun] == [True, True, True, False, False]
    assert await Ticket.all().count() == 5 and await Message.filter(direction="in").count() == 5


async def test_parse_workers_give_the_same_tickets_as_parsing_here(
    make_settings: Callable[..., Settings], sqlite_url: str, tmp_path: Path
) -> None:
    first = mail("Printer jam", cc="Carl <carl@globex.example>")
    raws = [first, reply_to(first), mail("VPN down", sender="Bob <bob@initech.io>"), b"", reply_to(first)]
    exports = []
    for workers in (0, 1):
        settings = make_settings(f"{sqlite_url}.{workers}", tmp_path / str(workers), mailboxes=MAILBOXES)
        async with running(settings, clock=lambda: FIXED) as rt:
            async with rt.intake.batch(parse_workers=workers, max_message_bytes=1_000_000) as batch:
                for raw in raws:
                    batch.parse_ahead(raw)
                outcomes = [(await batch.receive_tracked("support", raw, f"m{n}"))[1] for n, raw in enumerate(raws)]
            records = [_without_our_ids({k: v for k, v in r.items() if k != "accepted_at"})
                       async for r in export_records()]
            exports.append(([o.state if o else None for o in outcomes], records))
    assert exports[0] == exports[1]
    assert exports[1][0] == [InboundState.INGESTED, InboundState.INGESTED, InboundState.INGESTED,
                             InboundState.QUARANTINED, InboundState.INGESTED]


async def test_parse_ahead_returns_the_parse_of_exactly_the_bytes_submitted() -> None:
    ahead = ParseAhead(1, max_bytes=10_000)
    try:
        raw, big = mail("Hello"), mail("Big", body="x" * 20_000)
        ahead.submit(raw)
        ahead.submit(big)  # over max_bytes: left to the parse step
        assert await ahead.take(bytes(bytearray(raw))) is None  # equal bytes, but not the object submitted
        ahead.submit(raw)
        assert await ahead.take(raw) == parse_mail(raw)
        assert await ahead.take(raw) is None  # taken once
        assert await ahead.take(big) is None
    finally:
        ahead.close()


async def test_a_dead_parse_worker_only_costs_speed(rt: Runtime) -> None:
    raws = [mail(f"Request {n}") for n in range(4)]
    async with rt.intake.batch(parse_workers=1, max_message_bytes=1_000_000) as batch:
        batch.parse_ahead(raws[0])
        assert (await batch.receive_tracked("support", raws[0], "m0"))[1] is not None
        for pid in worker_pids(batch):
            os.kill(pid, signal.SIGKILL)
        for raw in raws[1:]:
            batch.parse_ahead(raw)
        results = [(await batch.receive_tracked("support", raw, f"m{n}"))[1] for n, raw in enumerate(raws[1:], 1)]
    assert all(r is not None and r.state is InboundState.INGESTED for r in results)
    assert await Ticket.all().count() == 4


def worker_pids(batch: IngestBatch) -> list[int]:
    ahead = batch._ahead  # the test needs the worker pid to kill it
    assert ahead is not None and ahead._pool is not None
    return list(ahead._pool._processes)


@dataclass(frozen=True, slots=True)
class FailsWithUnstorableNote:
    """A failing step that leaves a note PostgreSQL's jsonb refuses (NUL)."""

    name: str = "unstorable"

    async def run(self, ctx: MailContext) -> Outcome:
        if ctx.parsed.subject == "Poison":
            ctx.notes.append("bad\x00note")
            raise RuntimeError("cannot handle this one")
        return CONTINUE


async def test_a_failure_record_the_database_refuses_does_not_break_the_batch(rt: Runtime) -> None:
    steps = (*rt.pipeline.steps, FailsWithUnstorableNote())
    intake = Intake(rt.repo, Pipeline(steps, rt.repo, rt.pipeline.mailboxes, rt.pipeline.clock), rt.intake.clock)
    async with intake.batch() as batch:
        results = [(await batch.receive_tracked("support", mail(s), s))[1] for s in ("Poison", "Fine")]

    assert [r.state if r else None for r in results] == [InboundState.QUARANTINED, InboundState.INGESTED]
    poison = await Inbound.get(source="Poison")
    assert (poison.state, poison.step) == ("quarantined", "unstorable")
    assert poison.error == "RuntimeError: cannot handle this one"
    assert await Ticket.filter(subject="Fine").exists()


def _without_our_ids(record: dict[str, Any]) -> dict[str, Any]:
    """Our Message-IDs carry a random part: equal runs differ only there."""
    for message in record.get("messages", []):
        if message["direction"] == "out":
            message["message_id"] = "ours"
    return record
