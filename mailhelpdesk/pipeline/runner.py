"""The pipeline runner: one accepted message through the ordered steps, in one transaction.

This is the one place that catches unexpected errors on the mail path: any exception
rolls the message's work back and quarantines it with the step name and the error,
from where ``quarantine replay`` can run it again.

A message comes either as an accepted ``inbound`` row (committed earlier by a transport
that must answer before processing, such as SMTP) or as new bytes whose source keeps its
own copy until we return (files): those are stored and processed in one transaction,
which saves a commit per message and loses nothing, because a crash leaves the file.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.outcomes import CONTINUE, Continue, Duplicate, Hold, Ignore, Outcome
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.pipeline.context import MailContext, Step
from mailhelpdesk.store.repository import Repository, transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessResult:
    inbound_id: int
    state: InboundState
    reason: str = ""
    step: str = ""
    ticket_number: int | None = None
    created_ticket: bool = False
    automatic: str = ""  # "auto_reply" / "bounce" / ""
    automated: bool = False  # ticketed, but looks machine-sent: answered by no one


@dataclass(slots=True)
class _Job:
    """One message to process; ``inbound_id`` is None until new bytes are stored."""

    mailbox: MailboxSettings
    raw: bytes
    accepted_at: datetime
    source: str = ""
    inbound_id: int | None = None
    preparsed: ParsedMail | None = None  # valid for the first attempt only: steps change the parsed mail
    received: datetime | None = None  # when an archive says it was delivered
    savepoint: bool = True  # False: a failure raises ``TransactionSpoiled`` (the caller redoes its batch)
    in_batch: bool = False  # inside a caller's transaction of several mails: a deadlock ends it (BatchConflict)


@dataclass(slots=True)
class _Attempt:
    """One try at a message: the step it is in, and what its new inbound row was written with."""

    step: str = "accept"
    written: tuple[InboundState, dict[str, Any]] | None = None


class AlreadyStored(Exception):
    """New bytes turned out to be stored already (the unique key on mailbox and digest)."""


class BatchConflict(Exception):
    """A mail of a batch deadlocked with another worker's transaction: the batch must be rolled
    back whole (its locks released) and its mails done one at a time."""


class TransactionSpoiled(Exception):
    """A message without a savepoint of its own failed: the enclosing transaction holds part of
    its work (PostgreSQL refuses any further statement) and must be rolled back whole."""

    def __init__(self, inbound_id: int, step: str, error: BaseException) -> None:
        super().__init__(f"inbound {inbound_id or '(new)'} failed in step {step}: {type(error).__name__}: {error}")


_ATTEMPTS = 10  # enough for a burst of concurrent first mails racing for ticket numbers

_STATE_OF: dict[type, InboundState] = {
    Ignore: InboundState.IGNORED,
    Hold: InboundState.QUARANTINED,
    Duplicate: InboundState.DUPLICATE,
}


def _unobserved(result: ProcessResult, seconds: float) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Pipeline:
    steps: tuple[Step, ...]
    repo: Repository
    mailboxes: Mapping[str, MailboxSettings]
    clock: Callable[[], datetime]
    # Told of every message done and the seconds it took (the metrics); measured on a monotonic
    # clock, never ``clock``, which tests and replays set to another time.
    observer: Callable[[ProcessResult, float], None] = _unobserved

    async def process(self, inbound_id: int, loaded: tuple[str, bytes, datetime] | None = None,
                      preparsed: ParsedMail | None = None, in_batch: bool = False) -> ProcessResult:
        """Process one accepted message; ``loaded`` (mailbox, raw, accepted_at) saves re-reading it,
        ``preparsed`` (those bytes parsed elsewhere, e.g. in a worker process) parsing them here.
        ``in_batch``: the caller's transaction holds other mails' work, and a deadlock with another
        worker raises ``BatchConflict`` (retrying inside it would meet the same locks again)."""
        mailbox, raw, accepted_at = loaded or await self.repo.inbound_raw(inbound_id)
        return await self._process(_Job(self._box(mailbox), raw, accepted_at, inbound_id=inbound_id,
                                        preparsed=preparsed, in_batch=in_batch))

    async def process_new(self, mailbox: str, raw: bytes, source: str, accepted_at: datetime,
                          preparsed: ParsedMail | None = None, received: datetime | None = None,
                          savepoint: bool = True) -> ProcessResult:
        """Store and process new bytes in one transaction; raises ``AlreadyStored`` for known bytes.
        ``received``: when an archive says the mail was delivered (files; None for live mail).

        ``savepoint=False``, inside a caller's transaction: two statements less per message, but
        a failure raises ``TransactionSpoiled`` instead of quarantining, and the caller must roll
        its transaction back and process its messages again with savepoints (``IngestBatch``)."""
        job = _Job(self._box(mailbox), raw, accepted_at, source[:1000], None, preparsed, received, savepoint)
        if not savepoint:
            return await self._optimistic(job)
        return await self._process(job)

    async def _optimistic(self, job: _Job) -> ProcessResult:
        started = time.perf_counter()
        ctx = self._context(job, first=True)
        current = _Attempt()
        try:
            result = await self._attempt(job, ctx, current)
        except AlreadyStored:
            raise
        except Exception as exc:  # handed to the caller, who redoes its batch with savepoints
            raise TransactionSpoiled(ctx.inbound_id, current.step, exc) from exc
        self._log(ctx, result)
        self.observer(result, time.perf_counter() - started)
        return result

    def _context(self, job: _Job, first: bool) -> MailContext:
        return MailContext(inbound_id=job.inbound_id or 0, mailbox=job.mailbox, raw=job.raw,
                           accepted_at=job.accepted_at, now=self.clock(), received=job.received,
                           preparsed=job.preparsed if first else None)

    def _box(self, mailbox: str) -> MailboxSettings:
        return self.mailboxes.get(mailbox) or MailboxSettings(mailbox, "")

    async def _process(self, job: _Job) -> ProcessResult:
        started = time.perf_counter()
        for attempt in range(1, _ATTEMPTS + 1):
            ctx = self._context(job, first=attempt == 1)
            current = _Attempt()
            try:
                result = await self._attempt(job, ctx, current)
            except AlreadyStored:
                raise
            except Exception as exc:  # the one catch-all on the mail path, by design
                if job.in_batch and _deadlock(exc):
                    raise BatchConflict(f"inbound {job.inbound_id}: {type(exc).__name__}") from exc
                if _write_conflict(exc) and attempt < _ATTEMPTS:
                    log.info("inbound %s: write conflict in %s (%s), retrying", job.inbound_id, current.step, exc)
                    await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                result = await self._quarantine(job, ctx, current.step, exc)
            break
        self._log(ctx, result)
        self.observer(result, time.perf_counter() - started)
        return result

    async def _attempt(self, job: _Job, ctx: MailContext, current: _Attempt) -> ProcessResult:
        async with transaction() if job.savepoint else nullcontext():
            if job.inbound_id is not None:
                state = await self.repo.claim_inbound(job.inbound_id)
                if state != InboundState.ACCEPTED.value:  # another worker got there first
                    return ProcessResult(ctx.inbound_id, InboundState(state), "already processed", "accept")
            async with self.repo.gathered_events() as gathered:
                outcome, step = await self._run_steps(job, ctx, current)
            result = self._result(ctx, outcome, step)
            await self._write_outcome(job, ctx, result, current)
        self.repo.keep_events(gathered)  # only now: a mail rolled back to its savepoint leaves no events
        return replace(result, inbound_id=ctx.inbound_id)  # new bytes may have got their row only now

    async def _write_outcome(self, job: _Job, ctx: MailContext, result: ProcessResult, current: _Attempt) -> None:
        """The inbound row's final state: new bytes not stored yet go in with it; a row already
        written with this very outcome is left alone."""
        info = _inbound_info(ctx, result)
        if current.written == (result.state, info):
            return
        if job.inbound_id is None and current.written is None:
            await self._store_new(job, ctx, result.state, info, current)
            return
        await self.repo.finish_inbound(ctx.inbound_id, result.state, self.clock(), **info, error="")

    async def _store_new(self, job: _Job, ctx: MailContext, state: InboundState, info: dict[str, Any],
                         current: _Attempt) -> None:
        """New bytes into their inbound row with what processing found, in one statement: when
        the message is stored (its row refers to this one) or when processing stopped before."""
        inbound_id = await self.repo.insert_inbound(job.mailbox.name, job.raw, job.source, job.accepted_at,
                                                    state, self.clock(), error="", **info)
        if inbound_id is None:
            raise AlreadyStored
        ctx.inbound_id, current.written = inbound_id, (state, info)

    async def _quarantine(self, job: _Job, ctx: MailContext, step: str, exc: BaseException) -> ProcessResult:
        log.error("inbound %s (%s) failed in step %s", ctx.inbound_id, _mid(ctx), step, exc_info=exc)
        self.repo.rolled_back()  # its savepoint was: a ticket number it took is free again
        if job.inbound_id is None:  # the transaction that stored the bytes was rolled back: store them now
            stored = await self.repo.accept(job.mailbox.name, job.raw, job.source, job.accepted_at)
            ctx.inbound_id = stored.inbound_id
            if stored.state != InboundState.ACCEPTED.value:
                return ProcessResult(ctx.inbound_id, InboundState(stored.state), "already processed", "accept")
        result = ProcessResult(ctx.inbound_id, InboundState.QUARANTINED, f"error in step {step}", step)
        await self._record_failure(ctx, result, f"{type(exc).__name__}: {exc}"[:4000])
        return result

    async def _record_failure(self, ctx: MailContext, result: ProcessResult, error: str) -> None:
        # Each try in its own (sub)transaction: PostgreSQL aborts a whole transaction on an error.
        try:
            async with transaction():
                await self.repo.fail_inbound(ctx.inbound_id, self.clock(), **_inbound_info(ctx, result), error=error)
        except Exception:  # noqa: BLE001 - the parsed fields may be what the database refuses
            async with transaction():
                await self.repo.fail_inbound(ctx.inbound_id, self.clock(), reason=result.reason, step=result.step,
                                             error=error.encode("ascii", "backslashreplace").decode())

    async def _run_steps(self, job: _Job, ctx: MailContext, current: _Attempt) -> tuple[Outcome, str]:
        for step in self.steps:
            current.step = step.name
            if getattr(step, "needs_inbound_row", False) and job.inbound_id is None:
                # What stores the message ingests it: the row is written with that outcome now.
                ingested = self._result(ctx, CONTINUE, "")
                await self._store_new(job, ctx, ingested.state, _inbound_info(ctx, ingested), current)
            outcome = await step.run(ctx)
            if not isinstance(outcome, Continue):
                return outcome, step.name
        return CONTINUE, ""

    @staticmethod
    def _result(ctx: MailContext, outcome: Outcome, step: str) -> ProcessResult:
        automatic = "bounce" if ctx.bounce else "auto_reply" if ctx.auto_reply else ""
        if isinstance(outcome, Continue):
            return ProcessResult(ctx.inbound_id, InboundState.INGESTED, "", "", ctx.ticket_number,
                                 ctx.created_ticket, automatic, ctx.looks_automated)
        return ProcessResult(ctx.inbound_id, _STATE_OF[type(outcome)], outcome.reason, step, automatic=automatic)

    @staticmethod
    def _log(ctx: MailContext, result: ProcessResult) -> None:
        if result.state is InboundState.INGESTED:
            log.info("inbound %s (%s) -> ticket #%s%s", ctx.inbound_id, _mid(ctx), result.ticket_number,
                     " (new)" if result.created_ticket else "")
        else:
            log.info("inbound %s (%s) %s by %s: %s", ctx.inbound_id, _mid(ctx), result.state.value,
                     result.step, result.reason)


def _write_conflict(exc: BaseException) -> bool:
    """Another writer got in the way, and doing the mail again settles it: the same company,
    contact or ticket number created meanwhile (a unique key), or on PostgreSQL a deadlock or
    serialization failure between two workers' transactions."""
    return isinstance(exc, IntegrityError) or _deadlock(exc)


def _deadlock(exc: BaseException) -> bool:
    """PostgreSQL's SQLSTATE class 40 (deadlock, serialization failure), however wrapped."""
    cause: BaseException | None = exc
    while cause is not None:
        if str(getattr(cause, "sqlstate", "")).startswith("40"):
            return True
        cause = cause.__cause__
    return False


def _mid(ctx: MailContext) -> str:
    return f"<{ctx.mail.message_id}>" if ctx.mail else "unparsed"


def _inbound_info(ctx: MailContext, result: ProcessResult) -> dict[str, Any]:
    mail = ctx.mail
    flags: dict[str, Any] = {}
    if ctx.auto_reply:
        flags["auto_reply"] = ctx.auto_reply
    if ctx.bounce:
        flags["bounce"] = ctx.bounce
    if ctx.looks_automated:
        flags["automated"] = ctx.automated
    if ctx.notes:
        flags["notes"] = ctx.notes
    if ctx.thread is not None:
        flags["thread"] = ctx.thread.signal.value
    return {
        "reason": result.reason, "step": result.step, "flags": flags,
        "message_id": mail.message_id[:998] if mail else "",
        "sender": mail.sender[1] if mail and mail.sender else "",
        "subject": mail.subject[:998] if mail else "",
    }
