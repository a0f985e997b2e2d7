"""Enumerations shared by every layer."""

from enum import StrEnum


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


# A customer's reply reopens a ticket in these statuses.
REOPENED_BY_REPLY = frozenset((TicketStatus.PENDING.value, TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value))
# Statuses with no SLA clock: the work is done.
DONE_STATUSES = frozenset((TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value))


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class InboundState(StrEnum):
    """Where an accepted message ended; every accepted message ends in one of these."""

    ACCEPTED = "accepted"  # stored durably, not processed yet
    INGESTED = "ingested"  # became a message of a ticket
    IGNORED = "ignored"  # deliberately not a ticket message (reason recorded)
    DUPLICATE = "duplicate"  # same message seen before (reason names the original)
    QUARANTINED = "quarantined"  # held or failed (step and error recorded), replayable


class ThreadSignal(StrEnum):
    """How a message was matched to its ticket, in order of trust."""

    REFERENCES = "references"
    REFERENCED_BY = "referenced-by"  # a reply stored before it names it as its parent
    SIGNED_MESSAGE_ID = "signed-message-id"
    REPLY_ADDRESS = "reply-address"
    SUBJECT_TOKEN = "subject-token"
    SUBJECT_FALLBACK = "subject-fallback"
    NEW = "new"
