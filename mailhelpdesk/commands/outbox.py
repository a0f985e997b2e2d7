"""``mailhelpdesk outbox``: what is queued, sent, failed, suppressed or held, and what to do about it."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from mailhelpdesk.commands.text import clip
from mailhelpdesk.reads import Reads
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import SYSTEM, Actor

if TYPE_CHECKING:  # importing the runtime loads the mail pipeline, which listing and showing do not need
    from mailhelpdesk.app import Runtime


async def list_outbox(reads: Reads, out: TextIO, statuses: list[str], number: int | None, limit: int) -> int:
    ticket_id = None
    if number is not None:
        ref = await reads.repo.ticket_ref(number=number)
        if ref is None:
            return -1
        ticket_id = ref.id
    rows = await reads.outbox.listing(statuses, ticket_id, limit)
    tripped = await reads.outbox.breaker_tripped()
    if tripped:
        out.write(f"BREAKER TRIPPED: {tripped}\n  automatic mail is held: `mailhelpdesk outbox resume` sends it, "
                  "`outbox resume --discard` drops it\n")
    for row in rows:
        when = (row.sent_at or row.created_at).strftime("%Y-%m-%d %H:%M")
        out.write(f"{row.id:>6}  {row.status:<10} {when}  {row.template:<18} {row.recipient:<32} "
                  f"{clip(row.reason, 60)}\n")
    counts = await reads.outbox.counts()
    out.write(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "the outbox is empty")
    out.write("\n")
    return len(rows)


async def show_outbox(reads: Reads, outbox_id: int, out: TextIO) -> bool:
    raw = await reads.outbox.raw(outbox_id)
    if raw is None:
        return False
    out.write(raw.decode("ascii", "replace").replace("\r\n", "\n"))
    return True


async def send_outbox(runtime: "Runtime", out: TextIO) -> int:
    tally = await runtime.sender.run(datetime.now(UTC))
    out.write(", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())) or "nothing to send")
    out.write("\n")
    return 1 if tally.get("failed") else 0


async def retry_outbox(runtime: "Runtime", ids: list[int], out: TextIO) -> int:
    queued = await retry_failed(runtime, ids, SYSTEM, datetime.now(UTC))
    out.write(f"{len(queued)} failed mail(s) queued again\n")
    return 0 if len(queued) == len(ids) else 1


async def resume_outbox(runtime: "Runtime", discard: bool, out: TextIO) -> int:
    held = await resume_held(runtime, discard, SYSTEM, datetime.now(UTC))
    out.write(f"automatic mail flows again; {held} held mail(s) {'discarded' if discard else 'queued'}\n")
    return 0


# The two actions are shared by the command line and the panel's admin pages.


async def retry_failed(runtime: "Runtime", ids: list[int], actor: Actor, now: datetime) -> list[int]:
    """Queue failed mail again; the IDs queued (a row that is not failed is left alone)."""
    queued: list[int] = []
    async with transaction():
        for outbox_id in ids:
            if await runtime.outbox.retry([outbox_id], now):
                queued.append(outbox_id)
        if queued:
            await runtime.repo.event("outbox.retried", {"ids": queued}, actor=str(actor), at=now)
    return queued


async def resume_held(runtime: "Runtime", discard: bool, actor: Actor, now: datetime) -> int:
    """Reset the tripped breaker: held mail is queued, or dropped (``discard``); the number held."""
    async with transaction():
        was = await runtime.outbox.breaker_tripped()
        held = await runtime.outbox.reset_breaker(not discard, now)
        await runtime.repo.event("outbox.resumed", {"was": was, "held": held, "discarded": discard},
                                 actor=str(actor), at=now)
    return held
