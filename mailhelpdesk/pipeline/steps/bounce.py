"""Recognise delivery status notifications and other bounces.

Structured DSNs (RFC 3464) and mailer-daemon senders are certain. Many mail systems still
send free-form bounces, so a bounce-like subject also counts, but only together with a
returned message or typical failure wording in the body: a person may well write
"Undeliverable invoice" to a helpdesk, and automatic mail that matches no ticket is ignored.
"""

import re
from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.steps.auto_reply import vacation_reason

_DAEMON = re.compile(
    r"^(?:mailer[-_]?daemon|postmaster|mail-daemon|mdaemon|mail delivery (?:subsystem|system))(?:$|[+@\\\"])",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*\[?\s*(?:undeliver(?:able|ed)|returned mail|return(?:ed)? to sender|failure notice|failed mail"
    r"|delivery (?:status notification|failure|failed|has failed|notification|problem|report|warning)"
    r"|mail delivery (?:failed|failure|warning|problem|subsystem|system)|non[- ]?deliver|nondeliverable"
    r"|(?:mail|message|your message)? ?(?:could|can) ?not (?:be )?deliver|message not delivered"
    r"|mail system error|warning: could not send|automatically rejected|delayed mail"
    r"|недоставленное сообщение|не удалось доставить|unzustellbar|nicht zustellbar|non recapitabile"
    r"|no se puede entregar|imposible entregar|non remis|non distribuable|échec de la remise|onbestelbaar)",
    re.IGNORECASE,
)
_FAILURE_WORDING = re.compile(
    r"could ?n[o']t (?:be )?deliver|unable to deliver|was ?n[o']t delivered|not be delivered"
    r"|delivery (?:has |have )?failed|delivery to the following recipients? failed"
    r"|permanent(?:ly)? (?:fatal )?error"
    r"|undeliverable|user unknown|unknown user|no such user|mailbox (?:unavailable|full|is full|not found)"
    r"|recipient address rejected|failed recipient|returned mail|(?:has been|was) (?:postponed|delayed)"
    r"|\b55\d[ -]\d?|\b5\.\d{1,3}\.\d{1,3}\b|non[- ]?delivery"
    r"|n'a pas pu (?:être|etre) (?:délivré|delivre|remis)"
    r"|не (?:может быть|удалось) доставить|nicht zugestellt|konnte nicht zugestellt",
    re.IGNORECASE,
)
_RETURNED_PARTS = frozenset(("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                             "message/delivery-status"))


def bounce_reason(mail: ParsedMail) -> str:
    """Why ``mail`` is a bounce, or '' if it is not."""
    return (
        _report_reason(mail)
        or _daemon_reason(mail)
        or _failed_recipients_reason(mail)
        or _null_return_path_reason(mail)
        or _subject_reason(mail)
    )


def _report_reason(mail: ParsedMail) -> str:
    if mail.content_type == "multipart/report" and mail.report_type == "delivery-status":
        return "multipart/report delivery-status"
    if any(a.content_type == "message/delivery-status" for a in mail.attachments):
        return "message/delivery-status part"
    return ""


def _daemon_reason(mail: ParsedMail) -> str:
    sender = mail.sender[1] if mail.sender else ""
    return_path = _return_path(mail)
    from_header = mail.header("From").strip().strip("<>")
    for label, address in (("sender", sender), ("return path", return_path), ("From", from_header)):
        local = address.rsplit("@", 1)[0].strip("\"\\ <>") if "@" in address else address.strip("\"\\ <>")
        if local and _DAEMON.match(local):
            return f"{label} {address[:200]}"
    if _DAEMON.match(mail.sender[0] if mail.sender else ""):
        return f"sender name {mail.sender[0][:100] if mail.sender else ''}"
    return ""


def _return_path(mail: ParsedMail) -> str:
    value = mail.header("Return-Path").strip()
    match = re.search(r"<([^<>]*)>", value)
    return (match.group(1) if match else value).strip()


def _failed_recipients_reason(mail: ParsedMail) -> str:
    failed = mail.header("X-Failed-Recipients").strip()
    return f"X-Failed-Recipients: {failed[:200]}" if failed else ""


def _null_return_path_reason(mail: ParsedMail) -> str:
    """Return-Path <> marks bounces, but also auto-responders and read receipts (RFC 3834, 8098)."""
    if not mail.header_all("Return-Path") or _return_path(mail):
        return ""
    return "" if vacation_reason(mail) else "empty return path (<>)"


def _subject_reason(mail: ParsedMail) -> str:
    if not _BOUNCE_SUBJECT.match(mail.subject):
        return ""
    if any(a.content_type in _RETURNED_PARTS for a in mail.attachments):
        return f"bounce subject with returned message: {mail.subject[:80]}"
    if _FAILURE_WORDING.search(mail.text[:20_000]):
        return f"bounce subject and failure wording: {mail.subject[:80]}"
    return ""


@dataclass(frozen=True, slots=True)
class BounceStep:
    name: str = "bounce"

    async def run(self, ctx: MailContext) -> Outcome:
        ctx.bounce = bounce_reason(ctx.parsed)
        return CONTINUE
