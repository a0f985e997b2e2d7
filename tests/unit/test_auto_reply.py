"""auto_reply_reason(): RFC 3834 and the headers and subjects real auto-responders use."""

import pytest

from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.pipeline.steps.auto_reply import auto_reply_reason, vacation_reason


def _mail(headers: str = "", subject: str = "Re: [#1042] Printer", content_type: str = "text/plain") -> str:
    raw = (
        f"From: Customer <customer@example.com>\nTo: support@helpdesk.example\nSubject: {subject}\n"
        f"Content-Type: {content_type}\n{headers}\nbody\n"
    )
    return auto_reply_reason(parse_mail(raw.encode("utf-8")))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied\n", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated\n", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified\n", "Auto-Submitted: auto-notified"),
        ("Auto-Submitted: Auto-Replied (vacation)\n", "Auto-Submitted: auto-replied (vacation)"),
        ("X-Autoreply: yes\n", "X-Autoreply: yes"),
        ("X-Autorespond: Vacation\n", "X-Autorespond: Vacation"),
        ("X-Auto-Response-Suppress: All\n", "X-Auto-Response-Suppress: All"),
        ("X-Auto-Response-Suppress: OOF, AutoReply\n", "X-Auto-Response-Suppress: OOF, AutoReply"),
        ("Precedence: bulk\n", "Precedence: bulk"),
        ("Precedence: JUNK\n", "Precedence: junk"),
        ("Precedence: list\n", "Precedence: list"),
        ("Precedence: auto_reply\n", "Precedence: auto_reply"),
        ("X-Precedence: bulk\n", "X-Precedence: bulk"),
        ("List-Id: Users <u.lists.example.org>\n", "mailing list (List-Id: Users <u.lists.example.org>)"),
    ],
)
def test_automatic_headers(headers: str, reason: str) -> None:
    assert _mail(headers) == reason


@pytest.mark.parametrize(
    "headers",
    [
        "",
        "Auto-Submitted: no\n",
        "Auto-Submitted: No (human)\n",
        "X-Autoreply: no\n",
        "X-Autoreply: false\n",
        "Precedence: normal\n",
        "Precedence: first-class\n",
        "X-Mailer: Microsoft Outlook 16.0\n",
    ],
)
def test_human_mail_is_not_automatic(headers: str) -> None:
    assert _mail(headers) == ""


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Printer",
        "Out of office reply: Printer",
        "Automatic reply: [#1042] Printer",
        "AutoReply: Printer",
        "Auto-Reply: Printer",
        "Auto Response",
        "AUTO: John Smith is out of the office",
        "[Auto-Reply] Re: Printer",
        "I am out of the office",
        "Abwesenheitsnotiz: Drucker",
        "Automatische Antwort: Drucker",
        "Réponse automatique : Imprimante",
        "Автоответ: Принтер",
        "Автоматический ответ: Принтер",
        "Respuesta automática: Impresora",
        "Risposta automatica: Stampante",
        "Resposta automática: Impressora",
        "Automatisch antwoord: Printer",
        "Automatiskt svar: Skrivare",
        "Odpowiedź automatyczna: Drukarka",
        "自动回复：打印机",
        "自動回覆: 印表機",
        "自動応答: プリンター",
        "自動返信: プリンター",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    assert _mail(subject=subject) == f"out-of-office subject: {subject}"


@pytest.mark.parametrize(
    "subject",
    [
        "Out of office reply not working in Outlook",
        "Absence of invoice",
        "Abwesenheit melden",
        "Auto insurance question",
        "Automobile fleet",
        "Re: Automatic reply: Printer",  # a person answering an auto-reply is a person
        "Autopilot licence",
        "不在",
    ],
)
def test_human_subjects_that_look_similar(subject: str) -> None:
    assert _mail(subject=subject) == ""


def test_read_receipts_and_feedback_reports_are_automatic() -> None:
    receipt = "multipart/report; report-type=disposition-notification; boundary=R"
    assert _mail(content_type=receipt) == "read receipt (multipart/report disposition-notification)"
    arf = 'multipart/report; report-type="feedback-report"; boundary=R'
    assert _mail(content_type=arf) == "abuse feedback report (multipart/report feedback-report)"


def test_delivery_status_reports_are_left_to_the_bounce_step() -> None:
    assert _mail(content_type="multipart/report; report-type=delivery-status; boundary=R") == ""


def test_vacation_reason_tells_responders_from_mail_systems() -> None:
    def reason(headers: str) -> str:
        return vacation_reason(parse_mail(f"From: a@example.com\nSubject: x\n{headers}\nbody\n".encode()))

    assert reason("X-Autoreply: yes\n") == "X-Autoreply: yes"
    assert reason("Auto-Submitted: auto-replied\n") == "Auto-Submitted: auto-replied"
    assert reason("Auto-Submitted: auto-generated\n") == ""  # what MTAs put on bounces
    assert reason("Precedence: bulk\n") == ""
