"""The panel's queues: which tickets each shows, in which order, a page at a time.

Pages are cut by keyset (the last row's sort value and number), not by offset: the hundredth
page costs what the first does, and a ticket that changes while an agent pages does not make
rows repeat or vanish. Each queue's filter and sort match an index of the ticket table
(``Ticket.Meta.indexes``), so a queue stays fast however many closed tickets lie behind it.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailhelpdesk.store.sql import Sql, from_db_datetime

PAGE_SIZE = 50
AT_RISK = timedelta(hours=4)  # a deadline this close is "at risk"
RECENTLY = timedelta(days=7)  # "recently closed"
ACTIVE = ("new", "open", "pending")
RUNNING = ("new", "open")  # the SLA clock runs: pending stops it
DONE = ("resolved", "closed")
URGENCY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}

QUEUES = {  # key → title, in the order the panel lists them
    "mine": "Mine", "unassigned": "Unassigned", "team": "My teams", "overdue": "Overdue",
    "at_risk": "At risk", "pending": "Pending", "open": "All open", "closed": "Recently closed",
}
SORTS = {"due": "Due first", "urgency": "Most urgent", "updated": "Recently updated"}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose queues: "mine" and "my teams" depend on it."""

    email: str
    teams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Filters:
    line: int | None = None
    mailbox: str = ""
    company_id: int | None = None
    urgency: str = ""

    def where(self) -> tuple[list[str], list[Any]]:
        clauses, params = [], []
        for column, value in (("line", self.line), ("mailbox", self.mailbox or None),
                              ("company_id", self.company_id), ("urgency", self.urgency or None)):
            if value is not None:
                clauses.append(f't."{column}" = ?')
                params.append(value)
        return clauses, params


@dataclass(frozen=True, slots=True)
class QueueRow:
    number: int
    subject: str
    status: str
    urgency: str
    line: int
    team: str
    assignee: str
    company: str
    requester: str
    updated_at: datetime
    next_due: datetime | None

    def overdue(self, now: datetime) -> bool:
        return self.next_due is not None and self.next_due < now and self.status in RUNNING


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str = ""  # '' on the last page


class Queues:
    def __init__(self) -> None:
        self._sql = Sql()

    async def page(self, queue: str, viewer: Viewer, now: datetime, sort: str = "due", filters: Filters = Filters(),
                   after: str = "", size: int = PAGE_SIZE) -> QueuePage:
        """Up to ``size`` rows of ``queue`` after the cursor ``after``, and the cursor of the next page."""
        where, params = queue_filter(queue, viewer, now)
        more, more_params = filters.where()
        keyset, keyset_params = _after(sort, after)
        clauses = [where, *more, *([keyset] if keyset else [])]
        # The page is cut from the ticket table alone, then joined: joining every ticket of a
        # large queue before sorting it costs several times the sort.
        sql = (f'{_SELECT} FROM (SELECT * FROM "ticket" t WHERE {" AND ".join(clauses)}'
               f' ORDER BY {_ORDER[sort]} LIMIT ?) t {_JOIN} ORDER BY {_ORDER[sort]}')
        rows = [_row(r) for r in await self._sql.rows(sql, *params, *more_params, *keyset_params, size + 1)]
        return QueuePage(rows[:size], cursor_of(sort, rows[size - 1]) if len(rows) > size else "")

    async def counts(self, viewer: Viewer, now: datetime, filters: Filters = Filters()) -> dict[str, int]:
        """How many tickets each queue holds (with the same filters). One count per queue: each is
        answered from an index, where one pass for all of them reads every unfinished ticket."""
        more, more_params = filters.where()
        found: dict[str, int] = {}
        for key in QUEUES:
            where, params = queue_filter(key, viewer, now)
            row = await self._sql.first(f'SELECT COUNT(*) FROM "ticket" t WHERE {" AND ".join([where, *more])}',
                                        *params, *more_params)
            found[key] = int(row[0]) if row else 0
        return found


def queue_filter(queue: str, viewer: Viewer, now: datetime) -> tuple[str, list[Any]]:
    """The SQL condition (on ``t``, the ticket) that makes a ticket part of ``queue``."""
    if queue == "mine":
        return f't."assignee" = ? AND {_IN(ACTIVE)}', [viewer.email]
    if queue == "unassigned":
        return f't."assignee" = ? AND {_IN(RUNNING)}', [""]
    if queue == "team":
        teams = viewer.teams or ("",)  # no team: an empty queue
        return f't."team" IN ({", ".join("?" * len(teams))}) AND {_IN(ACTIVE)}', [*teams]
    if queue == "overdue":
        return f'{_IN(RUNNING)} AND t."next_due" < ?', [now]
    if queue == "at_risk":
        return f'{_IN(RUNNING)} AND t."next_due" >= ? AND t."next_due" < ?', [now, now + AT_RISK]
    if queue == "pending":
        return _IN(("pending",)), []
    if queue == "closed":
        return f'{_IN(DONE)} AND t."updated_at" >= ?', [now - RECENTLY]
    return _IN(ACTIVE), []  # "open": everything not finished


def _IN(statuses: Sequence[str]) -> str:
    # Written out, not bound: the engines use a partial index (migration 0010) only when they can
    # see that the query asks for its statuses. They are our constants, never a user's text.
    return f't."status" IN ({", ".join(repr(s) for s in statuses)})'


_URGENCY_RANK = ("CASE t.\"urgency\" " + " ".join(f"WHEN '{u}' THEN {r}" for u, r in URGENCY_RANK.items())
                 + " ELSE 9 END")
_ORDER = {
    # Tickets without a deadline come after those with one (PostgreSQL's order of an ascending
    # index; SQLite sorts them last when asked).
    "due": 't."next_due" NULLS LAST, t."number"',
    "urgency": f'{_URGENCY_RANK}, t."number"',
    "updated": 't."updated_at" DESC, t."number" DESC',
}
_SELECT = ('SELECT t."number", t."subject", t."status", t."urgency", t."line", t."team", t."assignee",'
           ' coalesce(co."name", \'\'), c."email", t."updated_at", t."next_due"')
_JOIN = 'JOIN "contact" c ON c."id" = t."requester_id" LEFT JOIN "company" co ON co."id" = t."company_id"'


def cursor_of(sort: str, row: QueueRow) -> str:
    """The keyset cursor after ``row``: its sort value and its number."""
    if sort == "urgency":
        value = str(URGENCY_RANK.get(row.urgency, 9))
    elif sort == "updated":
        value = row.updated_at.isoformat()
    else:
        value = row.next_due.isoformat() if row.next_due else "-"
    return f"{value}~{row.number}"


def _after(sort: str, cursor: str) -> tuple[str, list[Any]]:
    """The keyset condition for rows after ``cursor`` ('' for the first page; a malformed cursor
    starts from the top, as a hand-edited URL deserves)."""
    value, _, number_text = cursor.rpartition("~")
    if not cursor or not _DIGITS.fullmatch(number_text):
        return "", []
    number = int(number_text)
    if sort == "urgency" and value in ("0", "1", "2", "3", "9"):
        return f'({_URGENCY_RANK} > ? OR ({_URGENCY_RANK} = ? AND t."number" > ?))', [int(value), int(value), number]
    if sort == "updated":
        moment = _moment(value)
        if moment is None:
            return "", []
        return '(t."updated_at" < ? OR (t."updated_at" = ? AND t."number" < ?))', [moment, moment, number]
    if value == "-":
        return 't."next_due" IS NULL AND t."number" > ?', [number]
    moment = _moment(value)
    if moment is None:
        return "", []
    return ('(t."next_due" > ? OR (t."next_due" = ? AND t."number" > ?) OR t."next_due" IS NULL)',
            [moment, moment, number])


_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII digits only ("²" is a digit to str.isdigit), within an int4


def _moment(text: str) -> datetime | None:
    try:
        return from_db_datetime(text)
    except ValueError:
        return None


def _row(r: Sequence[Any]) -> QueueRow:
    return QueueRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), str(r[5]), str(r[6]), str(r[7]),
                    str(r[8]), from_db_datetime(r[9]), from_db_datetime(r[10]) if r[10] is not None else None)
