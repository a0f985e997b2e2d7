"""Database models. Schema changes go through migrations in ``store/migrations``."""

from typing import Any

from tortoise import fields
from tortoise.models import Model

# The largest IntField value (PostgreSQL's "integer"): ticket numbers and the ids of tickets,
# companies and contacts. A larger number from a URL or a query names nothing; looking it up
# would be a database error on PostgreSQL.
INT4_MAX = 2**31 - 1


class Inbound(Model):
    """One accepted raw message: the durable spool, the dead-letter area and the audit of intake."""

    id = fields.BigIntField(primary_key=True)
    mailbox = fields.CharField(max_length=100)
    raw_message = fields.BinaryField()
    raw_sha256 = fields.CharField(max_length=64)
    size = fields.IntField()
    source = fields.CharField(max_length=1000, default="")
    state = fields.CharField(max_length=20, db_index=True)
    reason = fields.TextField(default="")
    step = fields.CharField(max_length=50, default="")
    error = fields.TextField(default="")
    message_id = fields.CharField(max_length=998, default="")
    sender = fields.CharField(max_length=320, default="")
    subject = fields.CharField(max_length=998, default="")
    flags: fields.JSONField[Any] = fields.JSONField(default=dict)
    accepted_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)

    class Meta:
        table = "inbound"
        unique_together = (("mailbox", "raw_sha256"),)


class Company(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    tier = fields.CharField(max_length=50, default="standard")
    auto_created = fields.BooleanField(default=False)
    # Customers' language and time zone for our mail ('' = not known: the mailbox decides).
    language = fields.CharField(max_length=20, default="", db_default="")
    timezone = fields.CharField(max_length=64, default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    domains: fields.ReverseRelation["CompanyDomain"]

    class Meta:
        table = "company"


class CompanyDomain(Model):
    id = fields.IntField(primary_key=True)
    domain = fields.CharField(max_length=255, unique=True)
    company: fields.ForeignKeyRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="domains", on_delete=fields.CASCADE
    )

    class Meta:
        table = "company_domain"


class Contact(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=320, unique=True)
    name = fields.CharField(max_length=200, default="")
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="contacts", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    # How our mail addresses them: language (detected from their first mail, or set), the name to
    # greet with, a whole greeting line, and their time zone ('' = not known).
    language = fields.CharField(max_length=20, default="", db_default="")
    preferred_name = fields.CharField(max_length=200, default="", db_default="")
    salutation = fields.CharField(max_length=200, default="", db_default="")
    timezone = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "contact"
        indexes = (("company_id",),)  # a company's contacts


class Ticket(Model):
    id = fields.IntField(primary_key=True)
    number = fields.IntField(unique=True)
    subject = fields.CharField(max_length=998)
    normalized_subject = fields.CharField(max_length=998, db_index=True)
    status = fields.CharField(max_length=20, db_index=True)
    urgency = fields.CharField(max_length=20)
    line = fields.IntField()
    team = fields.CharField(max_length=100, default="")
    mailbox = fields.CharField(max_length=100)
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    requester: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="tickets", on_delete=fields.RESTRICT
    )
    cc: fields.ManyToManyRelation[Contact] = fields.ManyToManyField(
        "models.Contact", related_name="cc_tickets", through="ticket_cc"
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    assignee = fields.CharField(max_length=320, default="")
    tags: fields.JSONField[Any] = fields.JSONField(default=list)
    sla_policy = fields.CharField(max_length=200, default="")  # the policy in force
    # The policy a rule chose; '' = by urgency and tier.
    sla_policy_rule = fields.CharField(max_length=200, default="", db_default="")
    # Deadlines, indexed so timers only look at tickets that are due.
    first_response_due = fields.DatetimeField(null=True, db_index=True)
    next_response_due = fields.DatetimeField(null=True, db_index=True)
    update_due = fields.DatetimeField(null=True, db_index=True)
    resolution_due = fields.DatetimeField(null=True, db_index=True)
    # The nearest of the four: what the panel's queues sort by and find overdue or at risk.
    next_due = fields.DatetimeField(null=True)
    # When the status last changed: timed rules (pending_for) count from it.
    status_since = fields.DatetimeField(null=True)
    # The SLA clock: stopped since (while in a pausing status), and business time stopped so far.
    sla_paused_at = fields.DatetimeField(null=True)
    sla_paused_seconds = fields.IntField(default=0, db_default=0)
    # The number of the ticket this one was merged into (its mail is there now).
    merged_into = fields.IntField(null=True)
    # Made from mail older than ``outbox.max_age_hours`` (an imported archive): nothing it causes
    # later (timers, escalations, closing, surveys) mails anyone, until fresh mail or an agent's
    # action on it makes it live.
    history_only = fields.BooleanField(default=False, db_default=False)
    messages: fields.ReverseRelation["Message"]

    class Meta:
        table = "ticket"
        # The panel's queues: each filters on its column and sorts (keyset) on the next.
        indexes = (("status", "next_due"), ("status", "updated_at"), ("assignee", "status"), ("team", "status"),
                   ("company_id", "status"), ("requester_id", "created_at"))


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="messages", on_delete=fields.CASCADE
    )
    inbound: fields.ForeignKeyNullableRelation[Inbound] = fields.OneToOneField(
        "models.Inbound", related_name="message", null=True, on_delete=fields.RESTRICT
    )
    message_id = fields.CharField(max_length=998, unique=True)
    fingerprint = fields.CharField(max_length=64, db_index=True)
    in_reply_to: fields.JSONField[Any] = fields.JSONField(default=list)
    references: fields.JSONField[Any] = fields.JSONField(default=list)
    direction = fields.CharField(max_length=3)
    visibility = fields.CharField(max_length=10)
    from_name = fields.CharField(max_length=200, default="")
    from_addr = fields.CharField(max_length=320)
    to: fields.JSONField[Any] = fields.JSONField(default=list)
    cc: fields.JSONField[Any] = fields.JSONField(default=list)
    subject = fields.CharField(max_length=998, default="")
    date = fields.DatetimeField()
    text = fields.TextField(default="")
    reply_text = fields.TextField(default="")
    html = fields.TextField(default="")
    html_sanitized = fields.TextField(default="")
    flags: fields.JSONField[Any] = fields.JSONField(default=dict)
    thread_signal = fields.CharField(max_length=30, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    attachments: fields.ReverseRelation["Attachment"]

    class Meta:
        table = "message"
        indexes = (("ticket_id",),)  # a ticket's thread: foreign keys are not indexed by themselves


class MessageRef(Model):
    """A Message-ID a stored message names as its parent or ancestor (In-Reply-To, References):
    when that parent arrives after its reply (IMAP order, imports), it finds the reply's ticket."""

    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="refs", on_delete=fields.CASCADE
    )
    ref = fields.CharField(max_length=998, db_index=True)

    class Meta:
        table = "message_ref"


class Attachment(Model):
    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="attachments", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    content_id = fields.CharField(max_length=998, default="")
    inline = fields.BooleanField(default=False)

    class Meta:
        table = "attachment"


class Event(Model):
    """Append-only audit: who or what changed which ticket, and why."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="events", null=True, on_delete=fields.CASCADE
    )
    inbound: fields.ForeignKeyNullableRelation[Inbound] = fields.ForeignKeyField(
        "models.Inbound", related_name="events", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharField(max_length=50, db_index=True)
    actor = fields.CharField(max_length=200, default="system")
    data: fields.JSONField[Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "event"
        indexes = (("ticket_id",),)


class TicketCollaborator(Model):
    """An agent who follows a ticket besides its assignee: they get its notifications."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="collaborators", on_delete=fields.CASCADE
    )
    agent = fields.CharField(max_length=320)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ticket_collaborator"
        unique_together = (("ticket", "agent"),)


class TicketTimer(Model):
    """A moment a ticket's rules must run: an SLA warning or breach, or a timed trigger that fired.

    SLA rows are written with their deadlines and claimed by setting ``fired_at`` in a
    conditional UPDATE; timed-trigger rows are inserted when they fire. Either way the
    unique key makes each (ticket, event, target, moment) fire once, whatever the processes.
    """

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="timers", on_delete=fields.CASCADE
    )
    event = fields.CharField(max_length=20)
    target = fields.CharField(max_length=50)
    due_at = fields.DatetimeField(db_index=True)
    fired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ticket_timer"
        unique_together = (("ticket", "event", "target", "due_at"),)


class Outbox(Model):
    """One mail to one recipient, queued in the transaction of the change that caused it.

    ``status``: queued → sending → sent, or failed (permanently, or after too many tries);
    suppressed (never sent, ``reason`` says why) and held (the breaker is tripped) are decided
    when the mail is queued. ``message_id`` is fixed then too, so a retried send is the same mail.
    """

    id = fields.BigIntField(primary_key=True)
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="outbox", null=True, on_delete=fields.CASCADE
    )
    template = fields.CharField(max_length=100)
    audience = fields.CharField(max_length=10)  # customer / agent
    automatic = fields.BooleanField(default=True)
    cause = fields.CharField(max_length=100, default="")
    mailbox = fields.CharField(max_length=100)
    sender = fields.CharField(max_length=320)  # the envelope sender
    recipient = fields.CharField(max_length=320, db_index=True)
    # Further envelope recipients, space-separated: the Cc of an agent's reply to the customer.
    cc = fields.TextField(default="", db_default="")
    message_id = fields.CharField(max_length=998, unique=True)
    subject = fields.CharField(max_length=998, default="")
    language = fields.CharField(max_length=20, default="")
    raw_message = fields.BinaryField()
    status = fields.CharField(max_length=20, db_index=True)
    reason = fields.TextField(default="")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    claimed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(db_index=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        indexes = (("ticket_id",),)


class Rating(Model):
    """A customer's satisfaction score for a ticket (the latest counts), with who and what it rates."""

    id = fields.BigIntField(primary_key=True)
    ticket: fields.OneToOneRelation[Ticket] = fields.OneToOneField(
        "models.Ticket", related_name="rating", on_delete=fields.CASCADE
    )
    score = fields.IntField()
    comment = fields.TextField(default="")
    source = fields.CharField(max_length=10)  # link / reply
    agent = fields.CharField(max_length=320, default="")
    line = fields.IntField()
    team = fields.CharField(max_length=100, default="")
    company: fields.ForeignKeyNullableRelation[Company] = fields.ForeignKeyField(
        "models.Company", related_name="ratings", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "rating"


class ServiceFlag(Model):
    """Service-wide switches that must survive restarts, such as the tripped outbox breaker."""

    name = fields.CharField(max_length=50, primary_key=True)
    value = fields.TextField(default="")
    changed_at = fields.DatetimeField()

    class Meta:
        table = "service_flag"


class ImapFolderState(Model):
    """How far an IMAP folder has been read: the last UID stored, under its UIDVALIDITY."""

    id = fields.BigIntField(primary_key=True)
    mailbox = fields.CharField(max_length=100)
    folder = fields.CharField(max_length=500)
    uidvalidity = fields.BigIntField(default=0)
    last_uid = fields.BigIntField(default=0)
    fetched_at = fields.DatetimeField(null=True)
    error = fields.TextField(default="")  # the last fetch's failure, '' after a good one
    failures = fields.IntField(default=0)  # failed fetches in a row

    class Meta:
        table = "imap_folder_state"
        unique_together = (("mailbox", "folder"),)


# Every Inbound column but the raw bytes: for listings that must not load whole messages.
INBOUND_SUMMARY_FIELDS = (
    "id", "mailbox", "raw_sha256", "size", "source", "state", "reason", "step", "error", "message_id",
    "sender", "subject", "flags", "accepted_at", "processed_at", "attempts",
)


class AgentPassword(Model):
    """An agent's password for the panel (argon2). The agents themselves are declared in the rules file."""

    id = fields.BigIntField(primary_key=True)
    agent = fields.CharField(max_length=320, unique=True)
    password_hash = fields.CharField(max_length=255)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "agent_password"


class WebSession(Model):
    """A logged-in browser: the SHA-256 of its cookie's random token."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    agent = fields.CharField(max_length=320, db_index=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()

    class Meta:
        table = "web_session"


class ApiToken(Model):
    """An agent's bearer token for the REST API: its SHA-256 only."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    agent = fields.CharField(max_length=320, db_index=True)
    label = fields.CharField(max_length=200, default="", db_default="")
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
