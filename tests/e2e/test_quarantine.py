"""``mailhelpdesk quarantine list|replay``: held messages are visible and can be run again."""

from pathlib import Path

from .helpdesk import Helpdesk, by_subject, summary_of
from .mailbuild import File, binary_junk, mail

LIMIT = 100_000
SPREADSHEET = File("figures.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   bytes(range(256)) * 800)  # 200 KB: over LIMIT once encoded


def quarantined_ids(helpdesk: Helpdesk) -> dict[str, int]:
    """{source file name: inbound id} of the quarantined messages, from the export."""
    return {Path(r["source"]).name: r["id"] for r in helpdesk.export()
            if r["type"] == "inbound" and r["state"] == "quarantined"}


def test_replay_after_raising_the_size_limit(tmp_path: Path, inbox: Path) -> None:
    helpdesk = Helpdesk(tmp_path / "helpdesk", max_message_bytes=LIMIT)
    (inbox / "1-ok.eml").write_bytes(mail("Small", sender="Ann <ann@acme.test>", message_id="small@acme.test"))
    (inbox / "2-large.eml").write_bytes(mail("Quarterly figures", sender="Bob <bob@acme.test>",
                                             message_id="large@acme.test", minute=1, attachments=[SPREADSHEET]))
    (inbox / "3-junk.eml").write_bytes(binary_junk())
    assert helpdesk.ingest(inbox) == summary_of(created=1, quarantined=2)
    held = quarantined_ids(helpdesk)
    assert set(held) == {"2-large.eml", "3-junk.eml"}
    listing = helpdesk.run("quarantine", "list").stdout
    assert "message too large" in listing and f"max_message_bytes {LIMIT}" in listing

    still_too_large = helpdesk.run("quarantine", "replay", str(held["2-large.eml"]), expect=1)
    assert still_too_large.stdout.startswith(f"{held['2-large.eml']}: quarantined message too large")

    helpdesk.configure(max_message_bytes=10 * LIMIT)
    replayed = helpdesk.run("quarantine", "replay", str(held["2-large.eml"]))

    assert replayed.stdout == f"{held['2-large.eml']}: ingested ticket #1001\n"
    records = helpdesk.export()
    assert [(r["id"], r["state"]) for r in records if r["type"] == "inbound"] == [(held["3-junk.eml"], "quarantined")]
    ticket = by_subject([r for r in records if r["type"] == "ticket"])["Quarterly figures"]
    assert ticket["number"] == 1001
    assert ticket["messages"][0]["attachments"][0]["sha256"] == SPREADSHEET.sha256


def test_replay_all_reports_each_message_and_fails_while_some_stay_held(tmp_path: Path, inbox: Path) -> None:
    helpdesk = Helpdesk(tmp_path / "helpdesk", max_message_bytes=LIMIT)
    (inbox / "1-large.eml").write_bytes(mail("Quarterly figures", sender="Bob <bob@acme.test>",
                                             message_id="large@acme.test", attachments=[SPREADSHEET]))
    (inbox / "2-junk.eml").write_bytes(binary_junk())
    assert helpdesk.ingest(inbox) == summary_of(quarantined=2)
    held = quarantined_ids(helpdesk)
    helpdesk.configure(max_message_bytes=10 * LIMIT)

    replayed = helpdesk.run("quarantine", "replay", "--all", expect=1)

    lines = replayed.stdout.splitlines()
    assert lines[0] == f"{held['1-large.eml']}: ingested ticket #1000"
    assert lines[1].startswith(f"{held['2-junk.eml']}: quarantined not an email")
    assert len(lines) == 2
    assert [t["subject"] for t in helpdesk.tickets()] == ["Quarterly figures"]
    assert helpdesk.run("quarantine", "list").stderr == "1 quarantined\n"


def test_replay_without_ids_is_a_usage_error(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("quarantine", "replay", expect=2)

    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--all" in result.stderr


def test_replay_of_an_unknown_id_says_so(helpdesk: Helpdesk, inbox: Path) -> None:
    (inbox / "a.eml").write_bytes(mail("Fine", sender="Ann <ann@acme.test>", message_id="fine@acme.test"))
    helpdesk.ingest(inbox)  # inbound 1 is a ticket message, 4242 does not exist: neither is quarantined

    result = helpdesk.run("quarantine", "replay", "1", "4242", expect=None)

    assert result.returncode != 0, result.describe()
    assert "4242" in result.stderr, result.describe()
