"""Parse the raw bytes, refusing what cannot be an email."""

from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Hold, Outcome
from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.pipeline.context import MailContext

_KNOWN_HEADERS = frozenset(("from", "to", "subject", "date", "message-id", "received", "return-path",
                  "sender", "mime-version", "content-type", "reply-to", "cc", "delivered-to"))


@dataclass(frozen=True, slots=True)
class ParseStep:
    max_bytes: int
    name: str = "parse"

    async def run(self, ctx: MailContext) -> Outcome:
        size = len(ctx.raw)
        if size == 0:
            return Hold("empty message (0 bytes)")
        if size > self.max_bytes:
            return Hold(f"message too large ({size} bytes > max_message_bytes {self.max_bytes})")
        mail = ctx.preparsed or parse_mail(ctx.raw)
        ctx.mail = mail
        if not mail.raw_headers.keys() & _KNOWN_HEADERS:
            return Hold("not an email: no recognisable header fields")
        return CONTINUE
