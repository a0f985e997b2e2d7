"""bounce_details(): what failed and why, from the most reliable part of a bounce or complaint.

An agent reads these on the ticket to learn why a customer did not get an answer, so the
status, the recipients and the remote server's words must come out clean.
"""

import json

import pytest

from mailhelpdesk.mail.bounce_report import BounceDetails, bounce_details, ses_notification
from mailhelpdesk.mail.parse import ParsedMail, parse_mail

ORIGINAL = (
    "From: Support <support@helpdesk.example>\nTo: gone@example.org\nSubject: [#1042] Printer\n"
    "Message-ID: <ticket-1042.abc@helpdesk.example>\n\nWe received your request.\n"
)


def _parse(raw: str) -> ParsedMail:
    return parse_mail(raw.encode("utf-8"))


def _dsn(fields: str) -> ParsedMail:
    return _parse(
        "From: MAILER-DAEMON@mx.example.org\nTo: support@helpdesk.example\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nDelivery to the following recipient failed permanently.\n"
        "--R\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\nArrival-Date: Mon, 3 Mar 2025 10:00:00 +0000\n\n"
        f"{fields}\n--R\nContent-Type: message/rfc822\n\n{ORIGINAL}--R--\n"
    )


# --- RFC 3464 delivery reports ----------------------------------------------------------------


def test_dsn_status_recipient_and_diagnostic() -> None:
    """The per-recipient fields give the status, the address, and the server's words without "smtp;"."""
    mail = _dsn(
        "Final-Recipient: rfc822; gone@example.org\nOriginal-Recipient: rfc822;gone@example.org\n"
        "Action: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected:\n"
        "    User unknown in virtual mailbox table\n"
    )
    assert bounce_details(mail) == BounceDetails(
        kind="bounce", status="5.1.1", recipients=("gone@example.org",),
        diagnostic="550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    )


def test_dsn_delayed_action_is_a_delay() -> None:
    """A warning that delivery is still being tried is no failure: kind "delay"."""
    mail = _dsn(
        "Final-Recipient: rfc822; slow@example.org\nAction: delayed\nStatus: 4.4.7\n"
        "Diagnostic-Code: smtp; 421 4.4.7 connection timed out\n"
    )
    details = bounce_details(mail)
    assert (details.kind, details.status, details.recipients) == ("delay", "4.4.7", ("slow@example.org",))
    assert details.diagnostic == "421 4.4.7 connection timed out"


def test_dsn_lists_every_failed_recipient() -> None:
    """One report may cover several recipients: each is named once."""
    mail = _dsn(
        "Final-Recipient: rfc822; one@example.org\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; Two@Example.org\nAction: failed\nStatus: 5.2.2\n"
    )
    details = bounce_details(mail)
    assert details.recipients == ("one@example.org", "two@example.org")
    assert details.status == "5.1.1"


def test_as_data_leaves_out_empty_fields() -> None:
    """What is stored on the event: only what the report says."""
    assert BounceDetails("bounce", "5.1.1", ("a@example.org",), "550 x").as_data() == {
        "kind": "bounce", "status": "5.1.1", "recipients": ["a@example.org"], "diagnostic": "550 x",
    }
    assert BounceDetails("complaint").as_data() == {"kind": "complaint"}


# --- RFC 5965 feedback reports ------------------------------------------------------------------


def test_arf_complaint_details() -> None:
    """The complaining recipient and the feedback type; whatever kind the caller guessed."""
    mail = _parse(
        "From: staff@hotmail.com\nTo: support@helpdesk.example\nSubject: complaint about message from 192.0.2.1\n"
        "Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
        "--F\nContent-Type: text/plain\n\nThis is an email abuse report.\n"
        "--F\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"
        "Original-Rcpt-To: <Customer@example.org>\nSource-IP: 192.0.2.1\n\n"
        f"--F\nContent-Type: message/rfc822\n\n{ORIGINAL}--F--\n"
    )
    assert bounce_details(mail, "bounce") == BounceDetails(
        kind="complaint", status="", recipients=("customer@example.org",), diagnostic="abuse",
    )


# --- Amazon SES notifications -------------------------------------------------------------------

SES_BOUNCE: dict[str, object] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General",
        "bouncedRecipients": [
            {"emailAddress": "gone@example.org", "action": "failed", "status": "5.1.1",
             "diagnosticCode": "smtp; 550 5.1.1 user unknown"},
            {"emailAddress": "Also.Gone@example.org", "action": "failed"},
        ],
    },
    "mail": {"source": "support@helpdesk.example", "destination": ["gone@example.org"]},
}
SES_COMPLAINT: dict[str, object] = {
    "notificationType": "Complaint",
    "complaint": {"complainedRecipients": [{"emailAddress": "customer@example.org"}],
                  "complaintFeedbackType": "abuse"},
    "mail": {"source": "support@helpdesk.example"},
}


def _sns_mail(document: dict[str, object], *, wrapped: bool) -> ParsedMail:
    body = json.dumps(document)
    if wrapped:
        body = json.dumps({"Type": "Notification", "MessageId": "1", "Message": body})
    return _parse(
        "From: no-reply@sns.amazonaws.com\nTo: support@helpdesk.example\nSubject: AWS Notification Message\n"
        f"Content-Type: text/plain; charset=UTF-8\n\n{body}\n"
    )


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "sns"])
def test_ses_bounce_details(wrapped: bool) -> None:
    """Recipients, status and diagnosticCode come from the JSON, bare or in the SNS envelope."""
    details = bounce_details(_sns_mail(SES_BOUNCE, wrapped=wrapped))
    assert details.kind == "bounce"
    assert details.status == "5.1.1"
    assert details.recipients == ("gone@example.org", "also.gone@example.org")
    assert "550 5.1.1 user unknown" in details.diagnostic


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "sns"])
def test_ses_complaint_details(wrapped: bool) -> None:
    """A complaint names who complained and the feedback type."""
    assert bounce_details(_sns_mail(SES_COMPLAINT, wrapped=wrapped), "bounce") == BounceDetails(
        kind="complaint", status="", recipients=("customer@example.org",), diagnostic="abuse",
    )


def test_ses_bounce_without_diagnostic_code_gives_its_type() -> None:
    """Without the server's words, SES's bounce type still tells hard from soft."""
    document: dict[str, object] = {"notificationType": "Bounce", "bounce": {
        "bounceType": "Transient", "bounceSubType": "MailboxFull",
        "bouncedRecipients": [{"emailAddress": "full@example.org"}]}}
    details = bounce_details(_sns_mail(document, wrapped=True))
    assert details.diagnostic == "Transient/MailboxFull"
    assert details.recipients == ("full@example.org",)


def test_ses_event_publishing_format() -> None:
    """Configuration-set events say eventType instead of notificationType."""
    recipients = [{"emailAddress": "gone@example.org"}]
    document: dict[str, object] = {"eventType": "Bounce", "bounce": {"bouncedRecipients": recipients}}
    assert ses_notification(json.dumps(document)) == document


@pytest.mark.parametrize(
    "text",
    [
        '{"notificationType": "Bounce", "bounce": ',  # cut short
        '{"notificationType": "Bounce",}',  # trailing comma
        '[{"notificationType": "Bounce"}]',  # not an object
        '{"order": 1042, "status": "failed"}',
        '{"notificationType": "Shipment"}',
        '{"Type": "Notification", "Message": "Your order has shipped"}',
        '{"Type": "Notification", "Message": "{\\"order\\": 1042}"}',
        '{"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe"}',
        'Hello {"notificationType": "Bounce"}',
    ],
)
def test_no_ses_detection_for_malformed_or_foreign_json(text: str) -> None:
    """Only SES's own notification types count."""
    assert ses_notification(text) is None


def test_foreign_json_mail_falls_back_to_its_text() -> None:
    """A JSON webhook that is not SES gives no SES details: nothing is invented."""
    mail = _parse("From: hooks@shop.example\nSubject: Webhook\n\n" '{"order": 1042, "status": "failed"}\n')
    assert bounce_details(mail) == BounceDetails(kind="bounce")


# --- text: X-Failed-Recipients and free-form bounces ------------------------------------------


def test_x_failed_recipients_names_the_recipients() -> None:
    """Exim's header is the list of failed addresses, whatever else the text mentions."""
    mail = _parse(
        "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: support@helpdesk.example\n"
        "X-Failed-Recipients: gone@example.org, Other@example.net\nSubject: Mail delivery failed\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its recipients.\n\n"
        "  gone@example.org\n    host mx.example.org [192.0.2.7]\n"
        "    SMTP error from remote mail server after RCPT TO:<gone@example.org>:\n"
        "    550 5.1.1 User unknown\n\nContact admin@example.org for help.\n"
    )
    details = bounce_details(mail)
    assert details.recipients == ("gone@example.org", "other@example.net")
    assert details.status == "5.1.1"
    assert details.diagnostic == "550 5.1.1 User unknown"


def test_free_text_smtp_reply() -> None:
    """The SMTP reply line gives the status and the diagnostic; our own addresses are no recipients."""
    mail = _parse(
        "From: MAILER-DAEMON@mx.example.org\nTo: support@helpdesk.example\nSubject: Returned mail\n\n"
        "----- Transcript of session follows -----\n"
        "550 5.1.1 <gone@example.org>... User unknown\n\n"
        "----- Original message -----\nFrom: support@helpdesk.example\nTo: gone@example.org\n"
    )
    details = bounce_details(mail, "bounce")
    assert details == BounceDetails(
        kind="bounce", status="5.1.1", recipients=("gone@example.org",),
        diagnostic="550 5.1.1 <gone@example.org>... User unknown",
    )


def test_free_text_keeps_the_kind_it_is_given() -> None:
    """With no report, the caller's classification stands."""
    mail = _parse("From: support-owner@lists.example.org\nSubject: Held\n\nYour post awaits moderator approval.\n")
    assert bounce_details(mail, "list") == BounceDetails(kind="list")
