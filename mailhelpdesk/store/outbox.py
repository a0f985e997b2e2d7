"""The ``outbox`` table: mail queued with the change that caused it, sent later, once.

A sender claims a row with a conditional UPDATE (queued → sending) that only one process can
win, commits, talks SMTP, then records the outcome. A row left in ``sending`` by a crash is
queued again after its lease, with the same bytes and Message-ID.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailhelpdesk.store.sql import Sql, from_db_datetime

QUEUED, SENDING, SENT, FAILED, SUPPRESSED, HELD = "queued", "sending", "sent", "failed", "suppressed", "held"
BREAKER = "outbox_breaker"
# When an admin last resumed: the breaker counts only mail queued since, or the backlog it was
# tripped by would trip it again with the very next mail.
RESUMED = "outbox_breaker_resumed"
_COUNTED = f"('{QUEUED}', '{SENDING}', '{SENT}', '{HELD}')"  # mail that went or will go out
_LIKE_SPECIAL = re.compile(r"([!%_])")  # LIKE's wildcards and our escape character
_LIST = ('"id", "ticket_id", "template", "audience", "recipient", "status", "reason", "attempts", "created_at",'
         ' "sent_at", "subject"')


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    ticket_id: int | None
    template: str
    audience: str
    automatic: bool
    cause: str
    mailbox: str
    sender: str
    recipient: str
    message_id: str
    subject: str
    language: str
    raw: bytes
    status: str
    reason: str = ""
    cc: tuple[str, ...] = ()  # further envelope recipients


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    ticket_id: int | None
    template: str
    audience: str
    recipient: str
    status: str
    reason: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    subject: str


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    ticket_id: int | None
    template: str
    mailbox: str
    sender: str
    recipient: str
    raw: bytes
    attempts: int
    cc: tuple[str, ...] = ()

    @property
    def recipients(self) -> list[str]:
        return [self.recipient, *self.cc]


class OutboxStore:
    def __init__(self) -> None:
        self._sql = Sql()

    async def add(self, entry: OutboxEntry, now: datetime) -> int:
        return await self._sql.insert(
            'INSERT INTO "outbox" ("ticket_id", "template", "audience", "automatic", "cause", "mailbox", "sender",'
            ' "recipient", "message_id", "subject", "language", "raw_message", "status", "reason", "attempts",'
            ' "next_attempt_at", "created_at", "cc") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)',
            entry.ticket_id, entry.template, entry.audience, entry.automatic, entry.cause[:100], entry.mailbox,
            entry.sender, entry.recipient, entry.message_id, entry.subject[:998], entry.language, entry.raw,
            entry.status, entry.reason, now, now, " ".join(entry.cc))

    async def sent_to(self, message_ids: Sequence[str], recipients: Sequence[str]) -> int | None:
        """The ticket of the first of ``message_ids`` we mailed to one of ``recipients`` (an agent's
        proof of having received our notification), if any."""
        ids, people = list(dict.fromkeys(message_ids))[:100], list(dict.fromkeys(recipients))
        if not ids or not people:
            return None
        row = await self._sql.first(
            f'SELECT "ticket_id" FROM "outbox" WHERE "message_id" IN ({", ".join("?" * len(ids))})'
            f' AND "recipient" IN ({", ".join("?" * len(people))}) AND "ticket_id" IS NOT NULL LIMIT 1',
            *ids, *people)
        return int(row[0]) if row else None

    async def recent(self, now: datetime, window: timedelta, *, recipient: str | None = None,
                     ticket_id: int | None = None, since: datetime | None = None, domain: str | None = None) -> int:
        """Automatic mails queued since ``now - window`` and not before ``since`` (to one recipient,
        or about one ticket, or to addresses of one domain, or all); suppressed mail does not count.
        Recipients are stored lowercase; ``domain`` must be too."""
        # Migration 0014's index (automatic, status, created_at, recipient) serves each count: it
        # reads only the window's entries, never every mail ever sent, and from the index alone.
        where, params = ['"automatic" = ?', '"created_at" > ?', f'"status" IN {_COUNTED}'], [True, now - window]
        if since is not None:
            where.append('"created_at" >= ?')
            params.append(since)
        if recipient is not None:
            where.append('"recipient" = ?')
            params.append(recipient)
        if ticket_id is not None:
            where.append('"ticket_id" = ?')
            params.append(ticket_id)
        if domain is not None:
            where.append('"recipient" LIKE ? ESCAPE \'!\'')
            params.append("%@" + _LIKE_SPECIAL.sub(r"!\1", domain))
        row = await self._sql.first(f'SELECT COUNT(*) FROM "outbox" WHERE {" AND ".join(where)}', *params)
        return int(row[0]) if row else 0

    # --- the breaker -------------------------------------------------------------------------

    async def breaker_tripped(self) -> str:
        """Why the breaker is tripped ('' when mail flows)."""
        row = await self._sql.first('SELECT "value" FROM "service_flag" WHERE "name" = ?', BREAKER)
        return str(row[0]) if row and row[0] else ""

    async def trip_breaker(self, reason: str, now: datetime) -> bool:
        """Trip it; False if it already was (another process, or an earlier mail)."""
        return await self._sql.insert_if_new(
            'INSERT INTO "service_flag" ("name", "value", "changed_at") VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
            BREAKER, reason, now, key="name")

    async def breaker_resumed_at(self) -> datetime | None:
        """When an admin last let automatic mail flow again (None: never)."""
        row = await self._sql.first('SELECT "changed_at" FROM "service_flag" WHERE "name" = ?', RESUMED)
        return from_db_datetime(row[0]) if row else None

    async def reset_breaker(self, release: bool, now: datetime) -> int:
        """Let automatic mail flow again; held mail is queued (``release``) or suppressed. Returns held rows."""
        await self._sql.execute('DELETE FROM "service_flag" WHERE "name" = ?', BREAKER)
        await self._sql.execute(
            'INSERT INTO "service_flag" ("name", "value", "changed_at") VALUES (?, ?, ?) ON CONFLICT ("name")'
            ' DO UPDATE SET "value" = excluded."value", "changed_at" = excluded."changed_at"',
            RESUMED, "released" if release else "discarded", now)
        if not release:  # never sent: not part of the ticket's thread either
            await self._sql.execute('DELETE FROM "message" WHERE "message_id" IN'
                                    ' (SELECT "message_id" FROM "outbox" WHERE "status" = ?)', HELD)
        status, reason = (QUEUED, "") if release else (SUPPRESSED, "held by the breaker, discarded by an admin")
        return await self._sql.execute('UPDATE "outbox" SET "status" = ?, "reason" = ?, "next_attempt_at" = ?'
                                       ' WHERE "status" = ?', status, reason, now, HELD)

    # --- sending -----------------------------------------------------------------------------

    async def requeue_stale(self, now: datetime, lease: timedelta) -> int:
        """Rows a crashed sender left in ``sending``: send again (same bytes, same Message-ID)."""
        return await self._sql.execute('UPDATE "outbox" SET "status" = ?, "next_attempt_at" = ? WHERE "status" = ?'
                                       ' AND "claimed_at" < ?', QUEUED, now, SENDING, now - lease)

    async def due(self, now: datetime, limit: int) -> list[int]:
        rows = await self._sql.rows('SELECT "id" FROM "outbox" WHERE "status" = ? AND "next_attempt_at" <= ?'
                                    ' ORDER BY "next_attempt_at", "id" LIMIT ?', QUEUED, now, limit)
        return [int(r[0]) for r in rows]

    async def claim(self, outbox_id: int, now: datetime) -> Claimed | None:
        """Take a queued row for sending; None if another process took it."""
        taken = await self._sql.execute('UPDATE "outbox" SET "status" = ?, "claimed_at" = ?,'
                                        ' "attempts" = "attempts" + 1 WHERE "id" = ? AND "status" = ?',
                                        SENDING, now, outbox_id, QUEUED)
        if taken != 1:
            return None
        row = await self._sql.first('SELECT "id", "ticket_id", "template", "mailbox", "sender", "recipient",'
                                    ' "raw_message", "attempts", "cc" FROM "outbox" WHERE "id" = ?', outbox_id)
        assert row is not None
        return Claimed(int(row[0]), _int(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                       bytes(row[6]), int(row[7]), tuple(str(row[8] or "").split()))

    async def finish(self, outbox_id: int, status: str, reason: str, now: datetime,
                     next_attempt: datetime | None = None) -> None:
        await self._sql.execute(
            'UPDATE "outbox" SET "status" = ?, "reason" = ?, "sent_at" = ?, "next_attempt_at" = ?,'
            ' "claimed_at" = NULL WHERE "id" = ? AND "status" = ?',
            status, reason[:4000], now if status == SENT else None, next_attempt or now, outbox_id, SENDING)

    async def retry(self, outbox_ids: Sequence[int], now: datetime) -> int:
        """Queue failed rows again (an admin fixed the relay)."""
        changed = 0
        for outbox_id in outbox_ids:
            changed += await self._sql.execute('UPDATE "outbox" SET "status" = ?, "attempts" = 0,'
                                               ' "next_attempt_at" = ? WHERE "id" = ? AND "status" = ?',
                                               QUEUED, now, outbox_id, FAILED)
        return changed

    # --- reading -----------------------------------------------------------------------------

    async def listing(self, statuses: Sequence[str] = (), ticket_id: int | None = None,
                      limit: int = 100) -> list[OutboxRow]:
        where: list[str] = []
        params: list[Any] = []
        if statuses:
            where.append(f'"status" IN ({", ".join("?" * len(statuses))})')
            params += list(statuses)
        if ticket_id is not None:
            where.append('"ticket_id" = ?')
            params.append(ticket_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self._sql.rows(f'SELECT {_LIST} FROM "outbox"{clause} ORDER BY "id" DESC LIMIT ?',
                                    *params, limit)
        return [_row(r) for r in rows]

    async def raw(self, outbox_id: int) -> bytes | None:
        row = await self._sql.first('SELECT "raw_message" FROM "outbox" WHERE "id" = ?', outbox_id)
        return bytes(row[0]) if row else None

    async def counts(self) -> dict[str, int]:
        rows = await self._sql.rows('SELECT "status", COUNT(*) FROM "outbox" GROUP BY "status"')
        return {str(r[0]): int(r[1]) for r in rows}


def _row(r: Sequence[Any]) -> OutboxRow:
    return OutboxRow(int(r[0]), _int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), str(r[6]), int(r[7]),
                     from_db_datetime(r[8]), from_db_datetime(r[9]) if r[9] is not None else None, str(r[10]))


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
