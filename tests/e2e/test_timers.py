"""``mailhelpdesk timers``: due SLA timers fire once, even when several processes run the job at once."""

import subprocess
from pathlib import Path

import pytest

from .helpdesk import TIMEOUT, Helpdesk, cli_env

RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
sla:
  calendar: office
  policies:
    - {name: Standard, first_response: 1h, resolution: 4h, warn_before: 30m}
rules:
  - name: Breach escalates
    on: sla_breached
    then: {escalate: true}
"""
TICKETS = 60


def write_mails(inbox: Path) -> None:
    for n in range(TICKETS):
        (inbox / f"{n}.eml").write_text(
            f"From: Pat <pat{n}@globex.test>\r\nTo: support@helpdesk.test\r\nSubject: Question {n}\r\n"
            f"Date: Mon, 16 Nov 2026 10:{n % 60:02d}:00 +0000\r\nMessage-ID: <q{n}@globex.test>\r\n\r\nHello\r\n")


def tally(stdout: str) -> dict[str, int]:
    """``2 sla_breached, 1 taken`` → {"sla_breached": 2, "taken": 1}."""
    if stdout.strip() == "nothing due":
        return {}
    pairs = (item.split(" ", 1) for item in stdout.strip().split(", "))
    return {kind: int(count) for count, kind in pairs}


def race(helpdesk: Helpdesk, at: str, processes: int = 2) -> list[dict[str, int]]:
    runs = [helpdesk.popen("timers", "--at", at, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(processes)]
    results = []
    for proc in runs:
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, err.decode()
        results.append(tally(out.decode()))
    return results


def check_fired_once(helpdesk: Helpdesk, inbox: Path) -> None:
    (helpdesk.root / "rules.yaml").write_text(RULES)
    helpdesk.configure(rules_file="rules.yaml")
    write_mails(inbox)
    helpdesk.ingest(inbox)

    warnings = race(helpdesk, "2026-11-16T12:00:00+00:00")  # every first response warned and breached
    breaches = race(helpdesk, "2026-11-16T16:00:00+00:00")  # then every resolution

    fired = [sum(r.get(kind, 0) for r in warnings + breaches) for kind in ("sla_warning", "sla_breached")]
    assert fired == [2 * TICKETS, 2 * TICKETS]  # first response and resolution, each exactly once
    assert helpdesk.run("timers", "--at", "2026-11-17T00:00:00").stdout == "nothing due\n"
    tickets = helpdesk.tickets()
    assert len(tickets) == TICKETS and {t["line"] for t in tickets} == {3}  # escalated twice, never more


def test_two_processes_fire_each_timer_once_on_sqlite(helpdesk: Helpdesk, inbox: Path) -> None:
    check_fired_once(helpdesk, inbox)
    rows = helpdesk.query("SELECT kind, count(*) FROM event WHERE kind LIKE 'sla.%' GROUP BY kind ORDER BY kind")
    assert rows == [("sla.breached", 2 * TICKETS), ("sla.policy", TICKETS), ("sla.warning", 2 * TICKETS)]


@pytest.mark.postgres
def test_two_processes_fire_each_timer_once_on_postgresql(postgres_url: str, tmp_path: Path, inbox: Path) -> None:
    check_fired_once(Helpdesk(tmp_path / "pg", database_url=postgres_url), inbox)


def test_a_bad_time_is_refused_with_one_line(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("timers", "--at", "tomorrow", expect=2)
    assert result.stderr.count("\n") == 1 and "not a time" in result.stderr


def test_timers_with_a_broken_rules_file_fail_with_its_problems(helpdesk: Helpdesk) -> None:
    (helpdesk.root / "rules.yaml").write_text("rules:\n  - name: x\n    on: sla_braeched\n    then: {stop: true}\n")
    helpdesk.configure(rules_file="rules.yaml")
    result = subprocess.run(helpdesk.argv("timers"), cwd=helpdesk.root, env=cli_env(), capture_output=True,
                            text=True, timeout=TIMEOUT, check=False)
    assert result.returncode != 0
    assert "rules.yaml:3:9:" in result.stderr and "sla_breached" in result.stderr
