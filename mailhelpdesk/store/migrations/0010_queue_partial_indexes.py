from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# The queues' big lists read in index order and stop after a page: an index holding only the
# unfinished tickets (or only the finished ones), in the order the list wants. The engines use
# such a partial index when the query names the same statuses (store/queues.py writes them out).
_ACTIVE = "\"status\" IN ('new', 'open', 'pending')"
_DONE = "\"status\" IN ('resolved', 'closed')"
INDEXES = {
    "ticket_active_due": f'ON "ticket" ("next_due", "number") WHERE {_ACTIVE}',
    "ticket_active_updated": f'ON "ticket" ("updated_at", "number") WHERE {_ACTIVE}',
    "ticket_done_updated": f'ON "ticket" ("updated_at", "number") WHERE {_DONE}',
}


async def create(_: object, editor: BaseSchemaEditor) -> None:
    for name, definition in INDEXES.items():
        await editor.client.execute_script(f'CREATE INDEX IF NOT EXISTS "{name}" {definition}')


async def drop(_: object, editor: BaseSchemaEditor) -> None:
    for name in INDEXES:
        await editor.client.execute_script(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0009_queues')]

    initial = False

    operations = [ops.RunPython(create, drop)]
