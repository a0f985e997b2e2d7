"""Full-text search over messages (subject and body): see docs/search.md.

SQLite: an FTS5 table with ``message`` as its external content, kept current by triggers
(messages are inserted by hand-written SQL as well as by the ORM: triggers catch both), and
filled from the rows already there. PostgreSQL: a GIN index on the same expression the search
query uses, or the planner would not use it.

The statements live here, not in ``store/search.py``: a migration must keep doing what it did
when it was written, whatever the search code becomes. Tortoise's RunSQL splits SQLite scripts
on ';', which would cut the trigger bodies apart, hence RunPython and one statement per call.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE_UP = (
    # unicode61 folds case for every script (Cyrillic too) and, with remove_diacritics 2,
    # lets "cafe" find "café".
    """CREATE VIRTUAL TABLE "message_fts" USING fts5(
        "subject", "text", content='message', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER "message_fts_insert" AFTER INSERT ON "message" BEGIN
        INSERT INTO "message_fts" (rowid, "subject", "text") VALUES (new."id", new."subject", new."text");
    END""",
    # An external-content table forgets a row only when told its old values.
    """CREATE TRIGGER "message_fts_delete" AFTER DELETE ON "message" BEGIN
        INSERT INTO "message_fts" ("message_fts", rowid, "subject", "text")
            VALUES ('delete', old."id", old."subject", old."text");
    END""",
    """CREATE TRIGGER "message_fts_update" AFTER UPDATE OF "subject", "text" ON "message" BEGIN
        INSERT INTO "message_fts" ("message_fts", rowid, "subject", "text")
            VALUES ('delete', old."id", old."subject", old."text");
        INSERT INTO "message_fts" (rowid, "subject", "text") VALUES (new."id", new."subject", new."text");
    END""",
    # The messages stored before this migration.
    """INSERT INTO "message_fts" ("message_fts") VALUES ('rebuild')""",
    # from:ann@acme.com and from:acme.com (the expression must be the one the search uses).
    'CREATE INDEX "message_from_addr" ON "message" ("from_addr")',
    """CREATE INDEX "message_from_domain" ON "message" (substr("from_addr", instr("from_addr", '@') + 1))""",
)
SENDERS_DOWN = ('DROP INDEX IF EXISTS "message_from_domain"', 'DROP INDEX IF EXISTS "message_from_addr"')
SQLITE_DOWN = (
    *SENDERS_DOWN,
    'DROP TRIGGER IF EXISTS "message_fts_update"',
    'DROP TRIGGER IF EXISTS "message_fts_delete"',
    'DROP TRIGGER IF EXISTS "message_fts_insert"',
    'DROP TABLE IF EXISTS "message_fts"',
)
# 'simple': mail comes in many languages, so no stemming and no stop words, only lower case.
# Only the first 100,000 characters: to_tsvector fails on text whose vector would pass 1 MB,
# and in an index that failure would refuse the message itself (a pasted log file, say).
POSTGRES_UP = (
    """CREATE INDEX "message_search" ON "message" USING gin (to_tsvector('simple',
        left(coalesce("subject", '') || ' ' || coalesce("text", ''), 100000)))""",
    'CREATE INDEX "message_from_addr" ON "message" ("from_addr")',
    """CREATE INDEX "message_from_domain" ON "message" (substr("from_addr", strpos("from_addr", '@') + 1))""",
)
POSTGRES_DOWN = (*SENDERS_DOWN, 'DROP INDEX IF EXISTS "message_search"')


async def _run(schema_editor: Any, sqlite: tuple[str, ...], postgres: tuple[str, ...]) -> None:
    client = schema_editor.client
    dialect = client.capabilities.dialect
    if dialect not in ("sqlite", "postgres"):
        raise RuntimeError(f"0008_search: no full-text search for the {dialect!r} engine")
    for statement in sqlite if dialect == "sqlite" else postgres:
        await client.execute_query(statement)


async def create_search_index(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, SQLITE_UP, POSTGRES_UP)


async def drop_search_index(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, SQLITE_DOWN, POSTGRES_DOWN)


class Migration(migrations.Migration):
    dependencies = [('models', '0007_panel_accounts')]

    initial = False

    operations = [
        ops.RunPython(create_search_index, drop_search_index),
    ]
