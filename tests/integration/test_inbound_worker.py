"""The inbound worker of a running service: accepted mail becomes tickets from the database
itself, mail whose processing failed is taken again without a restart, a mail that cannot
even be quarantined holds back only itself, and on PostgreSQL two workers never take the same
mail (SKIP LOCKED). The scheduler lease lets one holder at a time run the timers."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from tortoise import Tortoise

from mailhelpdesk.app import Runtime
from mailhelpdesk.pipeline import worker as worker_module
from mailhelpdesk.pipeline.worker import InboundWorker
from mailhelpdesk.scheduler_lease import FileLease, PostgresLease, while_leased
from mailhelpdesk.store.models import Inbound, Message

from .mails import mail


def _raw(n: int) -> bytes:
    return mail(f"Question {n}", sender=f"user{n}@customer{n % 3}.example", message_id=f"<w{n}@customer.example>")


async def _accept(rt: Runtime, count: int, start: int = 0) -> list[int]:
    return [(await rt.intake.accept("support", _raw(n), "test"))[0] for n in range(start, start + count)]


@contextlib.asynccontextmanager
async def working(worker: InboundWorker) -> AsyncIterator[InboundWorker]:
    task = asyncio.create_task(worker.run_forever())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


async def _states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in await Inbound.all().only("id", "state"):
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


async def _block_updates(where: str) -> None:
    """Make every UPDATE of matching inbound rows fail, as a full disk does: nothing can be
    recorded about them, not even a quarantine."""
    connection = Tortoise.get_connection("default")
    if connection.capabilities.dialect == "postgres":
        await connection.execute_script(
            "CREATE FUNCTION test_full_disk() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            f" LANGUAGE plpgsql; CREATE TRIGGER test_full_disk BEFORE UPDATE ON inbound FOR EACH ROW WHEN ({where})"
            " EXECUTE FUNCTION test_full_disk();")
    else:
        await connection.execute_script(f"CREATE TRIGGER test_full_disk BEFORE UPDATE ON inbound WHEN {where}"
                                        " BEGIN SELECT RAISE(ABORT, 'disk full'); END;")


async def _unblock() -> None:
    connection = Tortoise.get_connection("default")
    await connection.execute_script("DROP TRIGGER test_full_disk" + (
        " ON inbound; DROP FUNCTION test_full_disk()" if connection.capabilities.dialect == "postgres" else ""))


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "_backoff", lambda failures: 0.3)


async def test_the_bell_turns_accepted_mail_into_tickets_in_one_batch(rt: Runtime) -> None:
    processed: list[int] = []
    worker = InboundWorker(rt.intake, lambda: processed.append(1), recheck=60)
    async with working(worker):
        await asyncio.sleep(0.1)  # the first look found nothing
        await _accept(rt, 5)
        worker.ring()
        await _until(lambda: _count_accepted_is(0))
    assert (await _states()) == {"ingested": 5}
    assert processed, "the outbox sender was woken"


async def _count_accepted_is(n: int) -> bool:
    return await Inbound.filter(state="accepted").count() == n


async def test_mail_accepted_by_another_process_is_found_without_a_bell(rt: Runtime) -> None:
    async with working(InboundWorker(rt.intake, recheck=0.2)):
        await asyncio.sleep(0.1)
        await _accept(rt, 3)  # nobody rings: as when the receiver runs in another process
        await _until(lambda: _count_accepted_is(0), 5)


async def test_processing_that_failed_is_done_by_the_running_worker_once_the_fault_is_gone(
        rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    ids = await _accept(rt, 4)
    await _block_updates("1 = 1")
    caplog.set_level(logging.ERROR, logger="mailhelpdesk.pipeline.worker")
    async with working(InboundWorker(rt.intake, recheck=0.2)) as worker:
        await _until(lambda: _has_logged(caplog, "(2 in a row)"))
        assert await _count_accepted_is(4), "nothing is lost or half done while the disk is full"
        await _unblock()
        worker.ring()
        await _until(lambda: _count_accepted_is(0))
    assert (await _states()) == {"ingested": 4}
    ours = [r for r in caplog.records if r.name == "mailhelpdesk.pipeline.worker"]
    assert ours and all(r.exc_info is None for r in ours), "one line per failure, no traceback"
    assert sorted(r.id for r in await Inbound.all()) == sorted(ids)


async def _has_logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)


async def test_a_mail_that_cannot_even_be_quarantined_holds_back_only_itself(
        rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    ids = await _accept(rt, 5)
    poison = ids[1]
    await _block_updates(f"NEW.id = {poison}")
    caplog.set_level(logging.ERROR, logger="mailhelpdesk.pipeline.worker")
    async with working(InboundWorker(rt.intake, recheck=0.2)) as worker:
        await _until(lambda: _count_accepted_is(1))
        assert (await Inbound.get(id=poison)).state == "accepted"
        assert await _has_logged(caplog, f"inbound {poison} could not be processed")
        await _unblock()
        worker.ring()
        await _until(lambda: _count_accepted_is(0))
    assert (await _states()) == {"ingested": 5}


async def test_two_workers_on_postgresql_never_take_the_same_mail(rt: Runtime) -> None:
    if Tortoise.get_connection("default").capabilities.dialect != "postgres":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    await _accept(rt, 120)
    first, second = InboundWorker(rt.intake, recheck=60), InboundWorker(rt.intake, recheck=60)
    done = await asyncio.gather(first.drain(), second.drain())
    assert all(done), done  # both took part
    errors = [(r.step, r.error[:300]) for r in await Inbound.filter(state="quarantined")]
    assert (await _states()) == {"ingested": 120}, errors  # a deadlock between batches loses no mail
    attempts = {r.attempts for r in await Inbound.all().only("id", "attempts")}
    assert attempts == {1}, "each mail was processed once (a batch rolled back leaves no claim)"
    assert await Message.filter(direction="in").count() == 120


async def test_one_lease_holder_at_a_time_and_a_standby_takes_over(tmp_path: Path, database_url: str) -> None:
    if database_url.startswith("postgres"):
        leases = [PostgresLease(database_url), PostgresLease(database_url)]
    else:
        leases = [FileLease(tmp_path / "scheduler.lock"), FileLease(tmp_path / "scheduler.lock")]
    running: list[str] = []
    stops = [asyncio.Event(), asyncio.Event()]

    def starter(name: str) -> Callable[[], Callable[[], None]]:
        def start() -> Callable[[], None]:
            running.append(name)
            return lambda: running.remove(name)
        return start

    first = asyncio.create_task(while_leased(leases[0], starter("first"), stops[0], retry=0.1))
    await _until(lambda: _is(running, ["first"]), 5)
    second = asyncio.create_task(while_leased(leases[1], starter("second"), stops[1], retry=0.1))
    await asyncio.sleep(0.5)
    assert running == ["first"], "the standby waits"
    stops[0].set()
    await first  # the holder goes (releasing as a dying process would)
    await _until(lambda: _is(running, ["second"]), 5)
    stops[1].set()
    await second
    assert running == []


async def _is(value: list[str], expected: list[str]) -> bool:
    return value == expected
