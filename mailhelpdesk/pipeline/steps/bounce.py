"""Recognise bounces, complaints and list managers' rejections: machine mail about our mail.

Certain on their own: a delivery report (RFC 3464), a feedback report (ARF, RFC 5965), an
Amazon SES notification (JSON through SNS), Exim's X-Failed-Recipients, a list manager's
administrivia. A free-form bounce needs two pieces of evidence, one about where it comes from
(a mailer-daemon or postmaster sender, an empty return path, a bounce subject) and one about
what it says (a returned message, failure wording such as "550 5.1.1 user unknown"): a person
may write "Undeliverable invoice", and a postmaster may write a question. One piece alone only
marks the mail as automated (``auto_reply.py``): it still makes or joins a ticket.
"""

import re
from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.mail.bounce_report import bounce_details, ses_notification
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.mail.wording import (
    BOUNCE_SUBJECT,
    COMPLAINT_SUBJECT,
    FAILURE_WORDING,
    LIST_REJECTION,
    TECHNICAL_FAILURE,
)
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.steps.auto_reply import first_token, is_vacation_reply

_DAEMON = re.compile(
    r"^(?:mailer[-_]?daemon|postmaster|mail-daemon|mdaemon|mail delivery (?:subsystem|system)|mailerdaemon"
    r"|mail administrator|mail\.delivery\.system)(?:$|[+@\\\"])",
    re.IGNORECASE,
)
_LIST_MANAGER = re.compile(
    r"^(?:mailman|sympa|majordomo|listserv|ecartis|lyris|listproc|[^@]+-(?:owner|bounces?|request|admin)"
    r"|owner-[^@]+)(?:$|[+@])",
    re.IGNORECASE,
)
_COMPLAINT_DESK = re.compile(r"^(?:abuse|feedback|fbl|complaints?|scomp|staff|report|spam)(?:$|[-+@])", re.I)
_RETURNED_PARTS = frozenset(("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                             "message/delivery-status", "message/global", "message/global-headers"))
_REPORT_PARTS = {"message/delivery-status": "delivery report (message/delivery-status part)",
                 "message/global-delivery-status": "delivery report (message/global-delivery-status part)",
                 "message/feedback-report": "complaint (ARF feedback report)"}
_TEXT_LOOKS = 20_000


def bounce_reason(mail: ParsedMail) -> str:
    """Why ``mail`` is clearly a bounce, complaint or list manager's notice, or '' if it is not."""
    return (
        _report_reason(mail)
        or _ses_reason(mail)
        or _failed_recipients_reason(mail)
        or _free_form_reason(mail)
        or _list_manager_reason(mail)
        or _complaint_reason(mail)
    )


def bounce_signals(mail: ParsedMail) -> list[str]:
    """One piece of a bounce's evidence without the other: the mail is only marked automated."""
    return [f"{origin} without a failure report" for origin in _origins(mail)[:1]]


def bounce_kind(reason: str) -> str:
    return "complaint" if reason.startswith("complaint") else "list" if reason.startswith("mailing-list") else "bounce"


def _report_reason(mail: ParsedMail) -> str:
    if mail.content_type == "multipart/report" and mail.report_type == "delivery-status":
        return "delivery report (multipart/report delivery-status)"
    if mail.content_type == "multipart/report" and mail.report_type == "feedback-report":
        return "complaint (ARF feedback report)"
    return next((_REPORT_PARTS[a.content_type] for a in mail.attachments if a.content_type in _REPORT_PARTS), "")


def _ses_reason(mail: ParsedMail) -> str:
    notice = ses_notification(mail.text)
    if notice is None:
        return ""
    kind = str(notice.get("notificationType") or notice.get("eventType"))
    return f"{'complaint' if kind == 'Complaint' else 'delivery report'} (Amazon SES {kind} notification)"


def _failed_recipients_reason(mail: ParsedMail) -> str:
    failed = mail.header("X-Failed-Recipients").strip()
    return f"X-Failed-Recipients: {failed[:200]}" if failed else ""


def _free_form_reason(mail: ParsedMail) -> str:
    origins = _origins(mail)
    if not origins:
        return ""
    if len(origins) > 1:  # a mail system's address and a bounce subject
        return " and ".join(origins)
    if any(a.content_type in _RETURNED_PARTS for a in mail.attachments):
        return f"{origins[0]} with the returned message"
    # A subject is the weakest origin (people write "Undeliverable parcel"): only a mail system's words do.
    wording = (TECHNICAL_FAILURE if origins[0].startswith("bounce subject") else FAILURE_WORDING).search(
        mail.text[:_TEXT_LOOKS])
    return f"{origins[0]} and failure wording ({wording.group(0).strip()[:40]})" if wording else ""


def _origins(mail: ParsedMail) -> list[str]:
    """Signs a mail comes from a mail system: its address or name, an empty return path; a subject."""
    found = [_system_sender(mail)]
    if BOUNCE_SUBJECT.match(mail.subject):
        found.append(f"bounce subject ({mail.subject[:80]})")
    return [f for f in found if f]


def _system_sender(mail: ParsedMail) -> str:
    sender = mail.sender[1] if mail.sender else ""
    for label, address in (("sender", sender), ("return path", _return_path(mail)),
                           ("From", mail.header("From").strip().strip("<>"))):
        local = address.rsplit("@", 1)[0] if "@" in address else address
        if _DAEMON.match(local.strip("\"\\ <>")):
            return f"{label} {address[:200]}"
    if re.search(r"<\s*>\s*$", mail.header("From")):  # From: "Mail System" <>
        return "From with an empty address (<>)"
    if mail.sender and _DAEMON.match(mail.sender[0]):
        return f"sender name {mail.sender[0][:100]}"
    if mail.header_all("Return-Path") and not _return_path(mail) and not is_vacation_reply(mail):
        return "empty return path (<>)"
    return ""


def _list_manager_reason(mail: ParsedMail) -> str:
    if first_token(mail.header("X-List-Administrivia")) == "yes":
        return "mailing-list manager notice (X-List-Administrivia: yes)"
    sender = mail.sender[1] if mail.sender else ""
    if not _LIST_MANAGER.match(sender):
        return ""
    wording = LIST_REJECTION.search(mail.subject) or LIST_REJECTION.search(mail.text[:_TEXT_LOOKS])
    return f"mailing-list manager {sender[:100]}: {wording.group(0)[:40]}" if wording else ""


def _complaint_reason(mail: ParsedMail) -> str:
    """A provider's complaint without ARF: its abuse desk, a complaint subject, the message attached."""
    sender = mail.sender[1] if mail.sender else ""
    if not (_COMPLAINT_DESK.match(sender) and COMPLAINT_SUBJECT.search(mail.subject)):
        return ""
    attached = any(a.content_type in _RETURNED_PARTS for a in mail.attachments)
    return f"complaint from {sender[:100]} with the reported message" if attached else ""


def _return_path(mail: ParsedMail) -> str:
    value = mail.header("Return-Path").strip()
    match = re.search(r"<([^<>]*)>", value)
    return (match.group(1) if match else value).strip()


@dataclass(frozen=True, slots=True)
class BounceStep:
    name: str = "bounce"

    async def run(self, ctx: MailContext) -> Outcome:
        mail = ctx.parsed
        ctx.bounce = bounce_reason(mail)
        if ctx.bounce:
            ctx.bounce_details = bounce_details(mail, bounce_kind(ctx.bounce)).as_data()
        else:
            ctx.automated.extend(bounce_signals(mail))
        return CONTINUE
