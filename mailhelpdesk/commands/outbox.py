"""``mailhelpdesk outbox``: what is queued, sent, failed, suppressed or held, and what to do about it."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from mailhelpdesk.commands.text import clip
from mailhelpdesk.reads import Reads
from mailhelpdesk.store.repository import transaction

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
    async with transaction():
        changed = await runtime.outbox.retry(ids, datetime.now(UTC))
    out.write(f"{changed} failed mail(s) queued again\n")
    return 0 if changed == len(ids) else 1


async def resume_outbox(runtime: "Runtime", discard: bool, out: TextIO) -> int:
    now = datetime.now(UTC)
    async with transaction():
        was = await runtime.outbox.breaker_tripped()
        held = await runtime.outbox.reset_breaker(not discard, now)
        await runtime.repo.event("outbox.resumed", {"was": was, "held": held, "discarded": discard})
    out.write(f"automatic mail flows again; {held} held mail(s) {'discarded' if discard else 'queued'}\n")
    return 0
