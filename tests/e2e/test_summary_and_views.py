"""The ingest summary tells what happened; ``tickets list`` and ``tickets show`` show the result."""

from pathlib import Path

from .helpdesk import Helpdesk, by_subject, parse_summary, summary_of
from .mailbuild import SUPPORT, File, at, bounce, mail, out_of_office, reply

REPORT = File("report.pdf", "application/pdf", b"%PDF-1.4\n" + bytes(range(256)) * 8)


def write_corpus(inbox: Path) -> list[Path]:
    """Three threads of two messages, an auto-reply, a bounce, our own mail coming back,
    a re-delivery, an empty file (unreadable: no mail in it); the last path is a directory whose only file is a link to
    a file that is gone (unreadable: a path given on the command line must exist)."""
    ann, bob, cyd = "Ann Lee <ann@acme.test>", "Bob Ray <bob@globex.test>", "Cyd Fox <cyd@initech.test>"
    mails = {
        "01.eml": mail("Printer jam", sender=ann, message_id="p1@acme.test", minute=0,
                       body="The printer on floor 3 jams.\n"),
        "02.eml": mail("Cannot log in", sender=bob, message_id="l1@globex.test", minute=1),
        "03.eml": mail("Monthly report", sender=cyd, message_id="r1@initech.test", minute=2,
                       attachments=[REPORT]),
        "04.eml": reply("p1@acme.test", "Printer jam", sender=ann, message_id="p2@acme.test", minute=10,
                        body="It jams again.\n\nOn Monday Ann wrote:\n> The printer on floor 3 jams.\n"),
        "05.eml": reply("l1@globex.test", "Cannot log in", sender=bob, message_id="l2@globex.test", minute=11),
        "06.eml": reply("r1@initech.test", "Monthly report", sender=cyd, message_id="r2@initech.test", minute=12),
        "07.eml": out_of_office("p1@acme.test", sender="Dan <dan@acme.test>", message_id="ooo@acme.test",
                                minute=13),
        "08.eml": bounce("l1@globex.test", message_id="dsn@mx.acme.test", minute=14),
        "09.eml": mail("Our own notification", sender=f"Helpdesk <{SUPPORT}>", message_id="own@helpdesk.test",
                       minute=15),
        "10.eml": b"Received: from relay2.acme.test by mx.helpdesk.test; " + at(16).encode() + b"\n"
                  + mail("Printer jam", sender=ann, message_id="p1@acme.test", minute=0,
                         body="The printer on floor 3 jams.\n"),
        "11.eml": b"",
    }
    for name, raw in mails.items():
        (inbox / name).write_bytes(raw)
    gone = inbox / "12-gone"
    gone.mkdir()
    (gone / "lost.eml").symlink_to(inbox / "deleted.eml")
    return [*(inbox / name for name in mails), gone]


def test_summary_counts_every_outcome(helpdesk: Helpdesk, inbox: Path) -> None:
    result = helpdesk.run("ingest", *map(str, write_corpus(inbox)))

    assert parse_summary(result.stdout) == summary_of(
        created=3, threaded=3, auto_replies=1, bounces=1, ignored=1, duplicates=1, unreadable=2
    ), result.describe()
    records = helpdesk.export()
    tickets = by_subject([r for r in records if r["type"] == "ticket"])
    assert {subject: len(t["messages"]) for subject, t in tickets.items()} == {
        "Printer jam": 3, "Cannot log in": 3, "Monthly report": 2}  # + the auto-reply, + the bounce
    loose = {r["message_id"]: r for r in records if r["type"] == "inbound"}
    assert loose["own@helpdesk.test"]["state"] == "ignored"
    assert loose["p1@acme.test"]["state"] == "duplicate"
    assert "" not in loose  # the empty file: named as unreadable, nothing stored
    assert f"unreadable: {inbox / '11.eml'}: empty: no bytes" in result.stderr


def test_tickets_list_and_show(helpdesk: Helpdesk, inbox: Path) -> None:
    helpdesk.ingest(*write_corpus(inbox))

    rows = helpdesk.run("tickets", "list").stdout.splitlines()
    assert rows[0].split()[:3] == ["#", "status", "urgency"]
    assert [r.split()[0] for r in rows[1:]] == ["1002", "1001", "1000"]
    assert "cyd@initech.test" in rows[1] and "Monthly report" in rows[1]
    assert "bob@globex.test" in rows[2] and "Cannot log in" in rows[2]
    assert "ann@acme.test" in rows[3] and "Printer jam" in rows[3]

    limited = helpdesk.run("tickets", "list", "--limit", "1").stdout.splitlines()
    assert [r.split()[0] for r in limited[1:]] == ["1002"]
    assert helpdesk.run("tickets", "list", "--status", "closed").stdout.splitlines()[1:] == []

    printer = helpdesk.run("tickets", "show", "1000").stdout
    assert printer.splitlines()[0] == "#1000 Printer jam"
    assert "requester: Ann Lee <ann@acme.test>" in printer
    assert "company: acme.test" in printer
    order = [printer.index(s) for s in ("The printer on floor 3 jams.", "It jams again.", "out of the office")]
    assert order == sorted(order), printer
    assert "> The printer on floor 3 jams." not in printer  # the quoted history is not repeated
    assert "auto_reply" in printer

    report = helpdesk.run("tickets", "show", "1002").stdout
    assert "Subject: Re: Monthly report" in report
    assert f"[attachment] report.pdf (application/pdf, {len(REPORT.data)} bytes)" in report


def test_tickets_show_unknown_number_fails_clearly(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("tickets", "show", "99999", expect=None)

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "no ticket #99999" in result.stderr, result.describe()
