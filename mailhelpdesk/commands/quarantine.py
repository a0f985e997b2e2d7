"""``mailhelpdesk quarantine list|replay``, and discarding, which the admin pages offer as well.

``replay`` and ``discard`` are shared by the command line and the panel's admin pages, so a
message is treated the same whichever way an admin acts; each records who did it as an event.
"""

from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.reads import Reads
from mailhelpdesk.tickets.actor import SYSTEM, Actor

if TYPE_CHECKING:  # these load the mail pipeline or the rules engine, which ``quarantine list`` does not need
    from mailhelpdesk.app import Runtime
    from mailhelpdesk.pipeline.runner import ProcessResult
    from mailhelpdesk.store.repository import Repository


async def list_quarantine(reads: Reads, out: TextIO) -> int:
    rows = await reads.repo.inbound_list([InboundState.QUARANTINED])
    for row in rows:
        out.write(f"{row.id:>7}  {row.accepted_at.isoformat()}  {row.mailbox:<10} step={row.step or '-'}  "
                  f"{row.reason}{'  error=' + row.error.splitlines()[0] if row.error else ''}\n"
                  f"         from={row.sender or '-'}  subject={row.subject[:60] or '-'}  source={row.source}\n")
    return len(rows)


async def replay(runtime: "Runtime", ids: list[int] | None, actor: Actor = SYSTEM) -> "list[ProcessResult]":
    """Run quarantined messages through the pipeline again (all of them when ``ids`` is None)."""
    from mailhelpdesk.store.repository import transaction

    rows = await runtime.repo.inbound_list([InboundState.QUARANTINED])
    wanted = [r.id for r in rows if ids is None or r.id in ids]
    await runtime.repo.requeue(wanted)
    results = [await runtime.pipeline.process(i) for i in wanted]
    async with transaction():  # the pipeline's events say what became of each; this one, who asked
        for r in results:
            await runtime.repo.event("inbound.replayed", {"state": r.state.value, "reason": r.reason,
                                                          "ticket": r.ticket_number},
                                     inbound_id=r.inbound_id, actor=str(actor), at=runtime.pipeline.clock())
    return results


async def discard(repo: "Repository", ids: list[int], actor: Actor, now: datetime) -> list[int]:
    """End quarantined messages as ``ignored``, naming who discarded them; the IDs discarded.

    The raw bytes stay (accepted mail is kept forever): the row keeps its step and error, and
    its reason says who discarded it and what held it, so the export still accounts for it.
    """
    from mailhelpdesk.store.models import Inbound
    from mailhelpdesk.store.repository import transaction

    done: list[int] = []
    async with transaction():
        held = Inbound.filter(id__in=ids, state=InboundState.QUARANTINED.value).order_by("id")
        for row in await held.only("id", "reason", "step"):
            reason = f"discarded from quarantine by {actor} (was: {row.reason or 'quarantined'})"
            # Conditional on the state: a replay running at the same moment wins, never both.
            if await Inbound.filter(id=row.id, state=InboundState.QUARANTINED.value).update(
                    state=InboundState.IGNORED.value, reason=reason, processed_at=now):
                await repo.event("inbound.discarded", {"reason": row.reason, "step": row.step},
                                 inbound_id=row.id, actor=str(actor), at=now)
                done.append(row.id)
    return done


async def not_quarantined(runtime: "Runtime", ids: list[int]) -> list[int]:
    """The requested IDs that are not in quarantine (unknown, or already processed)."""
    rows = await runtime.repo.inbound_list([InboundState.QUARANTINED])
    present = {r.id for r in rows}
    return [i for i in ids if i not in present]
