"""``mailhelpdesk rules check``: the example passes, a broken file lists every problem with its position."""

from pathlib import Path

from .helpdesk import Helpdesk

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"

BROKEN = """\
teams:
  network: {line: 2, members: [ivan@example.com]}
rules:
  - name: Outage
    on: ticket_created
    when: {subject: {regex: "(down"}}
    then: {urgency: critical, team: netwrk}
  - name: Typo
    on: ticket_creatd
    then: {urgncy: high}
"""


def test_the_example_rules_pass(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("rules", "check", str(EXAMPLE))

    assert result.stdout == (f"{EXAMPLE}: OK (2 calendars, 5 teams, 4 SLA policies, 3 companies, 10 rules)\n")
    assert not helpdesk.data_dir.exists(), "checking rules must not touch the database"


def test_every_problem_is_listed_with_file_line_and_column(helpdesk: Helpdesk) -> None:
    rules = helpdesk.root / "rules.yaml"
    rules.write_text(BROKEN)

    result = helpdesk.run("rules", "check", str(rules), expect=1)

    assert result.stdout.splitlines() == [
        f"{rules}:6:29: bad regular expression '(down': missing ), unterminated subpattern at position 0",
        f"{rules}:7:37: unknown team 'netwrk' (did you mean 'network'?) (teams: network)",
        f"{rules}:9:9: on must be one of agent_replied, customer_replied, sla_breached, sla_warning, "
        "status_changed, ticket_created, not 'ticket_creatd' (did you mean 'ticket_created'?)",
        f"{rules}:10:12: unknown field 'urgncy' in then of rule 'Typo' (did you mean 'urgency'?)",
        f"{rules}: 4 problems; the file is refused",
    ]


def test_without_a_file_or_setting_it_is_a_usage_error(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("rules", "check", expect=2)

    assert result.stderr == "mailhelpdesk: error: rules check: no rules file (give FILE, or set rules_file)\n"


OUTAGE = """\
From: Ivan Petrov <ivan@eu.acme.com>
To: support@example.com
Subject: =?utf-8?b?0KHQtdGA0LLQtdGAINC90LUg0YDQsNCx0L7RgtCw0LXRgg==?=
Date: Mon, 23 Nov 2026 10:15:00 +0300
Message-ID: <x1@acme.com>
Content-Type: text/plain; charset=utf-8

Production is down since 9.
"""


def test_rules_test_shows_fields_deadlines_and_why(helpdesk: Helpdesk) -> None:
    message = helpdesk.root / "outage.eml"
    message.write_text(OUTAGE)

    result = helpdesk.run("rules", "test", str(EXAMPLE), str(message))

    lines = result.stdout.splitlines()
    assert lines[:3] == ["mail: 'Сервер не работает' from ivan@eu.acme.com, mailbox support, "
                         "at 2026-11-23 10:15 MSK (Mon)", "company: Acme Corporation (tier vip)", ""]
    assert "  fired  VIP customers (line 101)" in lines
    assert "           urgency: high → critical; tags: [] → [outage]; notify: [dispatch] → [dispatch, network]" in lines
    assert "result: urgency critical, line 2, team -, assignee -, status new, tags [outage]" in lines
    assert "SLA policy: VIP critical (first policy for tier 'vip', urgency 'critical' and line 2)" in lines
    assert "  first_response  2026-11-23 10:45 MSK (Mon)  30m clock time; warning 2026-11-23 10:35 MSK (Mon)" \
        in lines
    assert lines[-2:] == ["would notify: dispatch", "would notify: network"]
    assert not helpdesk.data_dir.exists()


def test_rules_test_at_a_given_time_in_the_calendar_zone(helpdesk: Helpdesk) -> None:
    message = helpdesk.root / "question.eml"
    message.write_text("From: pat@globex.ru\nTo: support@example.com\nSubject: Question\n\nHow do I export?\n")

    result = helpdesk.run("rules", "test", str(EXAMPLE), str(message), "--at", "2026-12-31T12:00")

    assert "SLA policy: Standard (first policy for tier 'standard', urgency 'normal' and line 1)" in result.stdout
    assert "  first_response  2027-01-03 12:00 MSK (Sun)  24h business time (around-the-clock)" in result.stdout


def test_rules_test_with_a_bad_time_is_a_usage_error(helpdesk: Helpdesk) -> None:
    result = helpdesk.run("rules", "test", str(EXAMPLE), "x.eml", "--at", "tomorrow", expect=2)
    assert result.stderr.count("\n") == 1 and "not a time" in result.stderr
