"""The outbox sender against a real SMTP relay (aiosmtpd on 127.0.0.1): sent, deferred, failed, once."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import Event, Outbox
from mailhelpdesk.store.repository import transaction

from .conftest import ruled_settings
from .mails import Clock, ingest, mail
from .smtp_sink import Sink, smtp_sink, unused_port

MAILBOXES = [{"name": "support", "address": "support@example.com"}]
RULES = "rules: []\n"  # no teams: each new ticket queues exactly one mail, its acknowledgement
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


Boot = Callable[..., AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def boot(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path, clock: Clock) -> Boot:
    """``async with boot(relay_port, **settings) as rt``: a runtime whose relay is 127.0.0.1:relay_port."""

    @asynccontextmanager
    async def start(port: int, **overrides: Any) -> AsyncIterator[Runtime]:
        settings = ruled_settings(make_settings, database_url, tmp_path, RULES, mailboxes=MAILBOXES,
                                  relay={"host": "127.0.0.1", "port": port, "timeout": 5}, **overrides)
        async with running(settings, clock=clock) as runtime:
            yield runtime

    return start


async def queue_acknowledgement(rt: Runtime, clock: Clock, sender: str = "Ann Example <ann@acme.com>",
                                subject: str = "Printer on floor 3 is broken") -> Outbox:
    number = await ingest(rt, mail(subject, sender=sender, date=clock.now))
    [row] = await Outbox.filter(ticket__number=number)
    assert (row.template, row.status) == ("acknowledgement", "queued")
    return row


def message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Message-ID"]).strip("<>")


async def event_data(kind: str) -> list[dict[str, Any]]:
    return [e.data for e in await Event.filter(kind=kind).order_by("id")]


async def test_a_queued_mail_is_sent_as_stored_and_only_once(boot: Boot, clock: Clock) -> None:
    sink = Sink()
    async with smtp_sink(sink) as port, boot(port) as rt:
        row = await queue_acknowledgement(rt, clock)

        assert await rt.sender.run(NOW) == Counter(sent=1)

        [got] = sink.received
        assert got.content == bytes(row.raw_message)
        assert (got.mail_from, got.rcpt_tos) == ("support@example.com", ["ann@acme.com"])
        sent = await Outbox.get(id=row.id)
        assert (sent.status, sent.attempts, sent.sent_at, sent.claimed_at) == ("sent", 1, NOW, None)
        assert sent.reason.startswith("250 ")
        [data] = await event_data("mail.sent")
        assert (data["outbox"], data["to"], data["attempt"]) == (row.id, "ann@acme.com", 1)

        assert await rt.sender.run(NOW + MINUTE) == Counter()
        assert len(sink.received) == 1


async def test_a_temporary_failure_is_retried_later_until_max_attempts(boot: Boot, clock: Clock) -> None:
    sink = Sink(data_reply="451 4.3.0 Try again later")
    async with smtp_sink(sink) as port, boot(port, outbox={"max_attempts": 2}) as rt:
        row = await queue_acknowledgement(rt, clock)

        assert await rt.sender.run(NOW) == Counter(deferred=1)
        deferred = await Outbox.get(id=row.id)
        assert (deferred.status, deferred.attempts, deferred.next_attempt_at) == ("queued", 1, NOW + MINUTE)
        assert "451" in deferred.reason and "Try again later" in deferred.reason
        [data] = await event_data("mail.deferred")
        assert (data["outbox"], data["next_attempt"]) == (row.id, (NOW + MINUTE).isoformat())

        assert await rt.sender.run(NOW + MINUTE - timedelta(seconds=1)) == Counter()  # not due yet
        assert await rt.sender.run(NOW + MINUTE) == Counter(failed=1)

        failed = await Outbox.get(id=row.id)
        assert (failed.status, failed.attempts) == ("failed", 2)
        assert failed.reason.startswith("gave up after 2 attempts: 451")
        [data] = await event_data("mail.failed")
        assert data["reason"] == failed.reason
        assert await rt.sender.run(NOW + 60 * MINUTE) == Counter()
        assert sink.received == []


async def test_a_permanent_refusal_fails_the_mail_at_once(boot: Boot, clock: Clock) -> None:
    sink = Sink(rcpt_replies={"ann@acme.com": "550 5.1.1 No such user here"})
    async with smtp_sink(sink) as port, boot(port) as rt:
        row = await queue_acknowledgement(rt, clock)

        assert await rt.sender.run(NOW) == Counter(failed=1)

        failed = await Outbox.get(id=row.id)
        assert (failed.status, failed.attempts) == ("failed", 1)
        assert "550 5.1.1 No such user here" in failed.reason
        [data] = await event_data("mail.failed")
        assert "550 5.1.1 No such user here" in data["reason"]
        assert await event_data("mail.deferred") == []
        assert await rt.sender.run(NOW + 60 * MINUTE) == Counter()
        assert sink.received == []


async def test_a_mail_left_sending_by_a_crash_goes_out_once_after_the_lease(boot: Boot, clock: Clock) -> None:
    sink = Sink()
    async with smtp_sink(sink) as port, boot(port, outbox={"lease": 60}) as rt:
        row = await queue_acknowledgement(rt, clock)
        async with transaction():  # a sender claimed it, then died before talking SMTP
            assert await rt.outbox.claim(row.id, NOW) is not None

        assert await rt.sender.run(NOW + timedelta(seconds=59)) == Counter()
        assert (await Outbox.get(id=row.id)).status == "sending"
        assert sink.received == []

        assert await rt.sender.run(NOW + timedelta(seconds=61)) == Counter(sent=1)
        assert await rt.sender.run(NOW + timedelta(seconds=200)) == Counter()

        [got] = sink.received
        assert message_id(got.content) == row.message_id
        assert got.content == bytes(row.raw_message)
        sent = await Outbox.get(id=row.id)
        assert (sent.status, sent.attempts) == ("sent", 2)


async def test_two_senders_at_once_deliver_each_mail_once(boot: Boot, clock: Clock) -> None:
    sink = Sink()
    async with smtp_sink(sink) as port, boot(port) as rt:
        rows = [await queue_acknowledgement(rt, clock, f"user{i}@acme.com", f"Request {i}") for i in range(6)]

        tallies = await asyncio.gather(*(rt.sender.run(NOW) for _ in range(3)))

        assert sum(t["sent"] for t in tallies) == 6
        assert set().union(*tallies) <= {"sent", "taken"}
        delivered = Counter(message_id(r.content) for r in sink.received)
        assert delivered == Counter({r.message_id: 1 for r in rows})
        assert [r.status for r in await Outbox.all().order_by("id")] == ["sent"] * 6
        assert len(await event_data("mail.sent")) == 6


async def test_a_relay_that_is_not_listening_defers_the_mail(boot: Boot, clock: Clock) -> None:
    async with boot(unused_port()) as rt:
        row = await queue_acknowledgement(rt, clock)

        assert await rt.sender.run(NOW) == Counter(deferred=1)

        deferred = await Outbox.get(id=row.id)
        assert (deferred.status, deferred.attempts, deferred.next_attempt_at) == ("queued", 1, NOW + MINUTE)
        assert "connection refused" in deferred.reason.lower()
        assert await event_data("mail.failed") == []
        assert len(await event_data("mail.deferred")) == 1
