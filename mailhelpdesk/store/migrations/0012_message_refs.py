from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0011_stored_search_vector')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MessageRef',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='refs', on_delete=OnDelete.CASCADE)),
                ('ref', fields.CharField(db_index=True, max_length=998)),
            ],
            options={'table': 'message_ref', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A Message-ID a stored message names as its parent or ancestor (In-Reply-To, References):'},
            bases=['Model'],
        ),
    ]
