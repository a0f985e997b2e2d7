from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0012_message_refs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ImapFolderState',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mailbox', fields.CharField(max_length=100)),
                ('folder', fields.CharField(max_length=500)),
                ('uidvalidity', fields.BigIntField(default=0)),
                ('last_uid', fields.BigIntField(default=0)),
                ('fetched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(default='', unique=False)),
                ('failures', fields.IntField(default=0)),
            ],
            options={'table': 'imap_folder_state', 'app': 'models', 'unique_together': (('mailbox', 'folder'),), 'pk_attr': 'id', 'table_description': 'How far an IMAP folder has been read: the last UID stored, under its UIDVALIDITY.'},
            bases=['Model'],
        ),
    ]
