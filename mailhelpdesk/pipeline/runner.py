"""The pipeline runner: one accepted message through the ordered steps, in one transaction.

This is the one place that catches unexpected errors on the mail path: any exception
rolls the message's work back and quarantines it with the step name and the error,
from where ``quarantine replay`` can run it again.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.outcomes import Continue, Duplicate, Hold, Ignore, Outcome
from mailhelpdesk.domain.types import InboundState
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

    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    async def process(self, inbound_id: int, loaded: tuple[str, bytes, datetime] | None = None) -> ProcessResult:
        """Process one accepted message; ``loaded`` (mailbox, raw, accepted_at) saves re-reading it."""
        mailbox, raw, accepted_at = loaded or await self.repo.inbound_raw(inbound_id)
        box = self.mailboxes.get(mailbox) or MailboxSettings(mailbox, "")
        ctx = MailContext(inbound_id=inbound_id, mailbox=box, raw=raw, accepted_at=accepted_at)
        current = ["accept"]
        try:
            async with transaction():
                outcome, step = await self._run_steps(ctx, current)
                result = self._result(ctx, outcome, step)
                await self.repo.finish_inbound(inbound_id, result.state, self.clock(), **_inbound_info(ctx, result))
        except Exception as exc:
            log.exception("inbound %s (%s) failed in step %s", inbound_id, _mid(ctx), current[0])
            result = ProcessResult(inbound_id, InboundState.QUARANTINED, f"error in step {current[0]}", current[0])
            error = f"{type(exc).__name__}: {exc}"[:4000]
            await self.repo.finish_inbound(inbound_id, result.state, self.clock(),
                                           **_inbound_info(ctx, result), error=error)
        self._log(ctx, result)
        return result

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
