"""Hand-written SQL on the connection Tortoise opened, for the statements run on every message.

Building a statement through the ORM costs several times more CPU than running it, and
intake runs about ten per message, so the hot path writes its SQL once. Statements use
``?`` placeholders; on PostgreSQL they become ``$1, $2 …``. Values are encoded here the way
the ORM encodes them, so rows written either way read back the same: datetimes are aware
UTC (on SQLite the ORM's ISO text), JSON is compact text.
"""

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

_PLACEHOLDER = re.compile(r"\?")
_postgres_text: dict[str, str] = {}


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def from_json(value: Any) -> Any:
    """A JSON column as read: text on SQLite, text or already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def from_db_datetime(value: Any) -> datetime:
    """A timestamp column as read: ISO text on SQLite (as the ORM wrote it), a datetime on PostgreSQL."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$n`` (our statements have no literal ``?``)."""
    text = _postgres_text.get(sql)
    if text is None:
        counter = iter(range(1, 10_000))
        text = _postgres_text[sql] = _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)
    return text


class Sql:
    """Run statements on the current connection (the transaction's, inside one)."""

    def __init__(self, connection_name: str = "default") -> None:
        self._name = connection_name

    def _client(self) -> tuple[BaseDBAsyncClient, bool]:
        client = connections.get(self._name)
        return client, client.capabilities.dialect == "postgres"

    @property
    def postgres(self) -> bool:
        return self._client()[1]

    def _prepare(self, sql: str, params: Sequence[Any]) -> tuple[BaseDBAsyncClient, str, list[Any]]:
        client, postgres = self._client()
        if postgres:
            return client, _numbered(sql), list(params)
        return client, sql, [_sqlite_value(p) for p in params]

    async def rows(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        client, text, values = self._prepare(sql, params)
        return cast(list[Sequence[Any]], list((await client.execute_query(text, values))[1]))

    async def first(self, sql: str, *params: Any) -> Sequence[Any] | None:
        rows = await self.rows(sql, *params)
        return rows[0] if rows else None

    async def execute(self, sql: str, *params: Any) -> int:
        """An UPDATE or DELETE; returns the number of rows it changed."""
        client, text, values = self._prepare(sql, params)
        return int((await client.execute_query(text, values))[0])

    async def insert(self, sql: str, *params: Any) -> int:
        """An INSERT into a table with an ``id`` key; returns the new id."""
        client, postgres = self._client()
        if postgres:
            row = await client.execute_insert(_numbered(sql + " RETURNING id"), list(params))
            return int(row["id"])
        values = [_sqlite_value(p) for p in params]
        if sqlite3.sqlite_version_info < (3, 35):  # RETURNING arrived in SQLite 3.35
            return int(await client.execute_insert(sql, values))
        # One statement, not two: the driver's insert asks SQLite for last_insert_rowid() separately.
        return int((await client.execute_query(sql + " RETURNING id", values))[1][0][0])

    async def insert_new(self, sql: str, *params: Any) -> int | None:
        """An ``INSERT … ON CONFLICT DO NOTHING`` into a table with an ``id`` key: the new id, or
        None if a unique key already held the row. (No failed statement: on PostgreSQL that would
        abort the whole transaction.)"""
        client, postgres = self._client()
        if postgres:
            row = await client.execute_insert(_numbered(sql + " RETURNING id"), list(params))
            return int(row["id"]) if row is not None else None
        values = [_sqlite_value(p) for p in params]
        if sqlite3.sqlite_version_info < (3, 35):
            if int((await client.execute_query(sql, values))[0]) != 1:
                return None
            return int((await client.execute_query("SELECT last_insert_rowid()"))[1][0][0])
        rows = (await client.execute_query(sql + " RETURNING id", values))[1]
        return int(rows[0][0]) if rows else None

    async def insert_if_new(self, sql: str, *params: Any, key: str = "id") -> bool:
        """An ``INSERT … ON CONFLICT DO NOTHING``; True if it added the row. (On PostgreSQL the
        driver reports an INSERT's OID where the row count should be, so ask for the row's ``key`` back.)"""
        client, postgres = self._client()
        if postgres:
            returning = f' RETURNING "{key}"'
            return await client.execute_insert(_numbered(sql + returning), list(params)) is not None
        return int((await client.execute_query(sql, [_sqlite_value(p) for p in params]))[0]) == 1

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """The same INSERT (``… VALUES (?, …)``) for several rows, as one statement per chunk."""
        head, marks, tail = _values_clause(sql)
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            client, text, values = self._prepare(f"{head} {', '.join([marks] * len(chunk))} {tail}".rstrip(),
                                                 [value for row in chunk for value in row])
            await client.execute_query(text, values)


_ROWS_PER_STATEMENT = 200  # well within both engines' limits on bound parameters
_VALUES = re.compile(r"^(.*\bVALUES)\s*(\([?,\s]*\))\s*(.*)$", re.DOTALL)


def _values_clause(sql: str) -> tuple[str, str, str]:
    """``INSERT … VALUES``, its ``(?, ?)`` group (repeated once per row) and what follows it."""
    match = _VALUES.match(sql)
    if match is None:
        raise ValueError(f"insert_many needs an INSERT with VALUES (?, …): {sql!r}")
    return match.group(1), match.group(2), match.group(3)


def _sqlite_value(value: Any) -> Any:
    # The ORM stores SQLite datetimes as ISO text with a space; compare and sort as such.
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat(" ")
    return value
