"""``mailhelpdesk ingest`` reads every form mail comes in: .eml files, directories, mbox, Maildir."""

from pathlib import Path

from .helpdesk import Helpdesk, by_subject, parse_summary, summary_of
from .mailbuild import mail, reply, write_maildir, write_mbox


def customer(n: int) -> str:
    return f"Customer {n} <c{n}@acme.test>"


def test_single_eml_files_and_a_missing_path(helpdesk: Helpdesk, inbox: Path) -> None:
    """A path that does not exist refuses the whole run (exit 2, nothing ingested); without it, the files go in."""
    first = inbox / "first.eml"
    second = inbox / "second.eml"
    first.write_bytes(mail("VPN is down", sender=customer(1), message_id="vpn@acme.test",
                           body="The VPN drops every 5 minutes.\n"))
    second.write_bytes(mail("New laptop", sender=customer(2), message_id="laptop@acme.test", minute=1))

    refused = helpdesk.run("ingest", str(inbox / "no-such-file.eml"), str(first), str(inbox / "no-such-dir"),
                           str(second), expect=2)
    assert refused.stderr == (f"mailhelpdesk: error: ingest: {inbox / 'no-such-file.eml'}, {inbox / 'no-such-dir'}:"
                              " no such file or directory\n")
    assert helpdesk.tickets() == []

    result = helpdesk.run("ingest", str(first), str(second))

    assert parse_summary(result.stdout) == summary_of(created=2), result.describe()
    tickets = by_subject(helpdesk.tickets())
    assert set(tickets) == {"VPN is down", "New laptop"}
    vpn = tickets["VPN is down"]
    assert vpn["requester"] == {"email": "c1@acme.test", "name": "Customer 1"}
    assert vpn["mailbox"] == "support"
    assert [m["message_id"] for m in vpn["messages"]] == ["vpn@acme.test"]
    assert vpn["messages"][0]["text"] == "The VPN drops every 5 minutes.\n"


def test_nested_directory_of_eml_files(helpdesk: Helpdesk, inbox: Path) -> None:
    deep = inbox / "2025" / "03" / "week-10"
    deep.mkdir(parents=True)
    (inbox / "a.eml").write_bytes(mail("Top level", sender=customer(1), message_id="top@acme.test"))
    (inbox / "2025" / "b.eml").write_bytes(mail("One down", sender=customer(2), message_id="one@acme.test"))
    (deep / "c.eml").write_bytes(mail("Three down", sender=customer(3), message_id="three@acme.test"))
    (deep / "d.eml").write_bytes(reply("three@acme.test", "Three down", sender=customer(3),
                                       message_id="three-r@acme.test", minute=5))

    assert helpdesk.ingest(inbox) == summary_of(created=3, threaded=1)

    tickets = by_subject(helpdesk.tickets())
    assert set(tickets) == {"Top level", "One down", "Three down"}
    assert [m["message_id"] for m in tickets["Three down"]["messages"]] == ["three@acme.test", "three-r@acme.test"]


def test_mbox_with_from_escaping_in_bodies(helpdesk: Helpdesk, inbox: Path) -> None:
    """A body line starting with "From " is escaped as ">From " in an mbox: it must neither split the
    message nor reach the ticket with the escape character."""
    body = "Hello,\n\nFrom now on the invoices go to accounting.\nThanks\n"
    box = write_mbox(inbox / "archive.mbox", [
        mail("Invoices", sender=customer(1), message_id="inv@acme.test", body=body),
        mail("Printer", sender=customer(2), message_id="prn@acme.test", minute=1),
        reply("inv@acme.test", "Invoices", sender=customer(1), message_id="inv-r@acme.test", minute=2),
    ])
    assert b"\n>From now on" in box.read_bytes()

    assert helpdesk.ingest(box) == summary_of(created=2, threaded=1)

    tickets = by_subject(helpdesk.tickets())
    assert set(tickets) == {"Invoices", "Printer"}
    first = tickets["Invoices"]["messages"][0]
    assert first["text"] == body
    assert "From now on the invoices go to accounting." in first["reply_text"]


def test_maildir_reads_new_and_cur_but_not_tmp(helpdesk: Helpdesk, inbox: Path) -> None:
    maildir = write_maildir(
        inbox / "Maildir",
        new=[mail("Fresh", sender=customer(1), message_id="fresh@acme.test")],
        cur=[mail("Seen", sender=customer(2), message_id="seen@acme.test", minute=1),
             reply("fresh@acme.test", "Fresh", sender=customer(1), message_id="fresh-r@acme.test", minute=2)],
        tmp=[mail("Half delivered", sender=customer(3), message_id="half@acme.test")],
    )

    assert helpdesk.ingest(maildir) == summary_of(created=2, threaded=1)

    assert set(by_subject(helpdesk.tickets())) == {"Fresh", "Seen"}


def test_a_maildir_is_read_whole_loose_files_and_folders_too_but_not_server_metadata(
        helpdesk: Helpdesk, inbox: Path) -> None:
    maildir = write_maildir(inbox / "Maildir", new=[mail("Fresh", sender=customer(1), message_id="f@acme.test")],
                            cur=[])
    (maildir / "stray.eml").write_bytes(mail("Dropped beside new", sender=customer(2), message_id="s@acme.test"))
    write_maildir(maildir / ".Sent", new=[], cur=[mail("In a Maildir++ folder", sender=customer(3),
                                                       message_id="sub@acme.test")])
    for metadata in ("dovecot-uidlist", "dovecot.index.log", "subscriptions", "maildirfolder"):
        (maildir / metadata).write_bytes(b"3 V1741000000 N1\n")  # what Dovecot keeps there: not mail

    assert helpdesk.ingest(maildir) == summary_of(created=3)

    assert set(by_subject(helpdesk.tickets())) == {"Fresh", "Dropped beside new", "In a Maildir++ folder"}


def test_an_mbox_with_carriage_returns_alone_keeps_every_message(helpdesk: Helpdesk, inbox: Path) -> None:
    lf = write_mbox(inbox / "lf.mbox", [mail("Old Mac one", sender=customer(1), message_id="m1@acme.test"),
                                        mail("Old Mac two", sender=customer(2), message_id="m2@acme.test", minute=1)])
    box = inbox / "cr.mbox"
    box.write_bytes(lf.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    lf.unlink()

    assert helpdesk.ingest(box) == summary_of(created=2)

    assert set(by_subject(helpdesk.tickets())) == {"Old Mac one", "Old Mac two"}


def test_mixed_inputs_in_one_call_thread_across_them(helpdesk: Helpdesk, inbox: Path) -> None:
    single = inbox / "single.eml"
    single.write_bytes(mail("Broken screen", sender=customer(1), message_id="screen@acme.test"))
    folder = inbox / "folder" / "sub"
    folder.mkdir(parents=True)
    (folder / "x.eml").write_bytes(mail("Password reset", sender=customer(2), message_id="pw@acme.test"))
    box = write_mbox(inbox / "old.mbox", [
        reply("screen@acme.test", "Broken screen", sender=customer(1), message_id="screen-r1@acme.test", minute=3),
        mail("Slow wifi", sender=customer(3), message_id="wifi@acme.test", minute=4),
    ])
    maildir = write_maildir(inbox / "Maildir", new=[
        reply("pw@acme.test", "Password reset", sender=customer(2), message_id="pw-r@acme.test", minute=5),
    ], cur=[
        reply("screen-r1@acme.test", "Broken screen", sender=customer(1), message_id="screen-r2@acme.test",
              minute=6),
    ])

    summary = helpdesk.ingest(single, inbox / "folder", box, maildir)

    assert summary == summary_of(created=3, threaded=3)
    tickets = by_subject(helpdesk.tickets())
    assert set(tickets) == {"Broken screen", "Password reset", "Slow wifi"}
    assert [m["message_id"] for m in tickets["Broken screen"]["messages"]] == [
        "screen@acme.test", "screen-r1@acme.test", "screen-r2@acme.test"]
    assert [m["message_id"] for m in tickets["Password reset"]["messages"]] == ["pw@acme.test", "pw-r@acme.test"]


def test_mailbox_option_sets_the_tickets_mailbox_team_and_line(helpdesk: Helpdesk, inbox: Path) -> None:
    (inbox / "support").mkdir()
    (inbox / "billing").mkdir()
    (inbox / "support" / "a.eml").write_bytes(mail("Login fails", sender=customer(1), message_id="login@acme.test"))
    (inbox / "billing" / "b.eml").write_bytes(mail("Wrong invoice", sender=customer(2), to="billing@helpdesk.test",
                                                   message_id="invoice@acme.test"))

    assert helpdesk.ingest(inbox / "support") == summary_of(created=1)
    assert helpdesk.ingest(inbox / "billing", mailbox="billing") == summary_of(created=1)

    tickets = by_subject(helpdesk.tickets())
    billing, support = tickets["Wrong invoice"], tickets["Login fails"]
    assert (billing["mailbox"], billing["team"], billing["line"]) == ("billing", "billing", 2)
    assert (support["mailbox"], support["team"], support["line"]) == ("support", "", 1)
    shown = helpdesk.run("tickets", "show", str(billing["number"])).stdout
    assert "mailbox: billing" in shown and "team: billing" in shown


def test_unknown_mailbox_is_a_one_line_usage_error(helpdesk: Helpdesk, inbox: Path) -> None:
    message = inbox / "a.eml"
    message.write_bytes(mail("Hello", sender=customer(1), message_id="hello@acme.test"))

    result = helpdesk.run("ingest", str(message), "--mailbox", "sales", expect=2)

    assert result.stderr.count("\n") == 1, result.describe()
    assert "sales" in result.stderr and "support" in result.stderr and "billing" in result.stderr
    assert "Traceback" not in result.stderr
    assert helpdesk.tickets() == []



def test_every_file_without_a_mail_is_named_with_its_reason(helpdesk: Helpdesk, inbox: Path) -> None:
    """A blank file and an mbox with a separator and nothing after it hold no mail: each is counted
    as unreadable and named with why; the mail beside them goes in."""
    (inbox / "blank.eml").write_bytes(b"\r\n\r\n  \r\n")
    (inbox / "empty.mbox").write_bytes(b"From nobody Mon Mar 16 10:15:00 2026\n")
    (inbox / "good.eml").write_bytes(mail("Scanner jams", sender=customer(1), message_id="scan@acme.test"))

    result = helpdesk.run("ingest", str(inbox))

    assert parse_summary(result.stdout) == summary_of(created=1, unreadable=2), result.describe()
    assert f"unreadable: {inbox / 'blank.eml'}: empty: only blank lines" in result.stderr
    assert f"unreadable: {inbox / 'empty.mbox'}#1: empty: no bytes" in result.stderr
