"""SLA timers and timed triggers in the ``ticket_timer`` table.

Each row is one moment a ticket's rules must run. Claims are single statements that only
one transaction can win, on SQLite and PostgreSQL alike: a conditional UPDATE for SLA rows
written ahead, an INSERT that the unique key lets through once for timed triggers. A claim
is the first write of its transaction, so SQLite takes the write lock before reading.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.sla.clock import SlaPlan
from mailhelpdesk.sla.deadlines import Deadline
from mailhelpdesk.store.sql import Sql, from_db_datetime

SLA_EVENTS = ("sla_warning", "sla_breached")
AUTO_CLOSE = "auto_close"  # a resolved ticket closes by itself (target "resolved")
_DONE = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
_SLA = "\"event\" IN ('sla_warning', 'sla_breached')"
_OPEN = f"t.\"status\" NOT IN ('{_DONE[0]}', '{_DONE[1]}')"


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: int  # 0 for a timed trigger (claimed by inserting its row)
    ticket_id: int
    event: str
    target: str  # the SLA target, or the trigger's duration as written ("5d")
    due_at: datetime


class TimerStore:
    def __init__(self) -> None:
        self._sql = Sql()

    async def schedule(self, ticket_id: int, writes: dict[str, Deadline | None], new_ticket: bool = False) -> None:
        """Replace the unfired SLA timers of each written target by its new warning and breach
        (a new ticket has none to replace), in one statement for each."""
        if not writes:
            return
        if not new_ticket:
            targets = list(writes)
            await self._sql.execute(f'DELETE FROM "ticket_timer" WHERE "ticket_id" = ? AND "target" IN'
                                    f' ({", ".join("?" * len(targets))}) AND {_SLA} AND "fired_at" IS NULL',
                                    ticket_id, *targets)
        rows = []
        for target, deadline in writes.items():
            if deadline is not None:
                if deadline.warn is not None and deadline.warn < deadline.due:
                    rows.append((ticket_id, "sla_warning", target, deadline.warn))
                rows.append((ticket_id, "sla_breached", target, deadline.due))
        await self._sql.insert_many('INSERT INTO "ticket_timer" ("ticket_id", "event", "target", "due_at")'
                                    ' VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', rows)

    async def shift(self, ticket_id: int, plan: SlaPlan) -> None:
        """Move the unfired SLA timers after a pause later, as the deadlines moved."""
        since = plan.clock.since if plan.clock else None
        if since is None:
            return
        rows = await self._sql.rows(f'SELECT "id", "event", "target", "due_at" FROM "ticket_timer"'
                                    f' WHERE "ticket_id" = ? AND {_SLA} AND "fired_at" IS NULL AND "due_at" > ?',
                                    ticket_id, since)
        for timer_id, event, target, due in rows:
            await self._sql.execute('DELETE FROM "ticket_timer" WHERE "id" = ?', timer_id)
            await self._add(ticket_id, str(event), str(target), plan.shifted(from_db_datetime(due)))

    async def drop_unfired(self, ticket_id: int) -> None:
        """A resolved or closed ticket has no SLA moments left."""
        await self._sql.execute(f'DELETE FROM "ticket_timer" WHERE "ticket_id" = ? AND {_SLA}'
                                f' AND "fired_at" IS NULL', ticket_id)

    async def schedule_auto_close(self, ticket_id: int, at: datetime) -> None:
        await self.drop_auto_close(ticket_id)
        await self._add(ticket_id, AUTO_CLOSE, "resolved", at)

    async def drop_auto_close(self, ticket_id: int) -> None:
        await self._sql.execute('DELETE FROM "ticket_timer" WHERE "ticket_id" = ? AND "event" = ?'
                                ' AND "fired_at" IS NULL', ticket_id, AUTO_CLOSE)

    async def due_auto_close(self, now: datetime, limit: int) -> list[DueTimer]:
        """Resolved tickets whose silence has lasted until their closing time."""
        return await self._due_rows('tt."event" = ? AND t."status" = ?', now, limit, AUTO_CLOSE,
                                    TicketStatus.RESOLVED.value)

    async def due_sla(self, now: datetime, limit: int) -> list[DueTimer]:
        """Unfired SLA timers that are due, of open tickets whose clock runs, oldest first."""
        return await self._due_rows(f'tt.{_SLA} AND t."sla_paused_at" IS NULL AND {_OPEN}', now, limit)

    async def _due_rows(self, where: str, now: datetime, limit: int, *params: object) -> list[DueTimer]:
        """Unfired rows written ahead that are due, whose ticket matches ``where``, oldest first."""
        rows = await self._sql.rows(
            'SELECT tt."id", tt."ticket_id", tt."event", tt."target", tt."due_at" FROM "ticket_timer" tt'
            f' JOIN "ticket" t ON t."id" = tt."ticket_id" WHERE {where} AND tt."fired_at" IS NULL'
            ' AND tt."due_at" <= ? ORDER BY tt."due_at" LIMIT ?', *params, now, limit)
        return [DueTimer(int(r[0]), int(r[1]), str(r[2]), str(r[3]), from_db_datetime(r[4])) for r in rows]

    async def claim(self, timer: DueTimer, now: datetime) -> bool:
        """Take the timer for this transaction; False if another process took it."""
        if timer.id:
            return await self._sql.execute('UPDATE "ticket_timer" SET "fired_at" = ? WHERE "id" = ?'
                                           ' AND "fired_at" IS NULL', now, timer.id) == 1
        return await self._sql.insert_if_new(
            'INSERT INTO "ticket_timer" ("ticket_id", "event", "target", "due_at", "fired_at")'
            ' VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
            timer.ticket_id, timer.event, timer.target, timer.due_at, now)

    async def due_pending(self, after: timedelta, label: str, now: datetime, limit: int) -> list[DueTimer]:
        """Tickets pending for ``after`` that have not fired this trigger since they became pending."""
        return await self._due_timed("pending_for", label, 't."status" = \'pending\'',
                                     'COALESCE(t."status_since", t."created_at")', now - after, limit)

    async def due_quiet(self, after: timedelta, label: str, now: datetime, limit: int) -> list[DueTimer]:
        """Open tickets with no update for ``after`` that have not fired this trigger since that update."""
        return await self._due_timed("no_update_for", label, _OPEN, 't."updated_at"', now - after, limit)

    async def _due_timed(self, event: str, label: str, where: str, anchor: str, cutoff: datetime,
                         limit: int) -> list[DueTimer]:
        # The row's due_at is the moment counted from (status_since / updated_at), so a ticket
        # fires again only after that moment moves.
        rows = await self._sql.rows(
            f'SELECT t."id", {anchor} FROM "ticket" t WHERE {where} AND {anchor} <= ? AND NOT EXISTS'
            f' (SELECT 1 FROM "ticket_timer" tt WHERE tt."ticket_id" = t."id" AND tt."event" = ?'
            f' AND tt."target" = ? AND tt."due_at" = {anchor}) ORDER BY {anchor} LIMIT ?',
            cutoff, event, label, limit)
        return [DueTimer(0, int(r[0]), event, label, from_db_datetime(r[1])) for r in rows]

    async def _add(self, ticket_id: int, event: str, target: str, due: datetime) -> None:
        await self._sql.execute('INSERT INTO "ticket_timer" ("ticket_id", "event", "target", "due_at")'
                                ' VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', ticket_id, event, target, due)
