"""``mailhelpdesk ingest``: files, directories, mbox and Maildir into tickets."""

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.progress import Progress
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.ingest.files import Item, RawMail, count_messages, iter_sources
from mailhelpdesk.intake import IngestBatch, IntakeTally

_SUMMARY = (
    ("tickets_created", "tickets created"),
    ("replies_threaded", "replies threaded"),
    ("automated", "automated mail among them"),
    ("auto_reply", "auto-replies recognised"),
    ("bounce", "bounces recognised"),
    ("ignored", "ignored"),
    ("quarantined", "quarantined"),
    ("duplicate", "duplicates skipped"),
    ("unreadable", "unreadable inputs"),
)


@dataclass(frozen=True, slots=True)
class IngestReport:
    tally: IntakeTally
    seconds: float
    recovered: int

    def lines(self) -> list[str]:
        counts = self.tally.counts
        rate = self.tally.total / self.seconds if self.seconds > 0 else 0.0
        out = [f"{label}: {counts.get(key, 0)}" for key, label in _SUMMARY]
        if self.recovered:
            out.insert(0, f"recovered from an earlier interrupted run: {self.recovered}")
        out.append(f"messages: {self.tally.total} in {self.seconds:.2f} s ({rate:.1f} msgs/s)")
        return out


async def ingest_paths(runtime: Runtime, paths: list[Path], mailbox: str, err: TextIO,
                       on_item: Callable[[], None] | None = None) -> IngestReport:
    """Receive every message under ``paths``; ``on_item`` is called after each input item."""
    runtime.settings.mailbox(mailbox)  # unknown mailbox: ConfigError before any work
    _require_existing(paths)
    started = time.monotonic()
    tally = IntakeTally()
    recovered = await runtime.intake.recover()
    for done in recovered:
        tally.add(done)
    total = count_messages(paths)
    progress = Progress(total, err)
    run = _Run(mailbox, tally, {r.inbound_id for r in recovered}, progress, err, on_item)  # recovered: counted
    workers = runtime.settings.parse_worker_count() if total >= PARSE_AHEAD_MIN_MESSAGES else 0
    async with runtime.intake.batch(parse_workers=workers,
                                    max_message_bytes=runtime.settings.max_message_bytes) as batch:
        await run.feed(batch, iter_sources(paths))
    progress.close()
    return IngestReport(tally, time.monotonic() - started, len(recovered))


def _require_existing(paths: list[Path]) -> None:
    """A path that does not exist is a bad argument (exit 2), not an unreadable input: refuse the
    whole run before anything is ingested, so the admin fixes the command line and runs it once."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConfigError(f"ingest: {', '.join(missing)}: no such file or directory")


# Parse workers take a fraction of a second to start: not worth it for a handful of messages.
PARSE_AHEAD_MIN_MESSAGES = 100
_LOOKAHEAD = 32  # messages handed to the parse workers before their turn...
_LOOKAHEAD_BYTES = 64 * 1024 * 1024  # ...and at most this many bytes of them, to bound memory


@dataclass(slots=True)
class _Run:
    mailbox: str
    tally: IntakeTally
    counted: set[int]
    progress: Progress
    err: TextIO
    on_item: Callable[[], None] | None

    async def feed(self, batch: IngestBatch, items: Iterator[Item]) -> None:
        """Receive every item in order, announcing the next few to the parse workers first."""
        window: deque[Item] = deque()
        ahead_bytes = 0
        for item in items:
            if isinstance(item, RawMail):
                batch.parse_ahead(item.raw)
                ahead_bytes += len(item.raw)
            window.append(item)
            while window and (len(window) > _LOOKAHEAD or ahead_bytes > _LOOKAHEAD_BYTES):
                ahead_bytes -= await self._one(batch, window.popleft())
        while window:
            await self._one(batch, window.popleft())

    async def _one(self, batch: IngestBatch, item: Item) -> int:
        """Receive one item; returns its size."""
        size = 0
        if isinstance(item, RawMail):
            inbound_id, result = await batch.receive_tracked(self.mailbox, item.raw, item.source, item.received)
            if inbound_id not in self.counted:
                self.tally.add(result)
            if result is not None and result.state is InboundState.QUARANTINED:  # kept, but named now
                self.err.write(f"\nquarantined: {item.source}: {result.reason}\n")
            size = len(item.raw)
        else:
            self.tally.counts["unreadable"] += 1
            self.err.write(f"\nunreadable: {item.source}: {item.error}\n")
        self.progress.step()
        if self.on_item is not None:
            self.on_item()
        return size
