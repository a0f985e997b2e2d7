"""Accept raw bytes durably, then process them: the path every transport uses."""

import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import Token
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.pipeline.parse_ahead import ParseAhead
from mailhelpdesk.pipeline.runner import AlreadyStored, Pipeline, ProcessResult, TransactionSpoiled
from mailhelpdesk.store.repository import Repository, transaction

log = logging.getLogger(__name__)


AUTOMATED = "automated"


@dataclass(slots=True)
class IntakeTally:
    """What a batch did; the ingest command prints it."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, result: ProcessResult | None) -> None:
        if result is None:
            self.counts["duplicate"] += 1
            return
        if result.state is InboundState.INGESTED:
            key = result.automatic or ("tickets_created" if result.created_ticket else "replies_threaded")
            self.counts[key] += 1
            if result.automated:  # counted once more, apart: a share of the two above
                self.counts[AUTOMATED] += 1
        elif result.automatic and result.state is InboundState.IGNORED:
            self.counts[result.automatic] += 1
        else:
            self.counts[result.state.value] += 1

    @property
    def total(self) -> int:
        return sum(n for key, n in self.counts.items() if key != AUTOMATED)


@dataclass(frozen=True, slots=True)
class Intake:
    repo: Repository
    pipeline: Pipeline
    clock: Callable[[], datetime]

    async def accept(self, mailbox: str, raw: bytes, source: str) -> tuple[int, bool]:
        """Durably store raw bytes (committed on return); ``False`` if they were already stored."""
        result = await self.repo.accept(mailbox, raw, source, self.clock())
        return result.inbound_id, result.created or result.state == InboundState.ACCEPTED.value

    async def receive(self, mailbox: str, raw: bytes, source: str) -> ProcessResult | None:
        """Accept and process one message; ``None`` when these exact bytes were processed before."""
        return (await self.receive_tracked(mailbox, raw, source))[1]

    async def receive_tracked(self, mailbox: str, raw: bytes, source: str, preparsed: ParsedMail | None = None,
                              received: datetime | None = None,
                              savepoint: bool = True) -> tuple[int, ProcessResult | None]:
        """Like ``receive``, also naming the inbound row the bytes are stored in.

        For sources that keep their copy until this returns (files): the bytes are stored
        and processed in one transaction. A transport that must answer before processing
        (SMTP) calls ``accept`` and has the pipeline process the row later. ``savepoint``:
        see ``Pipeline.process_new``.
        """
        now = self.clock()
        try:
            result = await self.pipeline.process_new(mailbox, raw, source, now, preparsed, received, savepoint)
            return result.inbound_id, result
        except AlreadyStored:
            stored = await self.repo.stored_inbound(mailbox, raw)
        if stored is None:  # gone between the two statements (deleted): store it as new mail
            return await self.receive_tracked(mailbox, raw, source, received=received)
        if stored.state == InboundState.ACCEPTED.value:  # left over from an interrupted run
            return stored.inbound_id, await self.pipeline.process(stored.inbound_id)
        return stored.inbound_id, None

    def batch(self, max_messages: int = 200, max_seconds: float = 1.0, parse_workers: int = 0,
              max_message_bytes: int = 0) -> "IngestBatch":
        """Receive many messages from files with one commit per batch (see ``IngestBatch``).

        With ``parse_workers``, messages announced by ``IngestBatch.parse_ahead`` are parsed
        in that many worker processes meanwhile (those over ``max_message_bytes`` are not).
        """
        return IngestBatch(self, max_messages, max_seconds, parse_workers, max_message_bytes)

    async def recover(self) -> list[ProcessResult]:
        """Process whatever was accepted but not finished (after a crash or outage)."""
        return [await self.pipeline.process(i) for i in await self.repo.pending_inbound_ids()]


@dataclass(frozen=True, slots=True)
class _Held:
    """A message of the open batch, kept to process it again if the batch must be redone."""

    mailbox: str
    raw: bytes
    source: str
    received: datetime | None


class IngestBatch:
    """Messages from files, committed together: one commit per batch instead of one per message.

    Messages run without savepoints of their own (two statements each less). If one fails,
    the whole batch is rolled back and its messages are processed again, each in its own
    savepoint, so the failing one is rolled back alone and quarantined, and the batch is
    committed. Only for sources that keep their copy: a crash loses at most the uncommitted
    batch, which a re-run ingests again. A batch holds SQLite's write lock, so it is bounded
    in time as well as in size and bytes; other writers (the SMTP receiver) wait that long.
    """

    def __init__(self, intake: Intake, max_messages: int, max_seconds: float, parse_workers: int,
                 max_message_bytes: int) -> None:
        self._intake = intake
        self._workers = parse_workers
        self._max_message_bytes = max_message_bytes
        self._ahead: ParseAhead | None = None
        self._max_messages = max_messages
        self._max_seconds = max_seconds
        self._open: AbstractAsyncContextManager[Any] | None = None
        self._held: list[_Held] = []
        self._held_bytes = 0
        self._started = 0.0
        self._events: Token[list[tuple[Any, ...]] | None] | None = None

    async def __aenter__(self) -> "IngestBatch":
        if self._workers > 0:
            self._ahead = ParseAhead(self._workers, self._max_message_bytes)
        await self._begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self._end(exc_type, exc, tb)
        finally:
            if self._ahead is not None:
                self._ahead.close()

    def parse_ahead(self, raw: bytes) -> None:
        """Announce bytes that ``receive_tracked`` will get soon, so a worker can parse them meanwhile."""
        if self._ahead is not None:
            self._ahead.submit(raw)

    async def receive_tracked(self, mailbox: str, raw: bytes, source: str,
                              received: datetime | None = None) -> tuple[int, ProcessResult | None]:
        """``received``: when an archive says the mail was delivered (its age if its Date is unreadable)."""
        preparsed = await self._ahead.take(raw) if self._ahead is not None else None
        self._held.append(_Held(mailbox, raw, source, received))
        self._held_bytes += len(raw)
        try:
            result = await self._intake.receive_tracked(mailbox, raw, source, preparsed, received, savepoint=False)
        except TransactionSpoiled as spoiled:
            return await self._redo(spoiled)
        if (len(self._held) >= self._max_messages or self._held_bytes >= _MAX_HELD_BYTES
                or time.monotonic() - self._started >= self._max_seconds):
            await self.commit()
        return result

    async def commit(self) -> None:
        """Commit what was received so far and go on in a new transaction."""
        await self._end(None, None, None)
        await self._begin()

    async def _redo(self, spoiled: TransactionSpoiled) -> tuple[int, ProcessResult | None]:
        """Roll the batch back, process its messages again with a savepoint each, and commit them."""
        held = self._held
        log.warning("%s; processing the batch's %d messages again, one savepoint each", spoiled, len(held))
        await self._end(TransactionSpoiled, spoiled, spoiled.__traceback__)
        self._intake.repo.rolled_back()
        await self._begin()
        done = [await self._intake.receive_tracked(h.mailbox, h.raw, h.source, None, h.received) for h in held]
        await self.commit()
        return done[-1]

    async def _begin(self) -> None:
        self._open = transaction()
        await self._open.__aenter__()
        self._events = self._intake.repo.batch_events()
        self._held, self._held_bytes, self._started = [], 0, time.monotonic()

    async def _end(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                   tb: TracebackType | None) -> None:
        opened, self._open = self._open, None
        if opened is None:
            return
        try:
            if exc_type is None:  # the batch's events go in with it, in one statement per 200
                await self._intake.repo.write_batch_events()
        except BaseException as failed:
            await opened.__aexit__(type(failed), failed, failed.__traceback__)
            raise
        finally:
            if self._events is not None:
                self._intake.repo.end_batch_events(self._events)
                self._events = None
        await opened.__aexit__(exc_type, exc, tb)


# Held messages are kept for a redo until their batch commits: this bounds their memory.
_MAX_HELD_BYTES = 32 * 1024 * 1024
