"""Agents work tickets from their mail client, end to end: `serve` receives real SMTP and answers
through a real relay (aiosmtpd) whose received MIME is asserted.

An agent replies to the notification we sent them; the commands at the top of the reply change
the ticket and the new text (quotes and signature cut) reaches the customer from the desk's own
address, never the agent's. Only mail that proves the agent received our notification (their
signed reply address, or In-Reply-To a Message-ID we sent them) may do that: a forged From
changes nothing. An agent's own mail to a customer with the desk copied is recorded, a line-3
expert's answer becomes a note for line 2, and an imported archive mails no one.

The desk runs the repository's ``rules.example.yaml`` (dispatch on line 1: anna@ and oleg@;
network on line 2; experts on line 3, which writes no customer mail). One `serve` and one relay
serve the whole module; each test opens its own tickets, so no test depends on another's.
"""

import re
import shutil
import smtplib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.signing import Signer

from .helpdesk import Helpdesk
from .mailbuild import write_mbox
from .sink import Delivered, ThreadSink, thread_sink
from .test_serve import SECRET, Service, _wait_processed

REPO = Path(__file__).resolve().parents[2]
SUPPORT = "support@helpdesk.test"
FROM_DESK = f"Example Support <{SUPPORT}>"
ANNA = "anna@example.com"  # dispatch, line 1
OLEG = "oleg@example.com"  # dispatch, line 1
IVAN = "ivan@example.com"  # network, line 2
SERGEY = "sergey@example.com"  # experts, line 3: never writes to customers
SIGNER = Signer(SECRET.encode())
AGENT_REPLY_TO = re.compile(r"support\+(\d+)\.a\.[a-z2-7]{12}@helpdesk\.test")
SIGNATURE = "--\nAnna Smirnova\n+7 495 123-45-67\nDispatch, Example Ltd."
PHONE_FOOTER = "Sent from my iPhone"


# --- the desk ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Desk:
    service: Service
    sink: ThreadSink

    def cli(self, *args: str) -> str:
        done = self.service.cli(*args)
        assert done.returncode == 0, f"mailhelpdesk {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def explain(self, number: int) -> str:
        return self.cli("explain", str(number))

    def show(self, number: int) -> str:
        return self.cli("tickets", "show", str(number))

    def send(self, msg: EmailMessage, rcpt: str) -> str:
        """Deliver ``msg`` to our SMTP port for ``rcpt`` and wait until the pipeline has processed it
        (the outbox rows it causes are written in the same transaction)."""
        with smtplib.SMTP("127.0.0.1", self.service.smtp_port, timeout=10) as smtp:
            smtp.send_message(msg, to_addrs=[rcpt])
        _wait_processed(self.service)
        return str(msg["Message-ID"])

    def wait(self, match: Callable[[Delivered], bool], what: str) -> Delivered:
        return self.sink.wait_for(match, what=what)


def _start(root: Path, sink: ThreadSink, database_url: str = "") -> Service:
    service = Service(root)
    shutil.copy(REPO / "rules.example.yaml", root / "rules.yaml")
    service.config.write_text(
        f"data_dir: {root / 'data'}\n"
        + (f"database_url: {database_url}\n" if database_url else "")
        + f"rules_file: {root / 'rules.yaml'}\n"
        "mailboxes:\n"
        f"  - {{name: support, address: {SUPPORT}, team: dispatch, display_name: Example Support}}\n"
        f"relay: {{host: 127.0.0.1, port: {sink.port}}}\n"
        # One desk serves the whole module: anna@ gets more than the default 10 automatic mails an
        # hour, which would be suppressed as a storm and make the waits below time out.
        "outbox: {interval: 1, per_recipient_hourly: 1000, per_ticket_hourly: 1000}\n"
    )
    service.start()
    return service


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with thread_sink() as sink:
        service = _start(tmp_path_factory.mktemp("sqlite-desk"), sink)
        try:
            yield Desk(service, sink)
        finally:
            service.stop()


@pytest.fixture(scope="module")
def pg_desk(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> Iterator[Desk]:
    # postgres_url is per test; this desk lives for the module, so it makes its own database.
    name = f"agents_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f'CREATE DATABASE "{name}"')
    with thread_sink() as sink:
        service = _start(tmp_path_factory.mktemp("pg-desk"), sink, f"{pg_server.url}/{name}")
        try:
            yield Desk(service, sink)
        finally:
            service.stop()


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)])
def any_desk(request: pytest.FixtureRequest) -> Desk:
    """The core scenario on both engines; PostgreSQL starts only when this runs."""
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")  # type: ignore[no-any-return]


# --- mail as people write it --------------------------------------------------------------------


def mail(sender: str, to: str, subject: str, body: str, *, cc: str = "", replying_to: EmailMessage | None = None,
         date: datetime | None = None, message_id: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    if cc:
        msg["Cc"] = cc
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rsplit("@", 1)[1].rstrip(">"))
    if replying_to is not None:
        msg["In-Reply-To"] = replying_to["Message-ID"]
        msg["References"] = f"{replying_to.get('References', '')} {replying_to['Message-ID']}".strip()
    msg.set_content(body)
    return msg


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None, msg
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None, msg
    return str(part.get_content())


def quoted(notification: EmailMessage) -> str:
    """The history a mail client puts under a reply: an attribution line and the notification in ``>``."""
    lines = "\n".join(f"> {line}".rstrip() for line in text_of(notification).splitlines())
    return f"On Mon, 3 Mar 2025 at 10:15, {FROM_DESK} wrote:\n{lines}\n"


def agent_reply(agent: str, notification: EmailMessage, commands: str, text: str, signature: str = SIGNATURE) -> \
        tuple[EmailMessage, str]:
    """``agent``'s answer to ``notification``: to its Reply-To, commands on top, then text, signature, quote."""
    body = "\n\n".join(part for part in (commands, text, signature, quoted(notification)) if part)
    reply_to = str(notification["Reply-To"])
    subject = f"Re: {notification['Subject']}"
    return mail(agent, reply_to, subject, body, replying_to=notification), reply_to


@dataclass(frozen=True, slots=True)
class Ticket:
    number: int
    customer: str
    subject: str
    request_id: str  # the Message-ID of the customer's first mail
    ack: EmailMessage  # the acknowledgement the customer received
    to_anna: EmailMessage  # the new-ticket notification anna@ received

    @property
    def token(self) -> str:
        return f"[#{self.number}]"


def open_ticket(desk: Desk, customer: str, subject: str, body: str) -> Ticket:
    """A customer's request; waits for all three mails it causes, so later counts start clean."""
    request_id = desk.send(mail(customer, SUPPORT, subject, body), SUPPORT)
    address = customer.rsplit("<", 1)[-1].rstrip(">")
    ack = desk.wait(lambda d: address in d.rcpt_tos and d.message["In-Reply-To"] == request_id,
                    f"acknowledgement of {subject!r}")
    found = re.search(r"\[#(\d+)\]", str(ack.message["Subject"]))
    assert found, ack.message["Subject"]
    number = int(found.group(1))
    to_anna = desk.wait(lambda d: d.rcpt_tos == [ANNA] and f"[#{number}] New ticket" in str(d.message["Subject"]),
                        "anna's new-ticket notification").message
    desk.wait(lambda d: d.rcpt_tos == [OLEG] and f"[#{number}] New ticket" in str(d.message["Subject"]),
              "oleg's new-ticket notification")
    return Ticket(number, address, subject, request_id, ack.message, to_anna)


def about(desk: Desk, ticket: Ticket, to: str) -> list[Delivered]:
    """What the relay received for ``to`` about ``ticket``."""
    return [d for d in desk.sink.to(to) if ticket.token in str(d.message["Subject"])]


def queued(explained: str) -> list[str]:
    """The ``mail queued: TEMPLATE to RECIPIENT`` lines of ``explain``: every mail the ticket put in the outbox."""
    return re.findall(r"mail queued: (\S+ to \S+)", explained)


def header(explained: str) -> str:
    """The ``status …, urgency …, line …, team …, assignee …, tags …`` line of ``explain``."""
    return explained.splitlines()[1]


def is_answer(ticket: Ticket, delivered: Delivered) -> bool:
    """An agent's answer to the customer: unlike the desk's automatic mail it carries no Auto-Submitted."""
    return (ticket.customer in delivered.rcpt_tos and ticket.token in str(delivered.message["Subject"])
            and delivered.message["Auto-Submitted"] is None)


def answers(desk: Desk, ticket: Ticket) -> list[Delivered]:
    with desk.sink.lock:
        return [d for d in desk.sink.received if is_answer(ticket, d)]


def wait_answer(desk: Desk, ticket: Ticket, nth: int = 1) -> Delivered:
    """The ``nth`` answer to the customer of ``ticket`` (1-based), once it has arrived."""
    desk.wait(lambda _: len(answers(desk, ticket)) >= nth, f"answer {nth} on {ticket.token}")
    return answers(desk, ticket)[nth - 1]


# --- 1. the core: an agent answers a customer by replying to a notification ------------------------

NEW_TEXT = ("Hello Boris,\n\n"
            "we restarted the VPN gateway and the tunnel is stable again. Please check from your side\n"
            "and tell us if it drops once more.\n\n"
            "Kind regards,\nthe support team")


def test_an_agent_answers_from_the_mail_client_and_the_customer_sees_only_the_desk(any_desk: Desk) -> None:
    desk = any_desk
    ticket = open_ticket(desk, "Boris Ivanov <boris@globex.ru>", "VPN tunnel drops every hour",
                         "Hello, our VPN tunnel to your office drops every hour since Monday.\n")
    notification = ticket.to_anna
    reply_to = str(notification["Reply-To"])
    # Each agent's notification carries their own signed address: the proof that a reply came from them.
    signed = AGENT_REPLY_TO.fullmatch(reply_to)
    assert signed is not None and int(signed.group(1)) == ticket.number, reply_to
    assert notification["From"] == FROM_DESK

    msg, rcpt = agent_reply(ANNA, notification, "#status pending", NEW_TEXT)
    desk.send(msg, rcpt)
    answer = wait_answer(desk, ticket)

    sent = answer.message
    assert answer.mail_from == SUPPORT and answer.rcpt_tos == [ticket.customer]
    assert text_of(sent).rstrip("\n") == NEW_TEXT  # the commands, signature and quoted history are cut
    assert "Kind regards" in html_of(sent) and "Anna" not in html_of(sent) and "wrote:" not in html_of(sent)
    assert sent["From"] == FROM_DESK and sent["To"] == "Boris Ivanov <boris@globex.ru>"
    assert sent["Subject"] == f"Re: VPN tunnel drops every hour {ticket.token}"
    assert sent["In-Reply-To"] == ticket.request_id and ticket.request_id in str(sent["References"])
    customer_reply_to = str(sent["Reply-To"])
    assert SIGNER.ticket_from_reply_address(customer_reply_to) == ticket.number and ".a." not in customer_reply_to
    assert SIGNER.ticket_from_message_id(str(sent["Message-ID"]).strip("<>")) == ticket.number
    # Who answered stays inside the desk: not in any header, part or encoding the customer receives.
    assert ANNA.encode() not in answer.raw.lower() and b"+7 495" not in answer.raw

    explained = desk.explain(ticket.number)
    assert header(explained).startswith("status pending,"), explained
    assert "agent's answer to the customer" in explained and f"[by agent:{ANNA}]" in explained
    # The answer asks the customer already: no waiting_for_reply besides it.
    assert queued(explained) == [f"acknowledgement to {ticket.customer}", f"agent_new_ticket to {ANNA}",
                                 f"agent_new_ticket to {OLEG}", f"agent_reply to {ticket.customer}"], explained
    assert len(about(desk, ticket, ticket.customer)) == 2  # the acknowledgement and the answer


# --- 2. every command by mail -------------------------------------------------------------------


def test_each_command_by_mail_changes_the_ticket_and_a_bad_one_changes_nothing(desk: Desk) -> None:
    ticket = open_ticket(desk, "Olga Smirnova <olga@globex.ru>", "Printer in room 204 prints blank pages",
                         "The printer in room 204 prints blank pages since the toner change.\n")
    target = open_ticket(desk, "Olga Smirnova <olga@globex.ru>", "Second printer also prints blank pages",
                         "The one in room 205 does it too.\n")
    notification = ticket.to_anna

    # Fields, assignment, a tag and a cc together with an answer: the cc gets this very answer.
    desk.send(*agent_reply(ANNA, notification, "#urgency high\n#line 2\n#team network\n#assign me\n#tag +y\n"
                                               "#cc someone@customer.com", "We are on it."))
    first = wait_answer(desk, ticket)
    assert sorted(first.rcpt_tos) == ["olga@globex.ru", "someone@customer.com"]
    assert first.message["Cc"] == "someone@customer.com" and text_of(first.message).strip() == "We are on it."
    explained = desk.explain(ticket.number)
    assert header(explained) == ("status open, urgency high, line 2, team network, assignee anna@example.com, "
                                 "tags y"), explained

    # An internal note with a tag change: nothing reaches the customer, the note is kept on the ticket.
    before = queued(explained)
    desk.send(*agent_reply(ANNA, notification, "#note\n#tag +x -y",
                           "Toner batch 7741 is faulty; the vendor knows.", PHONE_FOOTER))
    explained = desk.explain(ticket.number)
    assert header(explained).endswith("tags x"), explained
    assert "internal note [by agent:anna@example.com]" in explained and queued(explained) == before
    shown = desk.show(ticket.number)
    note = shown[shown.index("#note"):]
    assert "in  internal  from anna@example.com" in shown and "Toner batch 7741 is faulty" in note

    # The cc stays on the ticket: the next answer goes to them too.
    desk.send(*agent_reply(ANNA, notification, "", "Please try again now.", PHONE_FOOTER))
    second = wait_answer(desk, ticket, 2)
    assert sorted(second.rcpt_tos) == ["olga@globex.ru", "someone@customer.com"]
    assert second.message["Cc"] == "someone@customer.com" and text_of(second.message).strip() == "Please try again now."
    delivered = about(desk, ticket, ticket.customer)
    assert not any("7741" in text_of(d.message) for d in delivered)  # the note never left the desk
    assert not any(ANNA.encode() in d.raw.lower() for d in delivered)

    # One bad line refuses the whole mail, including the valid line above it: nothing changes or is sent.
    before_header, before = header(explained), queued(desk.explain(ticket.number))
    desk.send(*agent_reply(ANNA, notification, "#urgency low\n#status pendng", "We will call you tomorrow."))
    failed = desk.wait(lambda d: d.rcpt_tos == [ANNA] and f"{ticket.token} Your reply was not applied" in
                       str(d.message["Subject"]), "agent_command_failed").message
    assert "Line 2: #status pendng" in text_of(failed) and "did you mean 'pending'?" in text_of(failed)
    assert "call you tomorrow" not in text_of(failed)  # it is about the agent's reply, not the customer's text
    explained = desk.explain(ticket.number)
    assert header(explained) == before_header, explained
    assert queued(explained) == [*before, f"agent_command_failed to {ANNA}"], explained
    assert len(answers(desk, ticket)) == 2

    # Merge last (it closes the ticket); a reply with commands only and no quote under it.
    merge = mail(ANNA, str(notification["Reply-To"]), f"Re: {notification['Subject']}", f"#merge {target.number}\n",
                 replying_to=notification)
    desk.send(merge, str(notification["Reply-To"]))
    explained = desk.explain(ticket.number)
    assert header(explained).startswith("status closed,"), explained
    assert f"#{ticket.number} merged into #{target.number}" in explained
    assert queued(explained) == [*before, f"agent_command_failed to {ANNA}"], explained  # closed quietly
    shown = desk.show(target.number)
    assert "The printer in room 204 prints blank pages" in shown and "cc: someone@customer.com" in shown


# --- 3. a forged From changes nothing -------------------------------------------------------------


def test_mail_that_only_claims_to_be_from_an_agent_changes_nothing_and_mails_no_one(desk: Desk) -> None:
    ticket = open_ticket(desk, "Pavel Orlov <pavel@initech.com>", "Licence server refuses new seats",
                         "Our licence server refuses new seats since this morning.\n")
    before = desk.explain(ticket.number)
    seen = len(desk.sink.received)

    # Anyone can write anna's address in From and the ticket token in the subject.
    desk.send(mail(ANNA, SUPPORT, f"Re: {ticket.subject} {ticket.token}", "#status closed\n\nClosing this one.\n"),
              SUPPORT)
    # The customer (or anyone they forward our mail to) knows the ticket's signed reply address and
    # our acknowledgement's Message-ID: neither is proof of being anna, whose proof was sent to her alone.
    forged_reply = mail(ANNA, str(ticket.ack["Reply-To"]), f"Re: {ticket.subject} {ticket.token}",
                        "#status closed\n#assign me\n\nClosing this one.\n", replying_to=ticket.ack)
    desk.send(forged_reply, str(ticket.ack["Reply-To"]))

    explained = desk.explain(ticket.number)
    assert header(explained) == header(before), explained
    assert explained.count("UNVERIFIED mail kept as an internal record") == 2, explained
    assert queued(explained) == queued(before), explained  # nothing was queued, so nothing can be sent
    assert len(desk.sink.received) == seen
    shown = desk.show(ticket.number)
    assert shown.count("in  internal  from anna@example.com") == 2, shown


# --- 4. an agent's own mail to a customer, the desk copied ------------------------------------------


def test_an_agents_direct_mail_to_a_customer_is_recorded_as_theirs_and_answered_by_no_one(desk: Desk) -> None:
    ticket = open_ticket(desk, "Irina Volkova <irina@initech.com>", "Need two more VPN accounts",
                         "Please create two more VPN accounts for our new staff.\n")
    before = desk.explain(ticket.number)
    seen = len(desk.sink.received)

    # Anna writes to the customer herself; the desk only gets its copy (the envelope names only us).
    direct = mail(f"Anna Smirnova <{ANNA}>", "Irina Volkova <irina@initech.com>",
                  f"Re: {ticket.subject} {ticket.token}", "Irina, both accounts are ready; passwords by SMS.\n",
                  cc=FROM_DESK)
    desk.send(direct, SUPPORT)
    explained = desk.explain(ticket.number)
    assert "agent's own mail to the customer recorded" in explained, explained
    assert queued(explained) == queued(before), explained  # no acknowledgement, to anyone
    shown = desk.show(ticket.number)
    assert "out  public  from anna@example.com" in shown and "both accounts are ready" in shown, shown
    assert "requester: Irina Volkova <irina@initech.com>" in shown

    # With no ticket to go to, it starts one for the customer it was written to, never for anna.
    desk.send(mail(f"Anna Smirnova <{ANNA}>", "New Customer <new-customer@acme.com>", "Your quote for 20 licences",
                   "Hello, as promised on the phone, the quote for 20 licences is attached.\n", cc=FROM_DESK),
              SUPPORT)
    listed = desk.cli("tickets", "list", "--limit", "1").splitlines()[1]
    assert listed.split()[0] == str(ticket.number + 1)  # the first direct mail made no ticket
    assert "new-customer@acme.com" in listed and "Your quote for 20 licences" in listed, listed
    explained = desk.explain(ticket.number + 1)
    assert "requester new-customer@acme.com" in explained and queued(explained) == [], explained
    assert len(desk.sink.received) == seen and not desk.sink.to("new-customer@acme.com")


# --- 5. a line-3 expert answers through line 2 --------------------------------------------------


def test_an_experts_reply_becomes_a_note_and_line_two_is_asked_to_answer(desk: Desk) -> None:
    ticket = open_ticket(desk, "Nina Kuznetsova <nina@initech.com>", "Storage array reports checksum errors",
                         "Our storage array reports checksum errors on volume 3.\n")
    desk.cli("tickets", "set", str(ticket.number), "--line", "3", "--team", "experts")
    to_sergey = desk.wait(lambda d: d.rcpt_tos == [SERGEY] and f"{ticket.token} Escalated to your team (line 3)"
                          in str(d.message["Subject"]), "the experts' notification").message
    desk.wait(lambda d: len(about(desk, ticket, ticket.customer)) == 2, "the customer's escalation notice")
    before = desk.explain(ticket.number)

    expert_text = "Known firmware fault in 4.2; a downgrade to 4.1 fixes it."
    desk.send(*agent_reply(SERGEY, to_sergey, "", expert_text, PHONE_FOOTER))
    to_ivan = desk.wait(lambda d: d.rcpt_tos == [IVAN] and f"{ticket.token} Answer the customer" in
                        str(d.message["Subject"]), "line 2's answer-needed notice").message
    assert expert_text in " ".join(text_of(to_ivan).split())
    explained = desk.explain(ticket.number)
    assert "internal note (asks the line below to answer the customer) [by agent:sergey@example.com]" in explained
    caused = [q for q in queued(explained) if q not in queued(before)]
    # Line 2 (the nearest line below that writes to customers) is asked; no one on line 1, not the customer.
    assert {f"agent_answer_needed to {IVAN}", "agent_answer_needed to petr@example.com"} <= set(caused), explained
    assert all(q.startswith("agent_answer_needed to ") for q in caused), explained
    assert ticket.customer not in " ".join(caused) and ANNA not in " ".join(caused)
    shown = desk.show(ticket.number)
    assert "in  internal  from sergey@example.com" in shown and "Known firmware fault" in shown
    assert not any("firmware" in text_of(d.message) for d in about(desk, ticket, ticket.customer))
    assert len(about(desk, ticket, ticket.customer)) == 2


# --- 6. an imported archive mails no one ------------------------------------------------------------


def test_an_imported_archive_with_agent_mail_mails_no_one_even_when_its_timers_fire(tmp_path: Path) -> None:
    # No serve and no relay: whatever would go out has to show in the outbox, which must stay empty.
    shutil.copy(REPO / "rules.example.yaml", tmp_path / "rules.yaml")
    archive = Helpdesk(tmp_path / "archive", rules_file=str(tmp_path / "rules.yaml"),
                       mailboxes=[{"name": "support", "address": SUPPORT, "team": "dispatch"}])
    years_ago = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
    request = mail("Boris Ivanov <boris@globex.ru>", SUPPORT, "Invoice copy needed",
                   "Please send a copy of invoice 2019-117.\n", date=years_ago, message_id="<old-1@globex.ru>")
    # anna answered the customer herself with the desk copied; then the customer wrote back.
    direct = mail(f"Anna Smirnova <{ANNA}>", "Boris Ivanov <boris@globex.ru>", "Re: Invoice copy needed",
                  "Boris, the copy is attached.\n", cc=SUPPORT, replying_to=request,
                  date=years_ago + timedelta(hours=1), message_id="<old-2@example.com>")
    thanks = mail("Boris Ivanov <boris@globex.ru>", SUPPORT, "Re: Invoice copy needed",
                  "Thank you, but the amount is wrong.\n", replying_to=direct,
                  date=years_ago + timedelta(hours=2), message_id="<old-3@globex.ru>")
    # A request nobody answered: its first-response deadline breaches when the timers run.
    unanswered = mail("Pavel Orlov <pavel@initech.com>", SUPPORT, "Licence renewal",
                      "When does our licence expire?\n", date=years_ago, message_id="<old-4@initech.com>")
    mbox = write_mbox(tmp_path / "support.mbox", [m.as_bytes() for m in (request, direct, thanks, unanswered)])

    summary = archive.ingest(mbox, mailbox="support")
    assert summary["tickets created"] == 2 and summary["quarantined"] == 0, summary
    # Long after every deadline these tickets ever had: SLA warnings, breaches and the rules they fire are due.
    archive.run("timers", "--at", (datetime.now(UTC) + timedelta(days=30)).isoformat())

    assert archive.run("outbox", "list").stdout.strip() == "the outbox is empty"
    answered = archive.run("explain", "1000").stdout
    assert "agent's own mail to the customer recorded" in answered, answered
    assert "mail not sent: acknowledgement to the requester" in answered, answered
    assert "mail not sent: agent_customer_replied to anna@example.com, oleg@example.com" in answered, answered
    breached = archive.run("explain", "1001").stdout
    assert "SLA first_response breached" in breached, breached
    # The breach escalates by rule: the customer's notice, the team's and the experts' are all held back.
    for what in ("agent_sla_breached to anna@example.com, oleg@example.com", "escalated to the requester",
                 f"agent_notify to {SERGEY}"):
        assert f"mail not sent: {what}" in breached, breached
    assert "mail queued" not in answered + breached


# --- replies that say nothing, and mail that proves nothing ------------------------------------------


@pytest.mark.parametrize("below", [pytest.param("quote", id="quote-only"),
                                   pytest.param("signature", id="signature-and-quote")])
def test_a_reply_with_commands_only_sends_nothing_to_the_customer(desk: Desk, below: str) -> None:
    ticket = open_ticket(desk, f"Lev Petrov <lev-{below}@globex.ru>", f"Mail quota reached ({below})",
                         "My mailbox says the quota is reached.\n")
    # What every mail client does: the agent types one command and sends; the client adds the rest.
    desk.send(*agent_reply(ANNA, ticket.to_anna, "#urgency high", "", SIGNATURE if below == "signature" else ""))
    explained = desk.explain(ticket.number)
    assert "urgency high" in header(explained), explained
    assert f"agent_reply to {ticket.customer}" not in queued(explained), explained
    assert not answers(desk, ticket)


def test_an_agents_direct_answer_is_recorded_but_meets_no_deadline(desk: Desk) -> None:
    """Mail from an agent's address to a customer proves nothing about who wrote it (a From line is
    easy to forge), so it is recorded on the ticket but changes nothing, its deadlines included:
    an answer counts once it goes through the desk (a reply to the notification, tickets reply)."""
    ticket = open_ticket(desk, "Vera Sokolova <vera@initech.com>", "Backup job fails on Sundays",
                         "The Sunday backup job fails with error 17.\n")
    assert "deadlines now: first_response" in desk.explain(ticket.number)
    direct = mail(f"Anna Smirnova <{ANNA}>", "Vera Sokolova <vera@initech.com>", f"Re: {ticket.subject} {ticket.token}",
                  "Vera, error 17 means the tape is full; please swap it.\n", cc=FROM_DESK)
    desk.send(direct, SUPPORT)
    explained = desk.explain(ticket.number)
    assert "agent's own mail to the customer recorded" in explained, explained
    assert "first_response" in explained.rsplit("deadlines now:", 1)[1], explained
