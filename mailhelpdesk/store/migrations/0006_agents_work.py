from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_thread_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Ticket',
            name='merged_into',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Ticket',
            name='history_only',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Outbox',
            name='cc',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.CreateModel(
            name='TicketCollaborator',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='collaborators', on_delete=OnDelete.CASCADE)),
                ('agent', fields.CharField(max_length=320)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket_collaborator', 'app': 'models', 'unique_together': (('ticket', 'agent'),), 'pk_attr': 'id', 'table_description': 'An agent who follows a ticket besides its assignee: they get its notifications.'},
            bases=['Model'],
        ),
    ]
