from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# PostgreSQL keeps each message's text vector in a column of its own (computed by the database
# on every insert and update), and the GIN index moves onto it. With the vector only in an
# expression index, every row a search checks had its text parsed again: for a common word,
# checking the newest few thousand mails took most of a second. SQLite's FTS5 table holds its
# own index and needs nothing.
_VECTOR = "to_tsvector('simple', left(coalesce(\"subject\", '') || ' ' || coalesce(\"text\", ''), 100000))"
_FORWARD = (
    f'ALTER TABLE "message" ADD COLUMN "search_vector" tsvector GENERATED ALWAYS AS ({_VECTOR}) STORED',
    'CREATE INDEX "message_search_vector" ON "message" USING gin ("search_vector")',
    'DROP INDEX IF EXISTS "message_search"',
)
_BACKWARD = (
    f'CREATE INDEX IF NOT EXISTS "message_search" ON "message" USING gin ({_VECTOR})',
    'DROP INDEX IF EXISTS "message_search_vector"',
    'ALTER TABLE "message" DROP COLUMN IF EXISTS "search_vector"',
)


async def forward(_: object, editor: BaseSchemaEditor) -> None:
    if editor.client.capabilities.dialect == "postgres":
        for statement in _FORWARD:
            await editor.client.execute_script(statement)


async def backward(_: object, editor: BaseSchemaEditor) -> None:
    if editor.client.capabilities.dialect == "postgres":
        for statement in _BACKWARD:
            await editor.client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0010_queue_partial_indexes')]

    initial = False

    operations = [ops.RunPython(forward, backward)]
