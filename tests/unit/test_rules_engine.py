"""Running rules: order, stop, near misses, changes old → new; the example file rule by rule; dry runs."""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailhelpdesk.companies.domains import parse_freemail
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.pipeline.parse import ParsedMail, parse_mail
from mailhelpdesk.rules.actions import ACTIONS
from mailhelpdesk.rules.dry_run import DryRun, dry_run
from mailhelpdesk.rules.engine import ACTION_EFFECTS, TicketState, evaluate
from mailhelpdesk.rules.facts import MailFacts, guess_language
from mailhelpdesk.rules.ruleset import RuleSet, load_rules

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"
FREEMAIL = parse_freemail(["gmail.com", "mail.ru"])
MONDAY_10 = datetime(2026, 11, 23, 7, 15, tzinfo=UTC)  # 10:15 in Moscow


def example() -> RuleSet:
    rules = load_rules(EXAMPLE).rules
    assert rules is not None
    return rules


def ruleset(tmp_path: Path, text: str) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    assert result.problems == ()
    assert result.rules is not None
    return result.rules


def mail(subject: str = "Question", body: str = "Hello", sender: str = "Ann <ann@example.org>",
         attachment: str | None = None) -> ParsedMail:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@example.com", subject
    msg.set_content(body)
    if attachment:
        msg.add_attachment(b"\x00dump", maintype="application", subtype="octet-stream", filename=attachment)
    return parse_mail(msg.as_bytes())


def run(rules: RuleSet, parsed: ParsedMail, mailbox: str = "support") -> DryRun:
    return dry_run(rules, parsed, MailboxSettings(mailbox, f"{mailbox}@example.com"), MONDAY_10, FREEMAIL)


def facts(parsed: ParsedMail, state: TicketState, **overrides: object) -> MailFacts:
    values: dict[str, object] = {"mailbox": "support", "company": "", "company_tier": "", "at": MONDAY_10}
    values.update(overrides)
    return MailFacts(parsed, state=state, **values)  # type: ignore[arg-type]


def test_every_parsed_action_has_an_effect() -> None:
    assert set(ACTIONS) == set(ACTION_EFFECTS)


# --- evaluate ------------------------------------------------------------------------------

RULES = """\
teams:
  net: {line: 2}
rules:
  - name: first
    on: ticket_created
    when: {subject: {contains: down}}
    then: {urgency: high, tags: [outage]}
  - name: second
    on: ticket_created
    when: {subject: {contains: down}, sender_domain: acme.com}
    then: {team: net, escalate: true}
  - name: stopper
    on: ticket_created
    when: {subject: {contains: stop}}
    then: {stop: true, note: stopped}
  - name: after
    on: ticket_created
    then: {tags: [late]}
"""


def test_rules_run_in_order_and_record_each_change(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    parsed = mail("Site down", sender="bob@acme.com")
    decision = evaluate(rules, "ticket_created", facts(parsed, TicketState()), TicketState())

    assert [f.rule.name for f in decision.fired] == ["first", "second", "after"]
    assert [str(c) for c in decision.fired[0].changes] == ["urgency: normal → high", "tags: [] → [outage]"]
    assert [str(c) for c in decision.fired[1].changes] == ["team: '' → net", "line: 1 → 2"]
    assert decision.after.tags == frozenset({"outage", "late"})
    assert decision.before == TicketState()


def test_stop_ends_the_list(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    decision = evaluate(rules, "ticket_created", facts(mail("please stop"), TicketState()), TicketState())
    assert [f.rule.name for f in decision.fired] == ["stopper"]
    assert decision.stopped_by == "stopper" and decision.after.notes == ("stopped",)


def test_a_rule_with_some_conditions_holding_is_a_near_miss(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    decision = evaluate(rules, "ticket_created", facts(mail("Site down", sender="eve@other.org"), TicketState()),
                        TicketState())
    assert [(m.rule.name, m.held, m.total, m.failed) for m in decision.near_misses] == [
        ("second", 1, 2, ("sender_domain equals acme.com",))]


def test_escalate_stops_at_the_vendor_line(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: up\n    on: sla_breached\n    then: {escalate: true}\n")
    state = TicketState(line=4)
    assert evaluate(rules, "sla_breached", facts(mail(), state), state).after.line == 4


# --- the example file, rule by rule --------------------------------------------------------


def test_example_spam_is_ignored_and_stops() -> None:
    result = run(example(), mail("Crypto giveaway for you"))
    assert result.decision.after.spam and result.decision.stopped_by == "Spam"


@pytest.mark.parametrize(("mailbox", "team"), [("billing", "billing"), ("it", "network"), ("support", "")])
def test_example_mailboxes_route_to_teams(mailbox: str, team: str) -> None:
    assert run(example(), mail(), mailbox).decision.after.team == team


def test_example_vip_outage_is_critical_with_the_vip_policy() -> None:
    result = run(example(), mail("Сервер не работает", sender="Ivan <ivan@eu.acme.com>"))
    state = result.decision.after
    assert (result.company, result.tier) == ("Acme Corporation", "vip")
    assert (state.urgency, state.line, state.tags, state.notify, state.templates) == (
        "critical", 2, frozenset({"outage"}), ("dispatch", "network"), ())
    assert result.policy is not None and result.policy.name == "VIP critical"
    due = {d.target: d.due for d in result.deadlines}
    assert due["first_response"] == MONDAY_10 + timedelta(minutes=30)  # clock time for VIP outages


def test_example_invoice_number_goes_to_billing_with_its_capture() -> None:
    result = run(example(), mail("Payment", body="Please check invoice no. 48213, paid yesterday."))
    fired = {f.rule.name: f for f in result.decision.fired}
    assert fired["Invoice numbers"].hits[0].captures == (("invoice", "48213"),)
    assert result.decision.after.team == "billing" and "invoice" in result.decision.after.tags


def test_example_urgent_subject_but_not_when_already_critical() -> None:
    assert run(example(), mail("URGENT: password reset")).decision.after.urgency == "high"
    critical = run(example(), mail("Срочно: outage"))
    assert critical.decision.after.urgency == "critical"
    assert [m.rule.name for m in critical.decision.near_misses] == ["Urgent in the subject"]


def test_example_crash_dumps_go_to_the_vendor() -> None:
    state = run(example(), mail("App crashes", attachment="app.dmp")).decision.after
    assert (state.line, state.team, state.notes) == (4, "vendor", ("Crash dump attached: forward to the vendor",))


def test_example_standard_customer_gets_24_hours_without_holidays() -> None:
    new_year_eve = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    result = dry_run(example(), mail(sender="Pat <pat@globex.ru>"), MailboxSettings("support", "s@x"),
                     new_year_eve, FREEMAIL)
    assert result.policy is not None and result.policy.name == "Standard"
    # 12 hours left on Dec 31, Jan 1 and 2 are closed, the other 12 hours on Jan 3
    assert [d.due for d in result.deadlines] == [datetime(2027, 1, 3, 9, 0, tzinfo=UTC)]


def test_example_timed_and_sla_rules() -> None:
    rules = example()
    pending = evaluate(rules, "pending_for", facts(mail(), TicketState(status="pending")), TicketState())
    assert pending.after.templates == ("closing_request",) and "stale" in pending.after.tags
    breached = evaluate(rules, "sla_breached", facts(mail(), TicketState(line=2)), TicketState(line=2))
    assert (breached.after.line, breached.after.notify) == (3, ("experts",))
    expert = evaluate(rules, "sla_breached", facts(mail(), TicketState(line=3)), TicketState(line=3))
    assert expert.fired == ()


def test_free_mail_senders_have_no_company() -> None:
    assert run(example(), mail(sender="x@gmail.com")).company == ""


@pytest.mark.parametrize(("text", "language"), [
    ("Добрый день, сервер не отвечает", "ru"),
    ("Добрий день, сервер не працює, їжак", "uk"),
    ("Hello, the printer is not working and we need help", "en"),
    ("Guten Tag, der Drucker ist nicht erreichbar und ich weiß nicht weiter", "de"),
    ("サーバーが応答しません", "ja"),
    ("服务器没有响应", "zh"),
    ("ok", ""),
])
def test_guess_language(text: str, language: str) -> None:
    assert guess_language(text) == language
