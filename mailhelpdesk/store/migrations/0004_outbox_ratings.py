from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_sla_timers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', null=True, db_constraint=True, to_field='id', related_name='outbox', on_delete=OnDelete.CASCADE)),
                ('template', fields.CharField(max_length=100)),
                ('audience', fields.CharField(max_length=10)),
                ('automatic', fields.BooleanField(default=True)),
                ('cause', fields.CharField(default='', max_length=100)),
                ('mailbox', fields.CharField(max_length=100)),
                ('sender', fields.CharField(max_length=320)),
                ('recipient', fields.CharField(db_index=True, max_length=320)),
                ('message_id', fields.CharField(unique=True, max_length=998)),
                ('subject', fields.CharField(default='', max_length=998)),
                ('language', fields.CharField(default='', max_length=20)),
                ('raw_message', fields.BinaryField()),
                ('status', fields.CharField(db_index=True, max_length=20)),
                ('reason', fields.TextField(default='', unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One mail to one recipient, queued in the transaction of the change that caused it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rating',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.OneToOneField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='rating', on_delete=OnDelete.CASCADE)),
                ('score', fields.IntField()),
                ('comment', fields.TextField(default='', unique=False)),
                ('source', fields.CharField(max_length=10)),
                ('agent', fields.CharField(default='', max_length=320)),
                ('line', fields.IntField()),
                ('team', fields.CharField(default='', max_length=100)),
                ('company', fields.ForeignKeyField('models.Company', source_field='company_id', null=True, db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rating', 'app': 'models', 'pk_attr': 'id', 'table_description': "A customer's satisfaction score for a ticket (the latest counts), with who and what it rates."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceFlag',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=50)),
                ('value', fields.TextField(default='', unique=False)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'service_flag', 'app': 'models', 'pk_attr': 'name', 'table_description': 'Service-wide switches that must survive restarts, such as the tripped outbox breaker.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Company',
            name='language',
            field=fields.CharField(default='', db_default='', max_length=20),
        ),
        ops.AddField(
            model_name='Company',
            name='timezone',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='Contact',
            name='language',
            field=fields.CharField(default='', db_default='', max_length=20),
        ),
        ops.AddField(
            model_name='Contact',
            name='preferred_name',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Contact',
            name='salutation',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Contact',
            name='timezone',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
