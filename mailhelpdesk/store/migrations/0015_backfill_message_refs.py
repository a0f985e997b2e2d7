from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

from mailhelpdesk.store.sql import from_json

# Mail stored before 0012 has no ``message_ref`` rows, so a parent arriving after such a reply
# could not find it and opened a ticket of its own. The references are in each message's own
# columns: written here as ``Repository.add_message`` writes them (In-Reply-To first, then the
# newest References, without the message's own ID, at most 50, cut to the column's length).
# Read in pages by id, so a large database is never held in memory at once.
_PAGE = 1000
_MAX_REFS = 50


async def forward(_: object, editor: BaseSchemaEditor) -> None:
    client = editor.client
    mark = "$1" if client.capabilities.dialect == "postgres" else "?"
    after = 0
    while True:
        rows = await client.execute_query_dict(
            'SELECT m."id", m."message_id", m."in_reply_to", m."references" FROM "message" m'
            f' WHERE m."id" > {mark} AND NOT EXISTS (SELECT 1 FROM "message_ref" r WHERE r."message_id" = m."id")'
            f' ORDER BY m."id" LIMIT {_PAGE}', [after])
        if not rows:
            return
        for row in rows:
            for ref in _refs(row):
                await client.execute_query(_insert(mark), [row["id"], ref])
        after = int(rows[-1]["id"])


def _refs(row: dict[str, Any]) -> list[str]:
    refs = dict.fromkeys([*(from_json(row["in_reply_to"]) or []), *reversed(from_json(row["references"]) or [])])
    refs.pop(row["message_id"], None)
    return [str(ref)[:998] for ref in list(refs)[:_MAX_REFS]]


def _insert(mark: str) -> str:
    second = "$2" if mark == "$1" else "?"
    return f'INSERT INTO "message_ref" ("message_id", "ref") VALUES ({mark}, {second})'


async def backward(_: object, editor: BaseSchemaEditor) -> None:
    """Nothing to undo: the rows are what 0012 would have written had it been there."""


class Migration(migrations.Migration):
    dependencies = [('models', '0014_outbox_recent_index')]

    initial = False

    operations = [ops.RunPython(forward, backward)]
