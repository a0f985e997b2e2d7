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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.outcomes import Continue, Duplicate, Hold, Ignore, Outcome
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.context import MailContext, Step
from mailhelpdesk.pipeline.parse import ParsedMail
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


class AlreadyStored(Exception):
    """New bytes turned out to be stored already (the unique key on mailbox and digest)."""


_ATTEMPTS = 10  # enough for a burst of concurrent first mails racing for ticket numbers

_STATE_OF: dict[type, InboundState] = {
    Ignore: InboundState.IGNORED,
    Hold: InboundState.QUARANTINED,
    Duplicate: InboundState.DUPLICATE,
}


@dataclass(frozen=True, slots=True)
class Pipeline:
    steps: tuple[Step, ...]
    repo: Repository
    mailboxes: Mapping[str, MailboxSettings]
    clock: Callable[[], datetime]

    async def process(self, inbound_id: int, loaded: tuple[str, bytes, datetime] | None = None) -> ProcessResult:
        """Process one accepted message; ``loaded`` (mailbox, raw, accepted_at) saves re-reading it."""
        mailbox, raw, accepted_at = loaded or await self.repo.inbound_raw(inbound_id)
        return await self._process(_Job(self._box(mailbox), raw, accepted_at, inbound_id=inbound_id))

    async def process_new(self, mailbox: str, raw: bytes, source: str, accepted_at: datetime,
                          preparsed: ParsedMail | None = None, received: datetime | None = None) -> ProcessResult:
        """Store and process new bytes in one transaction; raises ``AlreadyStored`` for known bytes.
        ``received``: when an archive says the mail was delivered (files; None for live mail)."""
        return await self._process(_Job(self._box(mailbox), raw, accepted_at, source[:1000], None, preparsed,
                                        received))

    def _box(self, mailbox: str) -> MailboxSettings:
        return self.mailboxes.get(mailbox) or MailboxSettings(mailbox, "")

    async def _process(self, job: _Job) -> ProcessResult:
        for attempt in range(1, _ATTEMPTS + 1):
            ctx = MailContext(inbound_id=job.inbound_id or 0, mailbox=job.mailbox, raw=job.raw,
                              accepted_at=job.accepted_at, now=self.clock(), received=job.received,
                              preparsed=job.preparsed if attempt == 1 else None)
            current = ["accept"]
            try:
                result = await self._attempt(job, ctx, current)
            except AlreadyStored:
                raise
            except IntegrityError as exc:
                if attempt < _ATTEMPTS:  # another writer created the same company/contact/number: redo
                    log.info("inbound %s: write conflict in %s (%s), retrying", job.inbound_id, current[0], exc)
                    await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                result = await self._quarantine(job, ctx, current[0], exc)
            except Exception as exc:  # noqa: BLE001 - the one catch-all on the mail path, by design
                result = await self._quarantine(job, ctx, current[0], exc)
            break
        self._log(ctx, result)
        return result

    async def _attempt(self, job: _Job, ctx: MailContext, current: list[str]) -> ProcessResult:
        async with transaction():
            state = await self._claim(job, ctx)
            if state != InboundState.ACCEPTED.value:  # another worker got there first
                return ProcessResult(ctx.inbound_id, InboundState(state), "already processed", "accept")
            async with self.repo.gathered_events() as gathered:
                outcome, step = await self._run_steps(ctx, current)
            result = self._result(ctx, outcome, step)
            await self.repo.finish_inbound(ctx.inbound_id, result.state, self.clock(),
                                           **_inbound_info(ctx, result), error="")
        self.repo.keep_events(gathered)  # only now: a mail rolled back to its savepoint leaves no events
        return result

    async def _claim(self, job: _Job, ctx: MailContext) -> str:
        """Take an accepted row, or store new bytes inside this transaction."""
        if job.inbound_id is not None:
            return await self.repo.claim_inbound(job.inbound_id)
        try:
            ctx.inbound_id = await self.repo.insert_inbound(job.mailbox.name, job.raw, job.source, job.accepted_at)
        except IntegrityError as exc:
            raise AlreadyStored from exc
        return InboundState.ACCEPTED.value

    async def _quarantine(self, job: _Job, ctx: MailContext, step: str, exc: BaseException) -> ProcessResult:
        log.error("inbound %s (%s) failed in step %s", ctx.inbound_id, _mid(ctx), step, exc_info=exc)
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

    async def _run_steps(self, ctx: MailContext, current: list[str]) -> tuple[Outcome, str]:
        for step in self.steps:
            current[0] = step.name
            outcome = await step.run(ctx)
            if not isinstance(outcome, Continue):
                return outcome, step.name
        return Continue(), ""

    @staticmethod
    def _result(ctx: MailContext, outcome: Outcome, step: str) -> ProcessResult:
        automatic = "bounce" if ctx.bounce else "auto_reply" if ctx.auto_reply else ""
        if isinstance(outcome, Continue):
            return ProcessResult(ctx.inbound_id, InboundState.INGESTED, "", "", ctx.ticket_number,
                                 ctx.created_ticket, automatic)
        return ProcessResult(ctx.inbound_id, _STATE_OF[type(outcome)], outcome.reason, step, automatic=automatic)

    @staticmethod
    def _log(ctx: MailContext, result: ProcessResult) -> None:
        if result.state is InboundState.INGESTED:
            log.info("inbound %s (%s) -> ticket #%s%s", ctx.inbound_id, _mid(ctx), result.ticket_number,
                     " (new)" if result.created_ticket else "")
        else:
            log.info("inbound %s (%s) %s by %s: %s", ctx.inbound_id, _mid(ctx), result.state.value,
                     result.step, result.reason)


def _mid(ctx: MailContext) -> str:
    return f"<{ctx.mail.message_id}>" if ctx.mail else "unparsed"


def _inbound_info(ctx: MailContext, result: ProcessResult) -> dict[str, Any]:
    mail = ctx.mail
    flags: dict[str, Any] = {}
    if ctx.auto_reply:
        flags["auto_reply"] = ctx.auto_reply
    if ctx.bounce:
        flags["bounce"] = ctx.bounce
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
