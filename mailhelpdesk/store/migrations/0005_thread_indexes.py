from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_outbox_ratings')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Event',
            index=Index(fields=['ticket_id']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['ticket_id']),
        ),
        ops.AddIndex(
            model_name='Outbox',
            index=Index(fields=['ticket_id']),
        ),
    ]
