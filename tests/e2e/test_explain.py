"""A new user's path: rules applied on ingest, then ``explain`` tells why the ticket looks as it does."""

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from .helpdesk import Helpdesk

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"

FIRST = ("From: Ivan <ivan@acme.com>\r\nTo: support@example.com\r\nSubject: Production is down\r\n"
         "Date: Mon, 16 Nov 2026 10:15:00 +0300\r\nMessage-ID: <e1@acme.com>\r\n\r\nHelp!\r\n")
REPLY = ("From: Ivan <ivan@acme.com>\r\nTo: support@example.com\r\nSubject: Re: Production is down\r\n"
         "Date: Mon, 16 Nov 2026 10:45:00 +0300\r\nIn-Reply-To: <e1@acme.com>\r\nMessage-ID: <e2@acme.com>\r\n\r\n"
         "Any news? This is urgent\r\n")


def test_explain_tells_the_story_of_a_ruled_ticket(helpdesk: Helpdesk, inbox: Path) -> None:
    helpdesk.configure(rules_file=str(EXAMPLE))
    (inbox / "1.eml").write_text(FIRST)
    (inbox / "2.eml").write_text(REPLY)
    helpdesk.ingest(inbox)

    lines = helpdesk.run("explain", "1000").stdout.splitlines()

    assert lines[:3] == [
        "#1000 Production is down",
        "status new, urgency critical, line 2, team -, assignee -, tags outage",
        "company Acme Corporation (tier vip), requester ivan@acme.com, mailbox support, SLA policy VIP critical"]
    story = "\n".join(lines)
    assert "rule 'VIP customers' on ticket_created (rules file line 101): company_tier equals 'vip' (seen 'vip')" \
           " → urgency: normal → high; line: 1 → 2; notify: [] → [dispatch]" in story
    assert "rule 'Outage' on ticket_created (rules file line 106): subject contains" in story
    assert "SLA policy 'VIP critical' (first policy for tier 'vip', urgency 'critical' and line 2): " \
           "first_response 2026-11-16 07:45 UTC (30m clock time)" in story
    assert "customer reply, threaded by references: <e1@acme.com> — mail <e2@acme.com> from ivan@acme.com" in story
    assert lines[-1] == ("deadlines now: first_response 2026-11-16 07:45 UTC, next_response 2026-11-16 08:45 UTC, "
                         "update 2026-11-16 09:15 UTC, resolution 2026-11-16 15:15 UTC")


def test_explain_says_why_mail_was_not_sent_and_names_only_real_outbox_rows(helpdesk: Helpdesk,
                                                                           inbox: Path) -> None:
    """An archive's mail is refused before it reaches the outbox; today's mail is queued there."""
    helpdesk.configure(rules_file=str(EXAMPLE))
    (inbox / "1.eml").write_text(FIRST.replace("Mon, 16 Nov 2026 10:15:00 +0300", "Mon, 2 Mar 2020 10:15:00 +0300"))
    (inbox / "2.eml").write_text(FIRST.replace("<e1@acme.com>", "<e3@acme.com>")
                                 .replace("Mon, 16 Nov 2026 10:15:00 +0300", format_datetime(datetime.now(UTC))))
    helpdesk.ingest(inbox)

    old = helpdesk.run("explain", "1000").stdout
    reason = "caused by mail of 2020-03-02 07:15 UTC, older than 24 hours"
    assert f"mail not sent: acknowledgement to the requester: {reason}\n" in old
    assert f"mail not sent: agent_notify to anna@example.com, oleg@example.com: {reason}\n" in old
    assert "outbox" not in old

    [outbox_id] = [row[0] for row in helpdesk.query(
        "SELECT o.id FROM outbox o JOIN ticket t ON t.id = o.ticket_id"
        " WHERE t.number = 1001 AND o.template = 'acknowledgement'")]
    assert f"mail queued: acknowledgement to ivan@acme.com (outbox {outbox_id})\n" in helpdesk.run(
        "explain", "1001").stdout


def test_explain_of_a_missing_ticket_fails_with_one_line(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("explain", "4242", expect=1)
    assert result.stderr == "mailhelpdesk: error: no ticket #4242\n"
