from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_agents_work')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AgentPassword',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agent', fields.CharField(unique=True, max_length=320)),
                ('password_hash', fields.CharField(max_length=255)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'agent_password', 'app': 'models', 'pk_attr': 'id', 'table_description': "An agent's password for the panel (argon2). The agents themselves are declared in the rules file."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('agent', fields.CharField(max_length=320, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_session', 'app': 'models', 'pk_attr': 'id', 'table_description': "A logged-in browser: the SHA-256 of its cookie's random token."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('agent', fields.CharField(max_length=320, db_index=True)),
                ('label', fields.CharField(max_length=200, default='', db_default='')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id', 'table_description': "An agent's bearer token for the REST API: its SHA-256 only."},
            bases=['Model'],
        ),
    ]
