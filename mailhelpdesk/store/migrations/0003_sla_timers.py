from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_ticket_rules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TicketTimer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='timers', on_delete=OnDelete.CASCADE)),
                ('event', fields.CharField(max_length=20)),
                ('target', fields.CharField(max_length=50)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('fired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket_timer', 'app': 'models', 'unique_together': (('ticket', 'event', 'target', 'due_at'),), 'pk_attr': 'id', 'table_description': "A moment a ticket's rules must run: an SLA warning or breach, or a timed trigger that fired."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_paused_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_paused_seconds',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Ticket',
            name='sla_policy_rule',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Ticket',
            name='status_since',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
