"""Recognise delivery status notifications and other bounces."""

import re
from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.parse import ParsedMail

_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|mdaemon)(?:[+@]|$)", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:able|ed)|returned mail|delivery (?:status notification|failure|has failed)"
    r"|mail delivery failed|failure notice|non[- ]?delivery|недоставленное сообщение"
    r"|unzustellbar|nicht zustellbar)",
    re.IGNORECASE,
)


def bounce_reason(mail: ParsedMail) -> str:
    """Why ``mail`` is a bounce, or '' if it is not."""
    ctype = mail.headers.get_content_type()
    report_type = str(mail.headers.get_param("report-type", "") or "").lower()
    if ctype == "multipart/report" and report_type in ("delivery-status", ""):
        return "multipart/report delivery-status"
    sender = mail.sender[1] if mail.sender else ""
    if _DAEMON.match(sender):
        return f"sender {sender}"
    return_path = mail.header("Return-Path").strip()
    if return_path in ("<>", "") and mail.headers.get("Return-Path") is not None:
        return "empty return path"
    if mail.header("X-Failed-Recipients"):
        return "X-Failed-Recipients present"
    if _BOUNCE_SUBJECT.match(mail.subject) and any(
        a.content_type in ("message/rfc822", "text/rfc822-headers", "message/delivery-status")
        for a in mail.attachments
    ):
        return f"bounce subject with returned message: {mail.subject[:80]}"
    return ""


@dataclass(frozen=True, slots=True)
class BounceStep:
    name: str = "bounce"

    async def run(self, ctx: MailContext) -> Outcome:
        ctx.bounce = bounce_reason(ctx.parsed)
        return CONTINUE
