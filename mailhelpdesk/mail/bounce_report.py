"""What a bounce or complaint says: the status code, the failed recipients, the diagnostic.

Read from the machine-readable parts where there are some (RFC 3464 delivery status, RFC 5965
feedback reports, Amazon SES notifications sent through SNS as JSON, Exim's
X-Failed-Recipients) and from the body's text otherwise. Kept on the message's event so an
agent sees why a mail to a customer did not arrive.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from mailhelpdesk.mail.parse import ParsedMail

MAX_RECIPIENTS = 20

_FIELD = re.compile(r"^([A-Za-z-]+):[ \t]*(.*(?:\n[ \t]+.*)*)", re.MULTILINE)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b([45]\d\d)[ -](?:(?:[245]\.\d{1,3}\.\d{1,3})\s)?[^\n]{3,200}")


@dataclass(frozen=True, slots=True)
class BounceDetails:
    """What failed and why; empty fields when the mail does not say."""

    kind: str = "bounce"  # bounce, delay, complaint, delivery
    status: str = ""  # the enhanced status code, e.g. "5.1.1"
    recipients: tuple[str, ...] = ()
    diagnostic: str = ""  # the remote server's words, e.g. "550 5.1.1 user unknown"

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.status:
            data["status"] = self.status
        if self.recipients:
            data["recipients"] = list(self.recipients)
        if self.diagnostic:
            data["diagnostic"] = self.diagnostic
        return data


def ses_notification(text: str) -> dict[str, Any] | None:
    """An Amazon SES notification in ``text`` (bare, or wrapped in an SNS envelope), else None."""
    document = _json(text)
    if document is not None and document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        document = _json(document["Message"])
    if document is None:
        return None
    kind = document.get("notificationType") or document.get("eventType")
    return document if kind in ("Bounce", "Complaint", "Delivery", "DeliveryDelay", "Reject") else None


def bounce_details(mail: ParsedMail, kind: str = "bounce") -> BounceDetails:
    """The details ``mail`` gives, from its most reliable source."""
    ses = ses_notification(mail.text)
    if ses is not None:
        return _from_ses(ses)
    if mail.report:
        return _from_report(mail.report, kind)
    return _from_text(mail, kind)


def _json(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{") or len(stripped) > 1_000_000:
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _from_ses(document: dict[str, Any]) -> BounceDetails:
    kind = str(document.get("notificationType") or document.get("eventType"))
    if kind == "Complaint":
        complaint = document.get("complaint") or {}
        people = [r.get("emailAddress", "") for r in complaint.get("complainedRecipients") or [] if isinstance(r, dict)]
        return BounceDetails("complaint", "", _clean(people), str(complaint.get("complaintFeedbackType") or "")[:300])
    bounce = document.get("bounce") or {}
    failed = [r for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
    status = next((str(r["status"]) for r in failed if r.get("status")), "")
    diagnostic = _diagnostic(next((str(r["diagnosticCode"]) for r in failed if r.get("diagnosticCode")), ""))
    label = {"Bounce": "bounce", "DeliveryDelay": "delay", "Delivery": "delivery"}.get(kind, "bounce")
    if not diagnostic and bounce.get("bounceType"):
        diagnostic = f"{bounce.get('bounceType')}/{bounce.get('bounceSubType', '')}"
    return BounceDetails(label, _status(status), _clean([r.get("emailAddress", "") for r in failed]), diagnostic[:300])


def _from_report(report: str, kind: str) -> BounceDetails:
    """RFC 3464 per-recipient fields, or an RFC 5965 feedback report."""
    fields = [(name.lower(), " ".join(value.split())) for name, value in _FIELD.findall(report)]
    if any(name == "feedback-type" for name, _ in fields):
        people = [v for n, v in fields if n in ("original-rcpt-to", "removal-recipient")]
        feedback = next((v for n, v in fields if n == "feedback-type"), "")
        return BounceDetails("complaint", "", _clean([_address(v) for v in people]), feedback[:300])
    recipients = [_address(v) for n, v in fields if n in ("final-recipient", "original-recipient")]
    action = next((v.lower() for n, v in fields if n == "action"), "")
    status = next((_status(v) for n, v in fields if n == "status" and _status(v)), "")
    diagnostic = next((v for n, v in fields if n == "diagnostic-code"), "")
    label = "delay" if action.startswith("delayed") else kind
    return BounceDetails(label, status, _clean(recipients), _diagnostic(diagnostic))


def _from_text(mail: ParsedMail, kind: str) -> BounceDetails:
    failed = mail.header("X-Failed-Recipients")
    text = mail.text[:20_000]
    reply = _SMTP_REPLY.search(text)
    status = _status(reply.group(0) if reply else "") or _status(text)
    recipients = _ADDRESS.findall(failed) if failed else _mentioned(text, mail)
    return BounceDetails(kind, status, _clean(recipients), reply.group(0).strip()[:300] if reply else "")


def _mentioned(text: str, mail: ParsedMail) -> list[str]:
    """Addresses a free-form bounce names, minus its own and the returned mail's sender's."""
    own = {mail.sender[1].lower()} if mail.sender else set()
    own.update(a.lower() for _, a in mail.to)
    return [a for a in _ADDRESS.findall(text[:5_000]) if a.lower() not in own][:MAX_RECIPIENTS]


def _address(value: str) -> str:
    """``rfc822; user@example.com`` → ``user@example.com``."""
    found = _ADDRESS.search(value)
    return found.group(0) if found else value.split(";", 1)[-1].strip()[:200]


def _status(value: str) -> str:
    found = _STATUS.search(value)
    return ".".join(found.groups()) if found else ""


def _diagnostic(value: str) -> str:
    """``smtp; 550 5.1.1 user unknown`` → ``550 5.1.1 user unknown``."""
    head, _, rest = value.partition(";")
    return (rest if rest and " " not in head.strip() else value).strip()[:300]


def _clean(addresses: list[Any]) -> tuple[str, ...]:
    unique = dict.fromkeys(str(a).strip().strip("<>").lower() for a in addresses if str(a).strip())
    return tuple(unique)[:MAX_RECIPIENTS]
