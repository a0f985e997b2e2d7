"""What the REST API takes and gives: typed bodies and parameters, so its OpenAPI schema is exact.

Every limit a value meets in the database is stated here, where msgspec checks it before a
handler runs and the schema tells clients (and the fuzzer) about it: ids fit their column
(PostgreSQL's ``integer`` is 32 bits, a larger number is not "no such ticket" but an error of
the driver), texts hold no NUL (PostgreSQL cannot store one), statuses and urgencies are the
names the desk knows. A request that breaks one gets a 400 that names the field.
"""

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from mailhelpdesk.store.models import INT4_MAX
from mailhelpdesk.web.ticket_actions import MAX_FILES_BYTES, MAX_TEXT

# Message and attachment ids ("bigint"): up to the largest integer every JSON reader holds exactly,
# far beyond any row, and exact in the schema too (Litestar writes bounds as floats: 2**63 - 1
# would come out as 2**63).
ROW_ID_MAX = 2**53 - 1
PAGE_MAX = 200
NO_NUL = r"^[^\x00]*$"
# A media type as RFC 6838 names them: nothing that could end a MIME header.
MEDIA_TYPE = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$"
EMAIL = r"^[^@\s\x00]+@[^@\s\x00]+$"
# A tag as agents' mail commands accept it: a letter or digit first, then letters, digits, - _ . :
TAG = r"^[^\W_][\w.:-]*$"
CURSOR = r"^[A-Za-z0-9_-]*$"  # the cursors this API hands out are URL-safe base64
MAX_FILES = 20
# Base64 makes 4 characters of every 3 bytes, and encoders may break its lines every 76 (CRLF):
# one file may take the whole allowance.
MAX_BASE64 = (MAX_FILES_BYTES + 2) // 3 * 4 * 78 // 76 + 2

QueueName = Literal["mine", "unassigned", "team", "overdue", "at_risk", "pending", "open", "closed"]
SortName = Literal["due", "urgency", "updated"]
StatusName = Literal["new", "open", "pending", "resolved", "closed"]
SettableStatus = Literal["open", "pending", "resolved", "closed"]  # "new" is only where tickets start
UrgencyName = Literal["low", "normal", "high", "critical"]

TicketNumber = Annotated[int, Meta(ge=0, le=INT4_MAX)]
RowId = Annotated[int, Meta(ge=1, le=ROW_ID_MAX)]
Line = Annotated[int, Meta(ge=1, le=4)]
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL)]
Email = Annotated[str, Meta(max_length=320, pattern=EMAIL)]
Tag = Annotated[str, Meta(min_length=1, max_length=50, pattern=TAG)]
TeamName = Annotated[str, Meta(max_length=100, pattern=NO_NUL)]


class Strict(Struct, forbid_unknown_fields=True):
    """A request body: a misspelt field is an error, not silently ignored."""


# --- what clients send ---------------------------------------------------------------------------

class FileIn(Strict):
    filename: Annotated[str, Meta(min_length=1, max_length=255, pattern=NO_NUL)]
    data_base64: Annotated[str, Meta(max_length=MAX_BASE64)]
    content_type: Annotated[str, Meta(max_length=255, pattern=MEDIA_TYPE)] = "application/octet-stream"


class ReplyIn(Strict):
    text: Text
    status: SettableStatus | None = None  # the status after the answer; none keeps it
    attachments: Annotated[list[FileIn], Meta(max_length=MAX_FILES)] = []


class NoteIn(Strict):
    text: Text


class FieldsIn(Strict):
    """A field left out stays as it is; ``assignee`` "" unassigns, ``team`` "" leaves no team."""

    status: SettableStatus | None = None
    urgency: UrgencyName | None = None
    line: Line | None = None
    team: TeamName | None = None
    assignee: Annotated[str, Meta(max_length=320, pattern=r"^$|" + EMAIL)] | None = None
    tags_add: Annotated[list[Tag], Meta(max_length=50)] = []
    tags_remove: Annotated[list[Tag], Meta(max_length=50)] = []


class CollaboratorsIn(Strict):
    add: Annotated[list[Email], Meta(max_length=50)] = []
    remove: Annotated[list[Email], Meta(max_length=50)] = []


class MergeIn(Strict):
    into: TicketNumber
    force: bool = False  # merge tickets of different customers too


class SplitIn(Strict):
    message: RowId


# --- what the API answers ------------------------------------------------------------------------

class Problem(Struct):
    detail: str


class ActionOut(Struct):
    number: int  # the ticket the action leaves: a merge's target, a split's new ticket
    changes: list[str]  # "status: open → pending", as the panel says them
    outbox_id: int | None  # the answer queued to the customer, if any


class TicketRow(Struct):
    number: int
    subject: str
    status: StatusName
    urgency: UrgencyName
    line: int
    team: str
    assignee: str
    company: str
    requester: str
    updated_at: datetime
    next_due: datetime | None
    overdue: bool


class TicketList(Struct):
    tickets: list[TicketRow]
    next: str | None  # pass it back as ``after`` for the next page; null on the last


class CompanyRef(Struct):
    id: int
    name: str
    tier: str


class ContactRef(Struct):
    id: int
    email: str
    name: str


class Deadlines(Struct):
    """The SLA's due dates still open; null once met or when the policy sets none."""

    first_response: datetime | None
    next_response: datetime | None
    update: datetime | None
    resolution: datetime | None
    nearest: datetime | None


class RatingOut(Struct):
    score: int
    comment: str
    source: str
    updated_at: datetime


class TicketOut(Struct):
    number: int
    subject: str
    status: StatusName
    urgency: UrgencyName
    line: int
    team: str
    assignee: str
    tags: list[str]
    mailbox: str
    company: CompanyRef | None
    requester: ContactRef
    cc: list[ContactRef]
    collaborators: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    status_since: datetime | None
    deadlines: Deadlines
    sla_policy: str
    merged_into: int | None
    rating: RatingOut | None
    history_only: bool  # made from archived mail: nothing it causes mails anyone until it is live


class Address(Struct):
    email: str
    name: str


class AttachmentOut(Struct):
    id: int
    filename: str
    content_type: str
    size: int


class DeliveryOut(Struct):
    """What became of a mail of ours: its outbox row, and the panel's line for it."""

    outbox_id: int | None
    audience: str
    status: str
    reason: str
    attempts: int
    label: str


class MessageOut(Struct):
    id: int
    direction: Literal["in", "out"]
    visibility: Literal["public", "internal"]
    note: bool
    auto_reply: bool
    bounce: bool
    automated: bool  # a ticket's mail that looks machine-sent: answered by no one, reopened nothing
    sender: Address = field(name="from")
    to: list[Address]
    cc: list[Address]
    subject: str
    date: datetime
    text: str
    reply_text: str  # the new text, without quotes and signature
    attachments: list[AttachmentOut]
    delivery: DeliveryOut | None  # our mail only


class MessageList(Struct):
    messages: list[MessageOut]
    next: str | None


class CompanyRow(Struct):
    id: int
    name: str
    tier: str
    domains: list[str]


class CompanyList(Struct):
    companies: list[CompanyRow]
    next: int | None  # the last id: pass it back as ``after``


class CompanyOut(Struct):
    id: int
    name: str
    tier: str
    language: str
    timezone: str
    auto_created: bool
    created_at: datetime
    domains: list[str]
    contacts: int
    tickets: int
    tickets_by_status: dict[str, int]


class ContactRow(Struct):
    id: int
    email: str
    name: str
    company_id: int | None


class ContactList(Struct):
    contacts: list[ContactRow]
    next: int | None


class ContactOut(Struct):
    id: int
    email: str
    name: str
    preferred_name: str
    salutation: str
    language: str
    timezone: str
    created_at: datetime
    company: CompanyRef | None
    tickets: int
