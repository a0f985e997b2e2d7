"""Bad input never aborts a batch: each message gets a clear outcome, nothing is lost, memory stays bounded."""

import hashlib
import os
from pathlib import Path

from .helpdesk import Helpdesk, by_subject, parse_summary, summary_of
from .mailbuild import big_message, binary_junk, huge_header, mail, mime_bomb, without_from

BIG_ATTACHMENT_BYTES = 37 * 1024 * 1024  # ~50 MB once base64-encoded
MAX_RSS_MB = 600


def run_measured(helpdesk: Helpdesk, *args: str) -> tuple[int, str, str, float]:
    """Run the CLI; return exit code, stdout, stderr and the child's peak RSS in MB."""
    out, err = helpdesk.root / "measured.out", helpdesk.root / "measured.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = helpdesk.popen(*args, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.read_text(), err.read_text(), usage.ru_maxrss / 1024


def test_bad_input_is_quarantined_or_processed_and_the_batch_goes_on(helpdesk: Helpdesk, inbox: Path) -> None:
    attachment = os.urandom(BIG_ATTACHMENT_BYTES)
    big_message(inbox / "05-big.eml", attachment, sender="Big Sender <big@acme.test>", message_id="big@acme.test")
    assert (inbox / "05-big.eml").stat().st_size > 49 * 1024 * 1024
    files = {
        "00-good.eml": mail("Good before", sender="Ann <ann@acme.test>", message_id="good1@acme.test"),
        "01-empty.eml": b"",
        "02-junk.eml": binary_junk(),
        "03-bomb.eml": mime_bomb(10_000, sender="Mallory <mallory@evil.test>", message_id="bomb@evil.test"),
        "04-header.eml": huge_header(1024 * 1024, sender="Hugo <hugo@acme.test>", message_id="hdr@acme.test"),
        "06-no-from.eml": without_from(message_id="anon@acme.test"),
        "07-good.eml": mail("Good after", sender="Bob <bob@acme.test>", message_id="good2@acme.test", minute=9),
    }
    for name, raw in files.items():
        (inbox / name).write_bytes(raw)

    code, stdout, stderr, peak_mb = run_measured(helpdesk, "ingest", str(inbox))

    assert code == 0, stderr
    assert parse_summary(stdout) == summary_of(created=5, quarantined=2, unreadable=1), stdout + stderr
    # An empty file holds no mail to keep: it is named, with why, like a file that cannot be read.
    assert f"unreadable: {inbox / '01-empty.eml'}: empty: no bytes" in stderr
    assert f"quarantined: {inbox / '02-junk.eml'}: not an email" in stderr
    # A lower bound too, so a broken measurement cannot pass: the process must have held the message.
    assert 50 < peak_mb < MAX_RSS_MB, f"ingest peaked at {peak_mb:.0f} MB for a 50 MB message"

    tickets = by_subject(helpdesk.tickets())
    assert set(tickets) == {"Good before", "Good after", "Many parts", "Huge header", "Big log file"}
    big = tickets["Big log file"]["messages"][0]
    assert big["attachments"] == [{"filename": "server.log", "content_type": "application/octet-stream",
                                   "size": len(attachment), "sha256": hashlib.sha256(attachment).hexdigest()}]
    assert tickets["Many parts"]["messages"][0]["text"].startswith("part 0\n")
    assert tickets["Huge header"]["messages"][0]["text"] == "The header above is huge.\n"

    listing = helpdesk.run("quarantine", "list")
    assert listing.stderr == "2 quarantined\n"
    assert "not an email" in listing.stdout and "02-junk.eml" in listing.stdout
    assert "no sender address" in listing.stdout and "06-no-from.eml" in listing.stdout
    held = {Path(r["source"]).name: r for r in helpdesk.export() if r["type"] == "inbound"}
    assert {name: (r["state"], r["step"]) for name, r in held.items()} == {
        "02-junk.eml": ("quarantined", "parse"),
        "06-no-from.eml": ("quarantined", "sender"),
    }
    assert held["02-junk.eml"]["reason"].startswith("not an email")
    assert held["06-no-from.eml"]["reason"].startswith("no sender address")

    # Nothing lost: every input's exact bytes are stored once, under its source path.
    stored = dict(helpdesk.query("SELECT source, raw_sha256 FROM inbound"))
    files["05-big.eml"] = (inbox / "05-big.eml").read_bytes()
    assert stored == {str(inbox / name): hashlib.sha256(raw).hexdigest() for name, raw in files.items() if raw}

