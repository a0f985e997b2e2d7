"""Accept raw bytes durably, then process them: the path every transport uses."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import AlreadyStored, Pipeline, ProcessResult
from mailhelpdesk.store.repository import Repository


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
        elif result.automatic and result.state is InboundState.IGNORED:
            self.counts[result.automatic] += 1
        else:
            self.counts[result.state.value] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


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

    async def receive_tracked(self, mailbox: str, raw: bytes, source: str) -> tuple[int, ProcessResult | None]:
        """Like ``receive``, also naming the inbound row the bytes are stored in.

        For sources that keep their copy until this returns (files): the bytes are stored
        and processed in one transaction. A transport that must answer before processing
        (SMTP) calls ``accept`` and has the pipeline process the row later.
        """
        now = self.clock()
        try:
            result = await self.pipeline.process_new(mailbox, raw, source, now)
            return result.inbound_id, result
        except AlreadyStored:
            stored = await self.repo.accept(mailbox, raw, source, now)
        if stored.created or stored.state == InboundState.ACCEPTED.value:  # left over from an interrupted run
            return stored.inbound_id, await self.pipeline.process(stored.inbound_id)
        return stored.inbound_id, None

    async def recover(self) -> list[ProcessResult]:
        """Process whatever was accepted but not finished (after a crash or outage)."""
        return [await self.pipeline.process(i) for i in await self.repo.pending_inbound_ids()]
