"""Reading the rules file: every section, every problem as file:line:column, the example file."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.rules.conditions import Facts
from mailhelpdesk.rules.ruleset import RuleSet, Trigger, load_rules

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"
RULE = "rules:\n  - name: r\n    on: ticket_created\n"


def load(tmp_path: Path, text: str) -> tuple[RuleSet | None, list[str]]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    return result.rules, [str(p).removeprefix(f"{path}:") for p in result.problems]


class FactsDict:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def value(self, field: str, argument: str) -> Any:
        return self.values.get(f"{field}.{argument}" if argument else field)


def check(text: str, tmp_path: Path) -> RuleSet:
    rules, problems = load(tmp_path, text)
    assert problems == []
    assert rules is not None
    return rules


def first_rule_hits(rules: RuleSet, facts: Facts) -> list[str] | None:
    hits = rules.rules[0].when.test(facts)
    return None if hits is None else [f"{h.field} {h.matcher} {h.seen}" for h in hits]


# --- the example ---------------------------------------------------------------------------


def test_the_example_file_is_valid_and_complete() -> None:
    result = load_rules(EXAMPLE)
    assert result.problems == ()
    rules = result.rules
    assert rules is not None
    assert set(rules.calendars) == {"office", "around-the-clock"}
    assert [line.name for line in rules.lines.values()] == ["Dispatch", "Specialists", "Experts", "Vendor"]
    assert rules.lines[3].writes_to_customers is False
    assert rules.teams["billing"].address == "billing-team@example.com"
    assert [p.name for p in rules.sla.policies] == ["VIP critical", "VIP", "Urgent", "Standard"]
    assert rules.sla.policy_for("vip", "critical", 1).name == "VIP critical"  # type: ignore[union-attr]
    assert rules.sla.policy_for("standard", "normal", 1).name == "Standard"  # type: ignore[union-attr]
    assert rules.sla.policy_for("standard", "normal", 1).targets == {  # type: ignore[union-attr]
        "first_response": timedelta(hours=24)}
    assert [c.name for c in rules.companies] == ["Acme Corporation", "Globex", "Initech"]
    assert len(rules.rules) == 10
    assert rules.rules_for("sla_breached")[0].name == "Breach escalates"
    assert rules.rules[8].triggers == (Trigger("pending_for", timedelta(days=5)),)


def test_example_outage_rule_matches_russian_and_english_mail() -> None:
    rules = load_rules(EXAMPLE).rules
    assert rules is not None
    outage = next(r for r in rules.rules if r.name == "Outage")
    assert outage.when.test(FactsDict(subject="Сервер не работает", body="")) is not None
    assert outage.when.test(FactsDict(subject="Question", body="our production is down since 9")) is not None
    assert outage.when.test(FactsDict(subject="Question", body="all fine")) is None


# --- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(("when", "facts", "expected"), [
    ("mailbox: billing", {"mailbox": "Billing"}, ["mailbox equals Billing"]),
    ("mailbox: billing", {"mailbox": "support"}, None),
    ("mailbox: [billing, it]", {"mailbox": "it"}, ["mailbox in it"]),
    ("subject: {contains: [outage, срочно]}", {"subject": "СРОЧНО: help"}, ["subject contains СРОЧНО: help"]),
    ("subject: {starts_with: '[ext]'}", {"subject": "[EXT] hi"}, ["subject starts_with [EXT] hi"]),
    ("sender_domain: {ends_with: .gov}", {"sender_domain": "mail.city.gov"}, ["sender_domain ends_with mail.city.gov"]),
    ("to: {contains: vip@}", {"to": ["a@x.com", "vip@example.com"]}, ["to contains vip@example.com"]),
    ("to: {contains: vip@}", {"to": []}, None),
    ("line: {lt: 3}", {"line": 2}, ["line lt 2"]),
    ("line: {lt: 3}", {"line": 3}, None),
    ("age: {ge: 2d}", {"age": timedelta(days=3)}, ["age ge 3 days, 0:00:00"]),
    ("age: {ge: 2d}", {"age": timedelta(hours=47)}, None),
    ("headers.x-priority: ['1', '2']", {"headers.x-priority": ["1 (Highest)", "2"]}, ["headers.x-priority in 2"]),
    ("headers.x-spam: {exists: true}", {"headers.x-spam": ["yes"]}, ["headers.x-spam exists true"]),
    ("headers.x-spam: {exists: true}", {}, None),
    ("not: {company_tier: vip}", {"company_tier": "standard"}, ["not not "]),
    ("any: [{mailbox: a}, {mailbox: b}]", {"mailbox": "b"}, ["mailbox equals b"]),
    ("all: [{mailbox: a}, {urgency: high}]", {"mailbox": "a", "urgency": "normal"}, None),
])
def test_conditions(tmp_path: Path, when: str, facts: dict[str, Any], expected: list[str] | None) -> None:
    rules = check(f"rules:\n  - name: r\n    on: ticket_created\n    when: {{{when}}}\n    then: {{urgency: high}}\n",
                  tmp_path)
    assert first_rule_hits(rules, FactsDict(**facts)) == expected


def test_regex_keeps_named_captures(tmp_path: Path) -> None:
    rules = check(RULE + '    when:\n      body: {regex: "order (?P<order>\\\\d+)"}\n    then: {tags: [order]}\n',
                  tmp_path)
    hits = rules.rules[0].when.test(FactsDict(body="Where is ORDER 123456?"))
    assert hits is not None and hits[0].captures == (("order", "123456"),)


# --- problems ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "problem"), [
    ("colors: {}\n", "1:1: unknown field 'colors' in the rules file"),
    (RULE + "    then: {urgncy: high}\n", "4:12: unknown field 'urgncy' in then of rule 'r' (did you mean 'urgency'?)"),
    (RULE + "    then: {urgency: extreme}\n",
     "4:21: urgency must be one of critical, high, low, normal, not 'extreme'"),
    (RULE + "    then: {line: 5}\n", "4:18: line must be between 1 and 4, not 5"),
    (RULE + "    then: {team: nobody}\n", "4:18: unknown team 'nobody' (teams: none defined)"),
    (RULE + "    then: {template: closing_requets}\n",
     "4:22: unknown template 'closing_requets' (did you mean 'closing_request'?) (templates: acknowledgement, "
     "agent_answer_needed, agent_assigned, agent_command_failed, agent_customer_replied, agent_mention, "
     "agent_new_ticket, agent_notify, agent_reopened, agent_sla_breached, agent_sla_warning, "
     "assigned, closed_survey, "
     "closing_request, escalated, reminder, reopened, waiting_for_reply)"),
    (RULE + "    when: {subject: {regex: '(unclosed'}}\n    then: {urgency: high}\n",
     "4:29: bad regular expression '(unclosed': missing ), unterminated subpattern at position 0"),
    (RULE + "    when: {subjet: x}\n    then: {urgency: high}\n",
     "4:12: unknown condition 'subjet' (did you mean 'subject'?)"),
    (RULE + "    when: {subject: {like: x}}\n    then: {urgency: high}\n",
     "4:22: unknown field 'like' in condition on subject"),
    (RULE + "    when: {subject: {gt: 3}}\n    then: {urgency: high}\n",
     "4:26: subject is not a number or a duration; use equals, contains or regex"),
    ("rules:\n  - name: r\n    on: ticket_opened\n    then: {urgency: high}\n",
     "3:9: on must be one of agent_replied, customer_replied, sla_breached, sla_warning, status_changed, "
     "ticket_created, not 'ticket_opened'"),
    ("rules:\n  - name: r\n    on: {pending_for: soon}\n    then: {urgency: high}\n",
     "3:23: pending_for must be a duration such as 30m, 4h, 1h30m, 2d or 1w, not 'soon'"),
    ("rules:\n  - name: stopper\n    on: ticket_created\n    then: {stop: true}\n"
     "  - name: never\n    on: ticket_created\n    then: {urgency: high}\n",
     "5:5: rule 'never' can never run: rule 'stopper' stops every ticket_created before it"),
    ("calendars:\n  office:\n    timezone: Mars/Olympus\n    hours: 24x7\n",
     "3:15: unknown time zone 'Mars/Olympus' (use a name such as Europe/Moscow or UTC)"),
    ("calendars:\n  office:\n    hours: {mon-fri: [09:00-25:00]}\n",
     "3:23: mon-fri in calendar 'office': '09:00-25:00' is not a range within one day (00:00-24:00)"),
    ("calendars:\n  office:\n    hours: {mon-fry: [09:00-18:00]}\n",
     "3:12: unknown day 'mon-fry': use mon … sun, a range such as mon-fri, or a list sat,sun"),
    ("sla:\n  policies:\n    - name: p\n      first_response: 4hours\n",
     "4:23: first_response of policy 'p' must be a duration such as 30m, 4h, 1h30m, 2d or 1w, not '4hours'"),
    ("sla:\n  policies:\n    - name: p\n      calendar: office\n      first_response: 4h\n",
     "4:17: unknown calendar 'office' (calendars: none defined)"),
    ("teams:\n  ops: {line: 2, members: [not-an-address]}\n",
     "2:28: member of team 'ops' must be an e-mail address, not 'not-an-address'"),
])
def test_problems_name_file_line_and_column(tmp_path: Path, text: str, problem: str) -> None:
    rules, problems = load(tmp_path, text)
    assert rules is None
    assert problem in problems


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    _, problems = load(tmp_path, RULE + "    then: {urgency: extreme, line: 9, team: x}\n")
    assert len(problems) == 3


def test_yaml_syntax_errors_have_positions(tmp_path: Path) -> None:
    rules, problems = load(tmp_path, "rules:\n  - name: [unclosed\n")
    assert rules is None and problems and problems[0].startswith("3:1: ")


def test_an_empty_file_is_an_empty_rule_set(tmp_path: Path) -> None:
    rules, problems = load(tmp_path, "")
    assert problems == [] and rules is not None and rules.rules == ()


def test_warnings_come_a_share_or_a_time_before_the_deadline(tmp_path: Path) -> None:
    rules = check("sla:\n  policies:\n    - name: share\n      first_response: 24h\n      warn_before: 20%\n"
                  "    - name: fixed\n      first_response: 8h\n      warn_before: 30m\n", tmp_path)
    share, fixed = rules.sla.policies
    assert share.warning.lead(timedelta(hours=24)) == timedelta(hours=4, minutes=48)
    assert fixed.warning.lead(timedelta(hours=8)) == timedelta(minutes=30)
    assert fixed.warning.lead(timedelta(minutes=10)) == timedelta(minutes=10)  # never before the start


def test_an_admin_template_next_to_the_rules_file_is_known(tmp_path: Path) -> None:
    rule = RULE + "    then: {template: ack_vip}\n"
    assert load(tmp_path, rule)[1] == ["4:22: unknown template 'ack_vip' (templates: acknowledgement, "
                                       "agent_answer_needed, agent_assigned, agent_command_failed, "
                                       "agent_customer_replied, agent_mention, agent_new_ticket, agent_notify, "
                                       "agent_reopened, agent_sla_breached, "
                                       "agent_sla_warning, assigned, closed_survey, closing_request, escalated, "
                                       "reminder, reopened, "
                                       "waiting_for_reply)"]
    own = tmp_path / "templates" / "email" / "en"
    own.mkdir(parents=True)
    (own / "ack_vip.txt.j2").write_text("Dear VIP")
    ruleset, problems = load(tmp_path, rule)
    assert problems == [] and ruleset is not None
    assert ruleset.rules[0].actions[0].value == "ack_vip"


def test_an_admin_template_in_the_configured_templates_dir_is_known(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE + "    then: {template: ack_vip}\n")
    elsewhere = tmp_path / "srv" / "mail-templates"
    (elsewhere / "email" / "ru").mkdir(parents=True)
    (elsewhere / "email" / "ru" / "ack_vip.subject.j2").write_text("{{ ticket.token }}")
    (elsewhere / "email" / "ru" / "_partial.txt.j2").write_text("a partial is not a template")
    assert load_rules(rules).rules is None  # not next to the rules file
    found = load_rules(rules, elsewhere)
    assert found.problems == () and found.rules is not None
    refused = tmp_path / "partial.yaml"
    refused.write_text(RULE + "    then: {template: _partial}\n")
    assert load_rules(refused, elsewhere).rules is None
