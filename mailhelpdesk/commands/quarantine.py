"""``mailhelpdesk quarantine list|replay``."""

from typing import TYPE_CHECKING, TextIO

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.reads import Reads

if TYPE_CHECKING:  # both load the mail pipeline, which ``quarantine list`` does not need
    from mailhelpdesk.app import Runtime
    from mailhelpdesk.pipeline.runner import ProcessResult


async def list_quarantine(reads: Reads, out: TextIO) -> int:
    rows = await reads.repo.inbound_list([InboundState.QUARANTINED])
    for row in rows:
        out.write(f"{row.id:>7}  {row.accepted_at.isoformat()}  {row.mailbox:<10} step={row.step or '-'}  "
                  f"{row.reason}{'  error=' + row.error.splitlines()[0] if row.error else ''}\n"
                  f"         from={row.sender or '-'}  subject={row.subject[:60] or '-'}  source={row.source}\n")
    return len(rows)


async def replay(runtime: "Runtime", ids: list[int] | None) -> "list[ProcessResult]":
    """Run quarantined messages through the pipeline again (all of them when ``ids`` is None)."""
    rows = await runtime.repo.inbound_list([InboundState.QUARANTINED])
    wanted = [r.id for r in rows if ids is None or r.id in ids]
    await runtime.repo.requeue(wanted)
    return [await runtime.pipeline.process(i) for i in wanted]


async def not_quarantined(runtime: "Runtime", ids: list[int]) -> list[int]:
    """The requested IDs that are not in quarantine (unknown, or already processed)."""
    rows = await runtime.repo.inbound_list([InboundState.QUARANTINED])
    present = {r.id for r in rows}
    return [i for i in ids if i not in present]
