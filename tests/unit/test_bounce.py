"""bounce_reason(): DSNs, mailer daemons, null return paths, free-form bounces, and what is not a bounce."""

import pytest

from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.pipeline.steps.bounce import bounce_reason

ORIGINAL = (
    "From: Support <support@helpdesk.example>\nTo: gone@example.org\nSubject: [#1042] Printer\n"
    "Message-ID: <ticket-1042.abc@helpdesk.example>\n\nWe received your request.\n"
)


def _reason(raw: str) -> str:
    return bounce_reason(parse_mail(raw.encode("utf-8")))


def _dsn(report_type: str = "delivery-status", returned: str = "message/rfc822") -> str:
    return (
        "From: postmaster@mx.example.org\nTo: support@helpdesk.example\n"
        "Subject: Delivery Status Notification\n"
        f"Content-Type: multipart/report; report-type={report_type}; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nDelivery to the following recipient failed.\n"
        "--R\nContent-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; gone@example.org\nAction: failed\n\n"
        f"--R\nContent-Type: {returned}\n\n{ORIGINAL}--R--\n"
    )


def test_dsn_is_a_bounce_and_carries_the_original_message_id() -> None:
    mail = parse_mail(_dsn().encode())
    assert bounce_reason(mail) == "multipart/report delivery-status"
    assert mail.embedded_message_ids == ["ticket-1042.abc@helpdesk.example"]


def test_dsn_with_returned_headers_only() -> None:
    mail = parse_mail(_dsn(returned="text/rfc822-headers").encode())
    assert bounce_reason(mail) == "multipart/report delivery-status"
    assert mail.embedded_message_ids == ["ticket-1042.abc@helpdesk.example"]


def test_delivery_status_part_without_report_type() -> None:
    raw = _dsn().replace("report-type=delivery-status; ", "").replace("From: postmaster@", "From: system@")
    assert _reason(raw) == "message/delivery-status part"


@pytest.mark.parametrize(
    ("sender_headers", "reason"),
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
        ("From: x@example.org\nReturn-Path: <>\n", "empty return path (<>)"),
        ("From: x@example.org\nX-Failed-Recipients: gone@example.org\n",
         "X-Failed-Recipients: gone@example.org"),
    ],
)
def test_sender_signals(sender_headers: str, reason: str) -> None:
    assert _reason(f"{sender_headers}Subject: Notice\n\nSomething happened.\n") == reason


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Undeliverable: [#1042] Printer", "Delivery has failed to these recipients."),
        ("Delivery Failure", "Could not deliver message to the following recipient(s): x@example.org"),
        ("Mail Delivery Warning", "Delivery of email to this address has been postponed (mailbox full)."),
        ("Returned mail: see transcript for details", "550 5.1.1 User unknown"),
        ("Delivery failure notification", "Your message could not be delivered to the following recipients."),
        ("Недоставленное сообщение", "Сообщение не удалось доставить адресату: 550 5.1.1"),
        ("Unzustellbar: Drucker", "Die Nachricht konnte nicht zugestellt werden."),
    ],
)
def test_free_form_bounces_need_subject_and_wording(subject: str, body: str) -> None:
    raw = f"From: gateway@example.org\nSubject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n{body}"
    assert _reason(raw) == f"bounce subject and failure wording: {subject}"


def test_bounce_subject_with_returned_message() -> None:
    raw = (
        "From: gateway@example.org\nSubject: Mail could not be delivered\n"
        "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nSee attached.\n"
        f"--B\nContent-Type: message/rfc822\n\n{ORIGINAL}--B--\n"
    )
    assert _reason(raw) == "bounce subject with returned message: Mail could not be delivered"


@pytest.mark.parametrize(
    "raw",
    [
        "From: customer@example.com\nSubject: Undeliverable invoice\n\nThe invoice cannot be opened.\n",
        "From: customer@example.com\nSubject: Re: Delivery failure of our order\n\nThe parcel is lost.\n",
        "From: customer@example.com\nSubject: Fwd: Undeliverable: Printer\n\nWhy did my mail bounce?\n",
        "From: customer@example.com\nSubject: Printer\n\nMy mail could not be delivered, error 550.\n",
        "From: postmaster-tools@example.com\nSubject: Hello\n\nA person.\n",
        "From: customer@example.com\nReturn-Path: <customer@example.com>\nSubject: Hi\n\nx\n",
    ],
)
def test_human_mail_is_not_a_bounce(raw: str) -> None:
    assert _reason(raw) == ""


@pytest.mark.parametrize(
    "headers",
    [
        "X-Autoreply: yes\n",
        "Auto-Submitted: auto-replied\n",
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=R\n",
    ],
)
def test_null_return_path_of_auto_responders_and_receipts_is_not_a_bounce(headers: str) -> None:
    # RFC 3834 asks auto-responders to send with an empty return path, just like bounces.
    raw = f"Return-Path: <>\nFrom: customer@example.com\nSubject: Away\n{headers}\nI am away.\n"
    assert _reason(raw) == ""


def test_read_receipt_is_not_a_bounce() -> None:
    receipt = (
        "From: customer@example.org\nSubject: Read: [#1042] Printer\n"
        "Content-Type: multipart/report; report-type=disposition-notification; boundary=R\n\n"
        "--R\nContent-Type: text/plain\n\nYour message was displayed.\n"
        "--R\nContent-Type: message/disposition-notification\n\n"
        "Disposition: manual-action; displayed\n--R--\n"
    )
    assert _reason(receipt) == ""
