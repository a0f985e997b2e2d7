"""One outbound mail before it becomes MIME: every value already decided, nothing trusted yet.

Names and subjects may come from customers; ``compose`` is what makes them safe as headers.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# RFC 3834: "auto-replied" answers a mail (acknowledgements, status updates to the customer),
# "auto-generated" is mail no one wrote to (notifications to agents, reminders from timers).
AutoSubmitted = Literal["auto-replied", "auto-generated", ""]


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A file that goes along with a mail (an agent's attachment or inline image)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Draft:
    from_name: str
    from_addr: str
    to: tuple[tuple[str, str], ...]  # (display name, address)
    subject: str
    text: str  # the plain-text part
    html: str  # the HTML part ('' for none): already escaped by its template
    message_id: str  # without angle brackets
    date: datetime
    in_reply_to: str = ""  # without angle brackets, '' for none
    references: tuple[str, ...] = ()  # oldest first, without angle brackets
    reply_to: str = ""  # the signed per-ticket address, '' for none
    auto_submitted: AutoSubmitted = ""
    loop_token: str = ""  # our X-Loop value: mail carrying it that comes back is ignored
    language: str = ""  # Content-Language
    cc: tuple[tuple[str, str], ...] = ()  # (display name, address)
    attachments: tuple[OutboundFile, ...] = ()
