from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# The storm brakes count recent automatic mail for every mail they queue (store/outbox.py
# ``recent``): all of it for the breaker, to one address, or to one domain (``LIKE '%@domain'``,
# which no index on the recipient can serve). Without this index SQLite answered from the index
# on the status, that is from every mail ever sent; with it, a count reads only the window's
# entries, from the index alone.
INDEX = "outbox_automatic_recent"
DEFINITION = 'ON "outbox" ("automatic", "status", "created_at", "recipient")'


async def create(_: object, editor: BaseSchemaEditor) -> None:
    await editor.client.execute_script(f'CREATE INDEX IF NOT EXISTS "{INDEX}" {DEFINITION}')


async def drop(_: object, editor: BaseSchemaEditor) -> None:
    await editor.client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0013_imap_state')]

    initial = False

    operations = [ops.RunPython(create, drop)]
