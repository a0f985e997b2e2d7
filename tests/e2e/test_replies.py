"""Template replies end to end: `serve` receives mail over SMTP and answers through a real relay.

What a customer sees is asserted on the exact MIME the relay received: headers, encodings, both
parts, and the three identities (signed Message-ID, signed Reply-To, the [#N] token) that
bring their answers back to the ticket. The closing flow and the survey run as a customer would
use them: replying from a mail client, clicking a link, with no login.
"""

import json
import re
import smtplib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from mailhelpdesk.outbound.closing import close_time
from mailhelpdesk.outbound.locale import format_date
from mailhelpdesk.outbound.locale import format_datetime as local_datetime
from mailhelpdesk.rules.ruleset import load_rules
from mailhelpdesk.signing import Signer

from .sink import Delivered, ThreadSink, thread_sink
from .test_serve import SECRET, Service, _wait_processed

ANNA = "anna@globex.ru"
TEAM = "team@helpdesk.test"
RULES = """\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: [09:00-18:00]}
teams:
  support: {line: 1, members: [ivan@helpdesk.test], address: team@helpdesk.test}
  experts: {line: 3, members: [sergey@helpdesk.test]}
sla:
  calendar: office
  policies:
    - {name: Standard, first_response: 4h}
replies:
  close_after_days: 2
rules:
  - name: Solved by the agent
    on: agent_replied
    when: {reply_text: {contains: solved}}
    then: {status: resolved}
  - name: Hardware goes to the experts
    on: agent_replied
    when: {reply_text: {contains: hardware}}
    then: {line: 3, team: experts, assignee: sergey@helpdesk.test}
"""


@pytest.fixture
def sink() -> Iterator[ThreadSink]:
    with thread_sink() as running:
        yield running


@pytest.fixture
def desk(tmp_path: Path, sink: ThreadSink) -> Iterator[Service]:
    service = Service(tmp_path)
    (tmp_path / "rules.yaml").write_text(RULES)
    service.config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        f"rules_file: {tmp_path / 'rules.yaml'}\n"
        f"public_url: http://127.0.0.1:{service.web_port}/\n"
        "mailboxes:\n"
        "  - name: support\n    address: support@helpdesk.test\n    team: support\n"
        "    display_name: Example Support\n"
        "    faq: [{title: Printer FAQ, url: 'https://help.example.test/printers'}]\n"
        f"relay: {{host: 127.0.0.1, port: {sink.port}}}\n"
        "outbox: {interval: 1}\n"
        "timer_interval: 1\n"
    )
    service.start()
    yield service
    service.stop()


def send(service: Service, *, sender: str, subject: str, body: str, to: str = "support@helpdesk.test",
         in_reply_to: str | None = None) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1].rstrip(">"))
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", service.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg, to_addrs=[to.rsplit("<", 1)[-1].rstrip(">")])
    return str(msg["Message-ID"])


def first_request(service: Service) -> str:
    return send(service, sender="Анна Петрова <anna@globex.ru>", subject="Принтер не печатает",
                body="Здравствуйте! Принтер в бухгалтерии не печатает с утра.\n")


def mail_to(sink: ThreadSink, address: str, subject_part: str, what: str) -> Delivered:
    return sink.wait_for(lambda d: address in d.rcpt_tos and subject_part in str(d.message["Subject"]),
                         what=what)


def nth_to(sink: ThreadSink, address: str, n: int, what: str) -> Delivered:
    """The ``n``-th mail to ``address`` (1-based), once it has arrived: our customer mails share a subject."""
    sink.wait_for(lambda d: len(sink.to(address)) >= n, what=what)
    return sink.to(address)[n - 1]


def exported(service: Service, number: int) -> dict[str, object]:
    done = service.cli("export")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return next(r for r in records if r.get("number") == number)


def header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def test_a_new_customer_gets_an_acknowledgement_in_their_language_with_our_identities(
        desk: Service, sink: ThreadSink) -> None:
    their_id = first_request(desk)
    ack = mail_to(sink, ANNA, "[#1000]", "acknowledgement")

    raw = ack.raw
    assert raw.isascii() and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    headers = header_block(raw)
    assert "Subject: Re: =?utf-8?b?" in headers and "To: =?utf-8?b?" in headers  # RFC 2047, not raw UTF-8
    msg = ack.message
    assert ack.mail_from == "support@helpdesk.test" and ack.rcpt_tos == [ANNA]
    assert msg["From"] == "Example Support <support@helpdesk.test>"
    assert msg["To"] == "Анна Петрова <anna@globex.ru>"
    assert msg["Subject"] == "Re: Принтер не печатает [#1000]"
    assert msg["In-Reply-To"] == their_id and msg["References"] == their_id
    signer = Signer(SECRET.encode())
    assert signer.ticket_from_message_id(msg["Message-ID"].strip("<>")) == 1000
    reply_to = msg["Reply-To"]
    assert reply_to.startswith("support+1000.") and signer.ticket_from_reply_address(reply_to) == 1000
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["X-Loop"] == "mailhelpdesk" and msg["Content-Language"] == "ru"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Здравствуйте, Анна Петрова!" in text and "[#1000]" in text
    assert "Printer FAQ" in text and "https://help.example.test/printers" in text
    assert '<html lang="ru">' in html and "Анна Петрова" in html and "[#1000]" in html
    due = datetime.fromisoformat(str(exported(desk, 1000)["deadlines"]["first_response"]))  # type: ignore[index]
    promised = local_datetime(due, load_rules(desk.root / "rules.yaml").rules.sla_calendar.timezone, "ru")  # type: ignore[union-attr]
    assert promised in text and "Europe/Moscow" in text

    team = mail_to(sink, TEAM, "[#1000]", "the team's new-ticket notification").message
    assert team["Auto-Submitted"] == "auto-generated" and team["Content-Language"] == "en"
    assert f"http://127.0.0.1:{desk.web_port}/tickets/1000" in team.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_answers_to_our_mail_come_back_to_the_ticket_by_each_identity(desk: Service, sink: ThreadSink) -> None:
    first_request(desk)
    ack = mail_to(sink, ANNA, "[#1000]", "acknowledgement").message
    send(desk, sender=ANNA, to=str(ack["Reply-To"]), subject="Ещё одна деталь", body="Модель HP 1020.\n")
    send(desk, sender=ANNA, subject="Совсем другая тема", body="Фото приложу позже.\n",
         in_reply_to=str(ack["Message-ID"]))
    send(desk, sender=ANNA, subject="Re: [#1000] что-то", body="Спасибо!\n")
    _wait_processed(desk)

    shown = desk.cli("tickets", "list")
    assert shown.returncode == 0 and "#1001" not in shown.stdout, shown.stdout
    signals = [m["thread_signal"] for m in exported(desk, 1000)["messages"]  # type: ignore[attr-defined]
               if m["direction"] == "in"]
    assert signals == ["new", "reply-address", "references", "subject-token"]


def test_the_life_of_a_ticket_resolved_closed_rated_and_reopened(desk: Service, sink: ThreadSink) -> None:
    first_request(desk)
    mail_to(sink, ANNA, "[#1000]", "acknowledgement")
    # The agent answers the team's notification: that proves he got it (a From alone would not).
    notice = mail_to(sink, TEAM, "[#1000]", "team notification")
    send(desk, sender="Ivan <ivan@helpdesk.test>", subject="Re: Принтер не печатает [#1000]",
         body="Replaced the cartridge, solved.\n", in_reply_to=str(notice.message["Message-ID"]))
    _wait_processed(desk)
    answer = nth_to(sink, ANNA, 2, "the agent's answer")
    assert answer.message.get_body(("plain",)).get_content().strip() == \
        "Replaced the cartridge, solved."  # type: ignore[union-attr]
    closing = nth_to(sink, ANNA, 3, "closing request")
    ruleset = load_rules(desk.root / "rules.yaml").rules
    assert ruleset is not None and ruleset.sla_calendar is not None
    resolved_at = datetime.fromisoformat(str(exported(desk, 1000)["status_since"]))
    close_at = close_time(ruleset, resolved_at)
    assert close_at is not None
    text = closing.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert format_date(close_at, ruleset.sla_calendar.timezone, "ru") in text

    fired = desk.cli("timers", "--at", (close_at + timedelta(minutes=1)).isoformat())
    assert fired.returncode == 0 and "auto_close" in fired.stdout, fired.stdout + fired.stderr
    survey = nth_to(sink, ANNA, 4, "survey")
    assert exported(desk, 1000)["status"] == "closed"
    links = re.findall(r"http://127\.0\.0\.1:\d+/survey/1000/[a-z2-7]{12}/[1-5]",
                       survey.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert sorted(link[-1] for link in links) == ["1", "2", "3", "4", "5"]

    four = next(link for link in links if link.endswith("/4"))
    with urllib.request.urlopen(four, timeout=10) as page:
        body = page.read().decode()
    assert "4" in body and 'lang="ru"' in body
    assert exported(desk, 1000)["rating"] is None  # a fetch without the page's script records nothing
    form = urllib.parse.urlencode({"score": "4", "comment": "Быстро, спасибо"}).encode()
    with urllib.request.urlopen(four.rsplit("/", 1)[0], data=form, timeout=10) as page:
        assert "Спасибо" in page.read().decode()
    rating = exported(desk, 1000)["rating"]
    assert rating is not None and rating["score"] == 4 and rating["source"] == "link"  # type: ignore[index]
    assert rating["comment"] == "Быстро, спасибо" and rating["team"] == "support"  # type: ignore[index]

    send(desk, sender=ANNA, subject="Re: Принтер не печатает [#1000]", body="5\n",
         in_reply_to=str(survey.message["Message-ID"]))
    _wait_processed(desk)
    after = exported(desk, 1000)
    assert after["status"] == "closed" and after["rating"]["score"] == 5  # type: ignore[index]
    assert after["rating"]["source"] == "reply"  # type: ignore[index]

    send(desk, sender=ANNA, subject="Re: Принтер не печатает [#1000]", body="Принтер снова не печатает.\n",
         in_reply_to=str(survey.message["Message-ID"]))
    reopened = nth_to(sink, ANNA, 5, "reopened notice")
    assert "[#1000]" in str(reopened.message["Subject"])
    assert exported(desk, 1000)["status"] == "open"
    assert len([d for d in sink.to(TEAM) if "[#1000]" in str(d.message["Subject"])]) == 2  # new, reopened


def test_survey_links_cannot_be_forged_or_moved_to_another_ticket(desk: Service, sink: ThreadSink) -> None:
    first_request(desk)
    send(desk, sender="Bob <bob@initech.example>", subject="VPN", body="VPN is down.\n")
    _wait_processed(desk)
    signer = Signer(SECRET.encode())
    base = f"http://127.0.0.1:{desk.web_port}/survey"
    for path in (f"1000/{'a' * 12}/5", f"1001/{signer.survey_signature(1000)}/5", "1000/zz/5"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/{path}", timeout=10)
        assert refused.value.code == 404, path
    form = urllib.parse.urlencode({"score": "1"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/1001/{signer.survey_signature(1000)}", data=form, timeout=10)
    assert refused.value.code == 404
    assert exported(desk, 1001)["rating"] is None


def test_escalation_to_experts_tells_the_customer_without_naming_them(desk: Service, sink: ThreadSink) -> None:
    first_request(desk)
    mail_to(sink, ANNA, "[#1000]", "acknowledgement")
    notice = mail_to(sink, TEAM, "[#1000]", "team notification")
    send(desk, sender="Ivan <ivan@helpdesk.test>", subject="Re: Принтер не печатает [#1000]",
         body="Looks like a hardware fault.\n", in_reply_to=str(notice.message["Message-ID"]))
    escalated = sink.wait_for(lambda d: ANNA in d.rcpt_tos and "специалист" in
                              d.message.get_body(("plain",)).get_content().lower(),  # type: ignore[union-attr]
                              what="escalated")
    everything = escalated.message.get_body(("plain",)).get_content() + \
        escalated.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "специалист" in everything.lower()
    for secret in ("sergey", "experts", "Experts", "line 3"):
        assert secret not in everything
    assigned = mail_to(sink, "sergey@helpdesk.test", "[#1000]", "assigned-to-you notification")
    assert "sergey@helpdesk.test" in assigned.rcpt_tos
