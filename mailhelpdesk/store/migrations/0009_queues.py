from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

# The nearest deadline of the tickets stored before the column existed. SQLite's min() of
# several values is NULL if one is, hence the far-away stand-in; PostgreSQL's LEAST skips NULLs.
_SQLITE = """UPDATE "ticket" SET "next_due" = NULLIF(min(
    coalesce("first_response_due", '9999'), coalesce("next_response_due", '9999'),
    coalesce("update_due", '9999'), coalesce("resolution_due", '9999')), '9999')"""
_POSTGRES = """UPDATE "ticket" SET "next_due" =
    LEAST("first_response_due", "next_response_due", "update_due", "resolution_due")"""


async def fill_next_due(_: object, editor: BaseSchemaEditor) -> None:
    sql = _SQLITE if editor.client.capabilities.dialect == "sqlite" else _POSTGRES
    await editor.client.execute_script(sql)


class Migration(migrations.Migration):
    dependencies = [('models', '0008_search')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='next_due',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(fill_next_due),
        *(ops.AddIndex(model_name='Ticket', index=Index(fields=list(columns)))
          for columns in (("status", "next_due"), ("status", "updated_at"), ("assignee", "status"),
                          ("team", "status"), ("company_id", "status"), ("requester_id", "created_at"))),
        # A client card's tickets and a company's contacts.
        ops.AddIndex(model_name='Contact', index=Index(fields=['company_id'])),
    ]
