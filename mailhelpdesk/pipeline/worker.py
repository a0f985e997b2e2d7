"""The inbound worker of a running service: turns accepted mail into tickets, from the database.

Transports (SMTP, LMTP, IMAP) commit the bytes of a mail and ring the worker's bell. The
worker does not trust the bell for what to do: it reads the ``accepted`` rows themselves,
so mail whose processing failed once (the database was away, the disk full) is taken again
by the running service, and rows accepted by another process sharing the database are seen
within ``recheck`` seconds.

Rows are processed in batches, one transaction per batch with a savepoint per mail: under a
burst one commit covers every mail accepted meanwhile, instead of each mail's transaction
queueing behind the receiver's commits one by one (SQLite has one writer at a time). A batch
is bounded in mails, bytes and time, because it holds the writer's lock. With a parse worker
the batch's mails are parsed in another process, so a large mail never stalls the event loop.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailhelpdesk.intake import Intake
from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.pipeline.parse_ahead import ParseAhead
from mailhelpdesk.store.repository import PendingInbound, transaction

log = logging.getLogger(__name__)

BATCH_MAILS = 50
BATCH_BYTES = 32 * 1024 * 1024
BATCH_SECONDS = 0.5
LARGE_MAIL = 1024 * 1024
_MAX_BACKOFF = 60.0
_FORGET_AFTER = 600.0


@dataclass
class InboundWorker:
    intake: Intake
    processed: Callable[[], None] = lambda: None  # after each committed batch: wakes the outbox sender
    parse_workers: int = 0
    max_message_bytes: int = 64 * 1024 * 1024
    recheck: float = 2.0  # seconds between looks at the table when no bell rings
    _bell: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _held: dict[int, tuple[float, int]] = field(default_factory=dict)  # failing row -> (retry at, failures)

    def ring(self, _inbound_id: int | None = None) -> None:
        """Mail was accepted: look now rather than at the next recheck."""
        self._bell.set()

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run_forever`` (what is left stays accepted)."""
        self._stop.set()
        self._bell.set()

    async def run_forever(self) -> None:
        ahead = ParseAhead(self.parse_workers, self.max_message_bytes) if self.parse_workers > 0 else None
        try:
            await self._loop(ahead)
        finally:
            if ahead is not None:
                ahead.close()

    async def _loop(self, ahead: ParseAhead | None) -> None:
        failures = 0
        while not self._stop.is_set():
            self._bell.clear()
            try:
                done = await self.drain(ahead)
                failures = 0
            except _HeldBack:  # logged where it happened
                failures, done = failures + 1, 0
            except Exception as exc:  # noqa: BLE001 - the database is away: keep the rows, try again later
                failures, done = failures + 1, 0
                log.error("processing accepted mail failed (%d in a row), trying again in %.0fs: %s: %s",
                          failures, _backoff(failures), type(exc).__name__, exc)
            if done:
                self.processed()
            # After a failure new mail does not cut the pause short: it would fail the same way.
            with contextlib.suppress(TimeoutError):
                if failures:
                    await asyncio.wait_for(self._stop.wait(), _backoff(failures))
                else:
                    await asyncio.wait_for(self._bell.wait(), self.recheck)

    async def drain(self, ahead: ParseAhead | None = None) -> int:
        """Process accepted rows until none is left (or ``stop``); the number processed."""
        total = 0
        while not self._stop.is_set():
            done = await self._batch(ahead)
            if done == 0:
                break
            total += done
        return total

    async def _batch(self, ahead: ParseAhead | None) -> int:
        """One batch in one transaction; if it fails, its mails are tried one by one, so that a
        mail that cannot even be quarantined holds back itself alone."""
        repo, rows = self.intake.repo, []
        try:
            async with transaction():
                rows = await repo.claim_pending(BATCH_MAILS, BATCH_BYTES, self._holding())
                done = await self._process(rows, ahead)
            return done
        except Exception:
            repo.rolled_back()
            if not rows:
                raise
        return await self._one_by_one(rows)

    def _holding(self) -> list[int]:
        """Rows still held back. A row held long ago and never seen again was processed elsewhere
        (or replayed): forgotten, so the list stays short."""
        now = time.monotonic()
        for inbound_id in [i for i, (until, _) in self._held.items() if until < now - _FORGET_AFTER]:
            del self._held[inbound_id]
        return [i for i, (until, _) in self._held.items() if until > now]

    async def _process(self, rows: list[PendingInbound], ahead: ParseAhead | None) -> int:
        started, done = time.monotonic(), 0
        try:
            for row in rows:
                if ahead is not None:
                    ahead.submit(row.raw)
            for row in rows:
                if done and time.monotonic() - started > BATCH_SECONDS:
                    break  # the rest stay accepted for the next batch: other writers have waited enough
                preparsed = await ahead.take(row.raw) if ahead is not None else await self._off_loop(row.raw)
                await self.intake.pipeline.process(row.inbound_id, row.loaded, preparsed, in_batch=True)
                done += 1
        finally:
            if ahead is not None:
                ahead.forget()
        for row in rows[:done]:
            self._held.pop(row.inbound_id, None)
        return done

    async def _off_loop(self, raw: bytes) -> ParsedMail | None:
        """Without a parse worker, a large mail is parsed in a thread: the loop keeps answering
        SMTP and the panel meanwhile (small ones cost less than the hand-over)."""
        if LARGE_MAIL < len(raw) <= self.max_message_bytes:
            return await asyncio.to_thread(parse_mail, raw)
        return None

    async def _one_by_one(self, rows: list[PendingInbound]) -> int:
        """Each mail in its own transaction, until one fails: that one is held back (with a growing
        delay) and the others go on in the next batch."""
        done = 0
        for row in rows:
            try:
                async with transaction():
                    await self.intake.pipeline.process(row.inbound_id, row.loaded)
            except Exception as exc:
                self.intake.repo.rolled_back()
                failures = self._held.get(row.inbound_id, (0.0, 0))[1] + 1
                self._held[row.inbound_id] = (time.monotonic() + _backoff(failures), failures)
                log.error("inbound %s could not be processed (%d in a row), trying again in %.0fs: %s: %s",
                          row.inbound_id, failures, _backoff(failures), type(exc).__name__, exc)
                if done == 0:
                    raise _HeldBack from exc
                return done
            self._held.pop(row.inbound_id, None)
            done += 1
        return done


class _HeldBack(Exception):
    """No mail of a batch could be processed; the first is held back and its failure logged."""


def _backoff(failures: int) -> float:
    return min(2.0 ** failures, _MAX_BACKOFF)
