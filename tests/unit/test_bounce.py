"""bounce_reason(): reports, SES, free-form bounces on two pieces of evidence, and what is not a bounce.

A bounce is left out of tickets, so one piece of evidence (a postmaster sender, an empty return
path, a bounce-like subject) only gives a bounce_signals() entry: people write those too.
"""

import json
from email.header import Header

import pytest

from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.pipeline.steps.bounce import bounce_kind, bounce_reason, bounce_signals

ORIGINAL = (
    "From: Support <support@helpdesk.example>\nTo: gone@example.org\nSubject: [#1042] Printer\n"
    "Message-ID: <ticket-1042.abc@helpdesk.example>\n\nWe received your request.\n"
)
FAILURE = "Delivery to the following recipient failed permanently:\n\n     gone@example.org\n"


def _parse(raw: str | bytes) -> ParsedMail:
    return parse_mail(raw.encode("utf-8") if isinstance(raw, str) else raw)


def _reason(raw: str | bytes) -> str:
    return bounce_reason(_parse(raw))


def _dsn(report_type: str = "delivery-status", returned: str = "message/rfc822") -> str:
    return (
        "From: postmaster@mx.example.org\nTo: support@helpdesk.example\n"
        "Subject: Delivery Status Notification\n"
        f"Content-Type: multipart/report; report-type={report_type}; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nDelivery to the following recipient failed.\n"
        "--R\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n\n"
        f"--R\nContent-Type: {returned}\n\n{ORIGINAL}--R--\n"
    )


# --- machine-readable reports -----------------------------------------------------------------


def test_dsn_is_a_bounce_and_carries_the_original_message_id() -> None:
    """RFC 3464 is certain; the returned message's id links the bounce to its ticket."""
    mail = _parse(_dsn())
    assert bounce_reason(mail) == "delivery report (multipart/report delivery-status)"
    assert bounce_kind(bounce_reason(mail)) == "bounce"
    assert mail.embedded_message_ids == ["ticket-1042.abc@helpdesk.example"]


def test_dsn_with_returned_headers_only() -> None:
    """Many MTAs return only the headers: the id is still there."""
    mail = _parse(_dsn(returned="text/rfc822-headers"))
    assert bounce_reason(mail) == "delivery report (multipart/report delivery-status)"
    assert mail.embedded_message_ids == ["ticket-1042.abc@helpdesk.example"]


def test_delivery_status_part_without_report_type() -> None:
    """A report part inside multipart/mixed is as certain as the report type."""
    raw = (_dsn().replace("multipart/report; report-type=delivery-status;", "multipart/mixed;")
           .replace("From: postmaster@", "From: system@").replace("Delivery Status Notification", "Notice"))
    assert _reason(raw) == "delivery report (message/delivery-status part)"


def test_global_delivery_status_part() -> None:
    """RFC 6533's internationalised report counts like RFC 3464's."""
    raw = _dsn().replace("Content-Type: message/delivery-status", "Content-Type: message/global-delivery-status")
    raw = raw.replace("multipart/report; report-type=delivery-status;", "multipart/mixed;")
    assert _reason(raw) == "delivery report (message/global-delivery-status part)"


ARF = (
    "From: Hotmail Complaints <staff@hotmail.com>\nTo: support@helpdesk.example\n"
    "Subject: complaint about message from 192.0.2.1\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n"
    "--F\nContent-Type: text/plain\n\nThis is an email abuse report.\n"
    "--F\nContent-Type: message/feedback-report\n\n"
    "Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"
    "Original-Rcpt-To: <customer@example.org>\nSource-IP: 192.0.2.1\n\n"
    f"--F\nContent-Type: message/rfc822\n\n{ORIGINAL}--F--\n"
)


def test_arf_feedback_report_is_a_complaint() -> None:
    """RFC 5965: a recipient marked our mail as spam; an agent should see it, not a ticket."""
    reason = _reason(ARF)
    assert reason == "complaint (ARF feedback report)"
    assert bounce_kind(reason) == "complaint"


def test_feedback_report_part_without_report_type() -> None:
    """Some providers wrap the ARF part in multipart/mixed."""
    raw = ARF.replace("multipart/report; report-type=feedback-report;", "multipart/mixed;")
    assert _reason(raw) == "complaint (ARF feedback report)"


# --- Amazon SES notifications ---------------------------------------------------------------------

SES_BOUNCE: dict[str, object] = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "gone@example.org", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2025-03-03T10:00:00.000Z", "feedbackId": "0100-abc",
    },
    "mail": {"source": "support@helpdesk.example", "messageId": "0100-def", "destination": ["gone@example.org"]},
}
SES_COMPLAINT: dict[str, object] = {
    "notificationType": "Complaint",
    "complaint": {"complainedRecipients": [{"emailAddress": "customer@example.org"}],
                  "complaintFeedbackType": "abuse", "timestamp": "2025-03-03T10:00:00.000Z"},
    "mail": {"source": "support@helpdesk.example", "messageId": "0100-def"},
}


def _sns(document: dict[str, object], *, wrapped: bool) -> str:
    body = json.dumps(document)
    if wrapped:
        body = json.dumps({"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:eu-west-1:1:bounces",
                           "Message": body, "Timestamp": "2025-03-03T10:00:01.000Z"})
    return (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: support@helpdesk.example\n"
        f"Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n\n{body}\n"
    )


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "sns"])
@pytest.mark.parametrize(
    ("document", "reason", "kind"),
    [
        (SES_BOUNCE, "delivery report (Amazon SES Bounce notification)", "bounce"),
        (SES_COMPLAINT, "complaint (Amazon SES Complaint notification)", "complaint"),
    ],
)
def test_ses_notifications(document: dict[str, object], reason: str, kind: str, wrapped: bool) -> None:
    """SES sends bounces and complaints as JSON, bare or inside an SNS envelope."""
    found = _reason(_sns(document, wrapped=wrapped))
    assert found == reason
    assert bounce_kind(found) == kind


@pytest.mark.parametrize(
    "body",
    [
        '{"notificationType": "Bounce", "bounce": ',  # cut short
        '{"order": 1042, "status": "failed"}',
        '{"Type": "Notification", "Message": "Your order has shipped"}',
        '{"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe"}',
    ],
)
def test_json_that_is_not_an_ses_notification(body: str) -> None:
    """Malformed or foreign JSON, e.g. a webhook a customer forwards, is no SES bounce."""
    raw = f"From: hooks@shop.example\nSubject: Webhook\nContent-Type: text/plain\n\n{body}\n"
    assert _reason(raw) == ""


# --- X-Failed-Recipients and free-form bounces ------------------------------------------------------


def test_x_failed_recipients_is_certain() -> None:
    """Exim names the failed addresses in a header only it sets."""
    raw = "From: x@example.org\nX-Failed-Recipients: gone@example.org\nSubject: Notice\n\nSomething happened.\n"
    assert _reason(raw) == "X-Failed-Recipients: gone@example.org"


@pytest.mark.parametrize(
    ("sender_headers", "origin"),
    [
        ("From: MAILER-DAEMON@mx.example.org\n", "sender mailer-daemon@mx.example.org"),
        ("From: Mail Delivery Subsystem <mailer-daemon@gmail.com>\n", "sender mailer-daemon@gmail.com"),
        ("From: postmaster@example.org\n", "sender postmaster@example.org"),
        ("From: Mailer_Daemon@example.org\n", "sender mailer_daemon@example.org"),
        ("From: someone@example.org\nReturn-Path: <MAILER-DAEMON@relay.example.org>\n",
         "return path MAILER-DAEMON@relay.example.org"),
        ("From: admin@example.org\nReturn-Path: <MAILER-DAEMON>\n", "return path MAILER-DAEMON"),
        ("From: MAILER-DAEMON\n", "From MAILER-DAEMON"),
        ("From: Mail Delivery System <system@example.org>\n", "sender name Mail Delivery System"),
        ('From: "Mail System" <>\n', "From with an empty address (<>)"),
        ("From: x@example.org\nReturn-Path: <>\n", "empty return path (<>)"),
    ],
)
def test_a_mail_system_origin_needs_failure_wording(sender_headers: str, origin: str) -> None:
    """The origin alone is a signal; with the failure's words it is a bounce."""
    alone = _parse(f"{sender_headers}Subject: Notice\n\nSomething happened.\n")
    assert bounce_reason(alone) == ""
    assert bounce_signals(alone) == [f"{origin} without a failure report"]
    bounce = _parse(f"{sender_headers}Subject: Notice\n\n{FAILURE}")
    assert bounce_reason(bounce) == f"{origin} and failure wording (Delivery to the following recipient fail)"


def test_mail_system_sender_and_bounce_subject_are_two_origins() -> None:
    """A mailer-daemon sending "Undelivered Mail Returned to Sender" needs no more."""
    raw = "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n\nSee below.\n"
    assert _reason(raw) == (
        "sender mailer-daemon@mx.example.org and bounce subject (Undelivered Mail Returned to Sender)"
    )


@pytest.mark.parametrize(
    ("subject", "body", "wording"),
    [
        ("Undeliverable: [#1042] Printer",
         "Delivery has failed to these recipients or groups:\ngone@example.org\n"
         "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'", "Remote Server returned"),
        ("Returned mail: see transcript for details",
         "----- The following addresses had permanent fatal errors -----\n<gone@example.org>",
         "permanent fatal error"),
        ("Mail Delivery Warning", "Delivery of email to this address has been postponed (mailbox full).",
         "mailbox full"),
        ("Delivery Status Notification (Failure)", "Delivery to the following recipient failed permanently.",
         "Delivery to the following recipient fail"),
        ("Недоставленное сообщение", "Сообщение не удалось доставить адресату: 550 5.1.1", "550"),
        ("Unzustellbar: Drucker", "Die Nachricht konnte nicht zugestellt werden: 5.1.1 user unknown", "5.1.1"),
    ],
)
def test_bounce_subject_and_a_mail_system_wording(subject: str, body: str, wording: str) -> None:
    """A bounce-like subject is confirmed by what only a mail system writes."""
    raw = f"From: gateway@example.org\nSubject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n{body}"
    assert _reason(raw) == f"bounce subject ({subject}) and failure wording ({wording})"


def test_bounce_subject_with_returned_message() -> None:
    """The returned mail attached is the second piece of evidence."""
    raw = (
        "From: gateway@example.org\nSubject: Mail could not be delivered\n"
        "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nSee attached.\n"
        f"--B\nContent-Type: message/rfc822\n\n{ORIGINAL}--B--\n"
    )
    assert _reason(raw) == "bounce subject (Mail could not be delivered) with the returned message"


def test_carrier_postmaster_with_an_smtp_rejection() -> None:
    """A plain-text reply from a carrier's postmaster quoting the SMTP rejection."""
    raw = (
        "From: postmaster@mail.carrier.example\nTo: support@helpdesk.example\nSubject: Re: [#1042] Printer\n\n"
        "550 5.1.1 <user@carrier.example>: Recipient address rejected: User unknown in virtual mailbox table\n"
    )
    reason = _reason(raw)
    assert reason.startswith("sender postmaster@mail.carrier.example and failure wording (")
    assert bounce_kind(reason) == "bounce"


def _iso_2022_jp(sender: str, body: str, subject: str = "Re: [#1042] Printer") -> bytes:
    encoded_subject = Header(subject, "iso-2022-jp").encode()
    head = (
        f"From: {sender}\nTo: support@helpdesk.example\nSubject: {encoded_subject}\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
    )
    return head.encode("ascii") + body.encode("iso-2022-jp") + b"\n"


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@docomo.ne.jp", "postmaster@ezweb.ne.jp"])
def test_japanese_carrier_notice_in_iso_2022_jp(sender: str) -> None:
    """Japanese mobile carriers answer in ISO-2022-JP; the decoded words are the evidence."""
    body = "以下のアドレスへのメール送信に失敗しました。\n宛先不明: user@docomo.ne.jp\n"
    raw = _iso_2022_jp(sender, body)
    assert b"\x1b$B" in raw  # really ISO-2022-JP on the wire, not UTF-8
    assert _reason(raw) == f"sender {sender.lower()} and failure wording (送信に失敗)"


def test_japanese_bounce_subject_from_a_carrier() -> None:
    """The carrier's sender and a Japanese bounce subject are two origins."""
    raw = _iso_2022_jp("MAILER-DAEMON@docomo.ne.jp", "詳細は以下をご覧ください。", subject="メール送信エラー")
    assert _reason(raw) == "sender mailer-daemon@docomo.ne.jp and bounce subject (メール送信エラー)"


def test_japanese_sending_failed_wording_alone() -> None:
    """A carrier saying only "sending the mail to the following address failed", without 宛先不明."""
    body = "以下のアドレスへのメール送信に失敗しました。\nuser@docomo.ne.jp\n"
    raw = _iso_2022_jp("MAILER-DAEMON@docomo.ne.jp", body)
    assert _reason(raw).startswith("sender mailer-daemon@docomo.ne.jp and failure wording")


# --- mailing-list managers and complaints without ARF ---------------------------------------------


def test_mailman_moderation_notice() -> None:
    """Mailman holding our answer for approval is about our mail, not a customer's question."""
    raw = (
        "From: support-owner@lists.example.org\nTo: support@helpdesk.example\n"
        "Subject: Your message to Support awaits moderator approval\n\n"
        "Your mail to 'Support' with the subject\n\n    [#1042] Printer\n\n"
        "Is being held until the list moderator can review it for approval.\n"
    )
    reason = _reason(raw)
    assert reason == "mailing-list manager support-owner@lists.example.org: awaits moderator"
    assert bounce_kind(reason) == "list"


def test_mailman_administrivia_header() -> None:
    """Mailman marks its own notices with X-List-Administrivia."""
    raw = (
        "From: support-bounces@lists.example.org\nTo: support@helpdesk.example\nX-List-Administrivia: yes\n"
        "Subject: Support mailing list probe message\n\nThis is a probe message.\n"
    )
    assert _reason(raw) == "mailing-list manager notice (X-List-Administrivia: yes)"


def test_list_manager_sender_without_rejection_wording_is_not_a_notice() -> None:
    """A list owner writing an ordinary question is a person."""
    raw = "From: support-owner@lists.example.org\nSubject: Printer for the office\n\nWhich model do you sell?\n"
    assert _reason(raw) == ""


def _complaint(attached: bool) -> str:
    part = f"--B\nContent-Type: message/rfc822\n\n{ORIGINAL}" if attached else ""
    return (
        "From: staff@hotmail.com\nTo: support@helpdesk.example\nSubject: complaint about message from 192.0.2.1\n"
        "Content-Type: multipart/mixed; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nThis is a spam complaint from a Hotmail user.\n"
        f"{part}--B--\n"
    )


def test_complaint_without_arf() -> None:
    """Abuse desks without ARF: their address, a complaint subject and the reported message."""
    reason = _reason(_complaint(attached=True))
    assert reason == "complaint from staff@hotmail.com with the reported message"
    assert bounce_kind(reason) == "complaint"


def test_complaint_subject_without_the_reported_message_is_not_a_complaint() -> None:
    """Without the reported message it may be a person at that desk writing."""
    assert _reason(_complaint(attached=False)) == ""


# --- one piece of evidence: automated, still a ticket -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "signal"),
    [
        ("From: postmaster@example.org\nSubject: Question about your SPF record\n\n"
         "Could you tell us which servers send your mail? Thanks, Bob\n",
         "sender postmaster@example.org without a failure report"),
        ("Return-Path: <>\nFrom: notifications@app.example\nSubject: Your weekly report\n\nHere it is.\n",
         "empty return path (<>) without a failure report"),
        ("From: customer@example.com\nSubject: Undeliverable invoice\n\nThe invoice cannot be opened.\n",
         "bounce subject (Undeliverable invoice) without a failure report"),
        ("From: customer@example.com\nSubject: Mail could not be delivered\n\nDelivery has failed, why?\n",
         "bounce subject (Mail could not be delivered) without a failure report"),
    ],
)
def test_one_piece_of_evidence_is_only_a_signal(raw: str, signal: str) -> None:
    """A postmaster asking a question, or a subject a person chose, still makes a ticket."""
    mail = _parse(raw)
    assert bounce_reason(mail) == ""
    assert bounce_signals(mail) == [signal]


@pytest.mark.parametrize(
    "raw",
    [
        "From: customer@example.com\nSubject: Re: Delivery failure of our order\n\nThe parcel is lost.\n",
        "From: customer@example.com\nSubject: Fwd: Undeliverable: Printer\n\nWhy did my mail bounce?\n",
        "From: customer@example.com\nSubject: Printer\n\nMy mail could not be delivered, error 550.\n",
        "From: postmaster-tools@example.com\nSubject: Hello\n\nA person.\n",
        "From: customer@example.com\nReturn-Path: <customer@example.com>\nSubject: Hi\n\nx\n",
    ],
)
def test_human_mail_is_not_a_bounce(raw: str) -> None:
    """People mention failures, or have addresses that look like a mail system's: no evidence."""
    mail = _parse(raw)
    assert bounce_reason(mail) == ""
    assert bounce_signals(mail) == []


@pytest.mark.parametrize(
    "headers",
    [
        "X-Autoreply: yes\n",
        "Auto-Submitted: auto-replied\n",
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=R\n",
    ],
)
def test_null_return_path_of_auto_responders_and_receipts_is_not_a_bounce(headers: str) -> None:
    """RFC 3834 asks auto-responders to send with an empty return path, just like bounces."""
    mail = _parse(f"Return-Path: <>\nFrom: customer@example.com\nSubject: Away\n{headers}\nI am away.\n")
    assert bounce_reason(mail) == ""
    assert bounce_signals(mail) == []


def test_read_receipt_is_not_a_bounce() -> None:
    """A disposition report is the auto-reply step's business."""
    receipt = (
        "From: customer@example.org\nSubject: Read: [#1042] Printer\n"
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nYour message was displayed.\n"
        "--R\nContent-Type: message/disposition-notification\n\n"
        "Disposition: manual-action; displayed\n--R--\n"
    )
    assert _reason(receipt) == ""


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("delivery report (multipart/report delivery-status)", "bounce"),
        ("complaint (ARF feedback report)", "complaint"),
        ("mailing-list manager notice (X-List-Administrivia: yes)", "list"),
        ("X-Failed-Recipients: gone@example.org", "bounce"),
    ],
)
def test_bounce_kind(reason: str, kind: str) -> None:
    """The kind is read from the reason's first word."""
    assert bounce_kind(reason) == kind
