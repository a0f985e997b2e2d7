"""``mailhelpdesk replay --rules NEW.yaml``: what a new rules file would change, from the stored mail."""

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .helpdesk import TIMEOUT, Helpdesk, cli_env
from .mailbuild import mail, reply

CURRENT_RULES = """\
calendars:
  always: {hours: 24x7}
teams:
  billing: {line: 2, members: [maria@example.com]}
  network: {line: 2, members: [ivan@example.com]}
sla:
  calendar: always
  policies:
    - {name: VIP, tiers: [vip], first_response: 2h, time: calendar}
    - {name: Urgent, urgencies: [critical, high], first_response: 1h, resolution: 8h, time: calendar}
    - {name: Standard, first_response: 8h, time: calendar}
companies:
  - {name: Acme, tier: vip, domains: [acme.test]}
rules:
  - name: Spam
    on: ticket_created
    when: {subject: {contains: [casino]}}
    then: {spam: true, stop: true}
  - name: Invoices
    on: ticket_created
    when: {subject: {contains: [invoice]}}
    then: {team: billing, line: 2}
"""

# A new subject keyword makes tickets critical, invoices move to another team, the VIP target
# shrinks, casino mail is no longer spam and lottery mail is.
NEW_RULES = (CURRENT_RULES
             .replace("{name: VIP, tiers: [vip], first_response: 2h", "{name: VIP, tiers: [vip], first_response: 1h")
             .replace("contains: [casino]", "contains: [lottery]")
             .replace("then: {team: billing, line: 2}", "then: {team: network, line: 2}")
             + "  - name: Outage\n    on: ticket_created\n    when: {subject: {contains: [outage]}}\n"
               "    then: {urgency: critical}\n")

IN_2099 = 39_000_000  # minutes after mailbuild's base date: a Date in the future, so acceptance time counts


def write_mail(inbox: Path) -> None:
    files = {
        "1.eml": mail("Network outage", sender="Bob <bob@globex.test>", message_id="m1@globex.test", minute=0),
        "2.eml": mail("Invoice 42 is wrong", sender="Carl <carl@initech.test>", message_id="m2@initech.test",
                      minute=10),
        "3.eml": mail("Printer jam", sender="Ann <ann@acme.test>", message_id="m3@acme.test", minute=20),
        "4.eml": mail("Password reset", sender="Dave <dave@gmail.com>", message_id="m4@gmail.com",
                      minute=IN_2099),
        "5.eml": mail("Casino night", sender="Eve <eve@spam.test>", message_id="m5@spam.test", minute=40),
        "6.eml": mail("Lottery winner", sender="Fay <fay@lucky.test>", message_id="m6@lucky.test", minute=50),
        "7.eml": reply("m4@gmail.com", "Password reset", sender="Dave <dave@gmail.com>",
                       message_id="m7@gmail.com", minute=IN_2099 + 5),
    }
    for name, raw in files.items():
        (inbox / name).write_bytes(raw)


@pytest.fixture
def desk(helpdesk: Helpdesk, inbox: Path) -> Helpdesk:
    """An installation that ingested the mail above with the current rules; NEW_RULES in new.yaml."""
    current = helpdesk.root / "rules.yaml"
    current.write_text(CURRENT_RULES)
    (helpdesk.root / "new.yaml").write_text(NEW_RULES)
    helpdesk.configure(rules_file=str(current))
    write_mail(inbox)
    summary = helpdesk.ingest(inbox)
    assert (summary["tickets created"], summary["ignored"]) == (5, 1)
    return helpdesk


def database_rows(helpdesk: Helpdesk) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the real database."""
    # The search index's own tables (full-text shadow tables) have no rowid; the index is compared
    # through its virtual table.
    tables = [r[0] for r in helpdesk.query("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND sql NOT LIKE '%WITHOUT ROWID%' ORDER BY name")]
    return {t: helpdesk.query(f'SELECT * FROM "{t}" ORDER BY rowid') for t in tables}


EXPECTED_CHANGES = [
    "#1000 Network outage",
    "  urgency: normal → critical",
    "  sla_policy: Standard → Urgent",
    "  first_response_due: 2025-03-03T17:00:00+00:00 → 2025-03-03T10:00:00+00:00",
    "  resolution_due: none → 2025-03-03T17:00:00+00:00",
    "#1001 Invoice 42 is wrong",
    "  team: billing → network",
    "#1002 Printer jam",
    "  first_response_due: 2025-03-03T11:20:00+00:00 → 2025-03-03T10:20:00+00:00",
    "",
    "only with the current rules:",
    "#1004 Lottery winner",
    "  with the new rules: ignored (spam, by rule 'Spam')",
    "",
    "only with the new rules:",
    "<m5@spam.test> Casino night",
    "  with the current rules: ignored (spam, by rule 'Spam')",
    "",
    "tickets compared: 4",
    "changed: 3",
    "unchanged: 1",
    "only with the current rules: 1",
    "only with the new rules: 1",
]


def test_replay_reports_what_the_new_rules_change_and_leaves_the_database_alone(desk: Helpdesk) -> None:
    before = database_rows(desk)

    result = desk.run("replay", "--rules", "new.yaml")

    lines = result.stdout.splitlines()
    assert lines[:len(EXPECTED_CHANGES)] == EXPECTED_CHANGES, result.describe()
    assert lines[len(EXPECTED_CHANGES)] == f"current rules: {desk.root / 'rules.yaml'}; new rules: new.yaml"
    assert lines[-1].startswith("messages replayed: 7, twice, in ")
    assert database_rows(desk) == before


def test_replay_as_json(desk: Helpdesk) -> None:
    report = json.loads(desk.run("replay", "--rules", "new.yaml", "--format", "json").stdout)

    assert report["counts"] == {"compared": 4, "changed": 3, "unchanged": 1, "only_current": 1, "only_new": 1}
    assert (report["messages"], report["new_rules"]) == (7, "new.yaml")
    assert report["changed"] == [
        {"number": 1000, "message_id": "m1@globex.test", "subject": "Network outage", "changes": {
            "urgency": {"old": "normal", "new": "critical"},
            "sla_policy": {"old": "Standard", "new": "Urgent"},
            "first_response_due": {"old": "2025-03-03T17:00:00+00:00", "new": "2025-03-03T10:00:00+00:00"},
            "resolution_due": {"old": None, "new": "2025-03-03T17:00:00+00:00"}}},
        {"number": 1001, "message_id": "m2@initech.test", "subject": "Invoice 42 is wrong",
         "changes": {"team": {"old": "billing", "new": "network"}}},
        {"number": 1002, "message_id": "m3@acme.test", "subject": "Printer jam", "changes": {
            "first_response_due": {"old": "2025-03-03T11:20:00+00:00", "new": "2025-03-03T10:20:00+00:00"}}},
    ]
    [lottery] = report["only_current"]
    assert (lottery["number"], lottery["message_id"], lottery["other_rules"]) == \
           (1004, "m6@lucky.test", "ignored (spam, by rule 'Spam')")
    assert lottery["fields"]["urgency"] == "normal" and lottery["fields"]["sla_policy"] == "Standard"
    [casino] = report["only_new"]
    assert (casino["number"], casino["message_id"], casino["subject"]) == (None, "m5@spam.test", "Casino night")
    assert casino["fields"]["first_response_due"] == "2025-03-03T17:40:00+00:00"
    assert report["intake"]["current"] == {"tickets_created": 5, "replies_threaded": 1, "ignored": 1}
    assert report["intake"]["new"] == {"tickets_created": 5, "replies_threaded": 1, "ignored": 1}


def ticket_fields(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.execute(
            'SELECT "number", "subject", "urgency", "line", "team", "sla_policy", "first_response_due",'
            ' "next_response_due", "update_due", "resolution_due", "created_at" FROM "ticket" ORDER BY "number"'))


def test_replay_with_the_current_rules_reproduces_the_database(desk: Helpdesk, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    result = desk.run("replay", "--rules", "rules.yaml", "--keep", str(kept))

    assert result.stdout.splitlines()[:5] == ["tickets compared: 5", "changed: 0", "unchanged: 5",
                                              "only with the current rules: 0", "only with the new rules: 0"]
    assert sorted(p.name for p in kept.iterdir()) == ["current.sqlite3", "new.sqlite3"]
    # Same tickets, fields and deadlines, also for the mail dated in the future, whose deadlines
    # run from when it was accepted: the replay's clock is the original acceptance time.
    real = ticket_fields(desk.sqlite_path)
    assert [r[:2] for r in real] == [(1000, "Network outage"), (1001, "Invoice 42 is wrong"), (1002, "Printer jam"),
                                     (1003, "Password reset"), (1004, "Lottery winner")]
    assert ticket_fields(kept / "current.sqlite3") == real
    assert ticket_fields(kept / "new.sqlite3") == real


def test_replay_leaves_no_scratch_files_behind(desk: Helpdesk, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(desk.argv("replay", "--rules", "new.yaml"), cwd=desk.root, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False, env={**cli_env(), "TMPDIR": str(scratch)})

    assert done.returncode == 0, done.stderr
    assert "changed: 3" in done.stdout.splitlines()
    assert list(scratch.iterdir()) == []


def test_a_new_rules_file_with_problems_is_refused(desk: Helpdesk) -> None:
    (desk.root / "broken.yaml").write_text(NEW_RULES.replace("then: {urgency: critical}", "then: {urgency: hot}"))
    before = database_rows(desk)

    result = desk.run("replay", "--rules", "broken.yaml", expect=1)

    line = NEW_RULES.splitlines().index("    then: {urgency: critical}") + 1
    assert result.stderr.splitlines() == [
        f"broken.yaml:{line}:21: urgency must be one of critical, high, low, normal, not 'hot'",
        "broken.yaml: 1 problem; nothing replayed"]
    assert result.stdout == ""
    assert database_rows(desk) == before


def test_a_missing_rules_file_is_a_usage_error(desk: Helpdesk) -> None:
    result = desk.run("replay", "--rules", "missing.yaml", expect=2)

    assert result.stderr == "mailhelpdesk: error: replay: missing.yaml: no such rules file\n"
    assert result.stdout == ""


def test_replay_needs_the_rules_option(desk: Helpdesk) -> None:
    result = desk.run("replay", expect=2)

    assert result.stderr == "mailhelpdesk replay: error: the following arguments are required: --rules\n"
