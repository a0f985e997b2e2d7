"""Which mails a change of a ticket sends, and to whom: the planner over rules files read from disk."""

from dataclasses import replace
from pathlib import Path

import pytest

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.outbound.planner import Notice, TicketChange, plan
from mailhelpdesk.rules.engine import Fired
from mailhelpdesk.rules.replies import AUTOMATIC_MAILS, CLOSE_AFTER_DAYS
from mailhelpdesk.rules.ruleset import RuleSet, load_rules

DISPATCH = ("anna@example.com", "oleg@example.com")  # a team without an address: its members get the mail
NETWORK = "network-team@example.com"  # a team with an address: only the address gets the mail
IVAN = "ivan@example.com"
TEAMS = f"""\
teams:
  dispatch: {{line: 1, members: [{DISPATCH[0]}, {DISPATCH[1]}]}}
  network: {{line: 2, members: [{IVAN}, petr@example.com], address: {NETWORK}}}
  nobody: {{line: 3}}
"""
RULES = """\
rules:
  - name: Acknowledge again
    on: customer_replied
    then: {template: acknowledgement}
  - name: Tell the network team
    on: ticket_created
    then: {notify: network}
  - name: Ask to close
    on: agent_replied
    then: {template: closing_request}
  - name: Warn the owner
    on: agent_replied
    then: {template: agent_sla_warning}
  - name: Tell dispatch
    on: agent_replied
    then: {notify: dispatch}
  - name: Tell dispatch too
    on: agent_replied
    then: {notify: dispatch}
"""


def load(tmp_path: Path, text: str) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    assert [str(p) for p in result.problems] == []
    assert result.rules is not None
    return result.rules


@pytest.fixture
def ruleset(tmp_path: Path) -> RuleSet:
    return load(tmp_path, TEAMS + RULES)


def fired(ruleset: RuleSet, *names: str) -> tuple[tuple[str, Fired], ...]:
    by_name = {r.name: r for r in ruleset.rules}
    return tuple((by_name[n].triggers[0].event, Fired(by_name[n], (), ())) for n in names)


def mails(notices: list[Notice]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.template, n.audience, n.to) for n in notices]


def created(after: TicketState, fired: tuple[tuple[str, Fired], ...] = ()) -> TicketChange:
    return TicketChange("ticket_created", None, after, fired=fired)


# --- a new ticket ----------------------------------------------------------------------------


def test_a_new_ticket_acknowledges_the_customer_and_mails_each_member_of_a_team_without_address(
        ruleset: RuleSet) -> None:
    notices = plan(created(TicketState(team="dispatch")), ruleset)
    assert mails(notices) == [("acknowledgement", "customer", ()), ("agent_new_ticket", "agent", DISPATCH)]
    assert notices[1].extra == {"reason": "created"}
    assert [n.requested_by for n in notices] == ["", ""]


def test_a_new_ticket_of_a_team_with_an_address_mails_the_address_not_the_members(ruleset: RuleSet) -> None:
    notices = plan(created(TicketState(team="network", line=2)), ruleset)
    assert mails(notices) == [("acknowledgement", "customer", ()), ("agent_new_ticket", "agent", (NETWORK,))]
    assert all(IVAN not in n.to for n in notices)


@pytest.mark.parametrize("team", ["", "ghost", "nobody"])  # none, not in the rules file, a team of no one
def test_a_new_ticket_without_a_reachable_team_mails_no_agent(ruleset: RuleSet, team: str) -> None:
    assert mails(plan(created(TicketState(team=team)), ruleset)) == [("acknowledgement", "customer", ())]


def test_a_new_ticket_with_an_assignee_tells_the_assignee_but_sends_the_customer_no_assigned_mail(
        ruleset: RuleSet) -> None:
    notices = plan(created(TicketState(team="dispatch", assignee=IVAN)), ruleset)
    assert mails(notices) == [("acknowledgement", "customer", ()), ("agent_new_ticket", "agent", DISPATCH),
                              ("agent_assigned", "agent", (IVAN,))]
    assert "assigned" not in [n.template for n in notices]


def test_a_line_set_on_a_new_ticket_is_no_escalation(ruleset: RuleSet) -> None:
    templates = [n.template for n in plan(created(TicketState(team="network", line=2)), ruleset)]
    assert "escalated" not in templates
    assert templates.count("agent_new_ticket") == 1


# --- changes of an existing ticket -----------------------------------------------------------


def test_nothing_changed_sends_nothing(ruleset: RuleSet) -> None:
    state = TicketState(team="dispatch", assignee=IVAN, status="open")
    assert plan(TicketChange("agent_replied", state, state), ruleset) == []


@pytest.mark.parametrize("previous", ["", "anna@example.com"])
def test_a_new_assignee_gets_agent_assigned_and_the_customer_assigned(ruleset: RuleSet, previous: str) -> None:
    before = TicketState(team="dispatch", assignee=previous, status="open")
    after = TicketState(team="dispatch", assignee=IVAN, status="open")
    assert mails(plan(TicketChange("agent_replied", before, after), ruleset)) == [
        ("assigned", "customer", ()), ("agent_assigned", "agent", (IVAN,))]


def test_removing_the_assignee_sends_nothing(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", assignee=IVAN, status="open")
    after = TicketState(team="dispatch", status="open")
    assert plan(TicketChange("agent_replied", before, after), ruleset) == []


def test_going_up_a_line_tells_the_customer_and_the_new_team(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", line=1, status="open")
    after = TicketState(team="network", line=2, status="open")
    notices = plan(TicketChange("customer_replied", before, after), ruleset)
    assert mails(notices) == [("escalated", "customer", ()), ("agent_new_ticket", "agent", (NETWORK,))]
    assert notices[1].extra == {"reason": "escalated"}


def test_going_down_a_line_is_no_escalation(ruleset: RuleSet) -> None:
    before = TicketState(team="network", line=2, status="open")
    after = TicketState(team="dispatch", line=1, status="open")
    assert plan(TicketChange("agent_replied", before, after), ruleset) == []


@pytest.mark.parametrize(("status", "template"), [
    ("pending", "waiting_for_reply"), ("resolved", "closing_request"), ("closed", "closed_survey")])
def test_a_new_status_sends_its_customer_mail(ruleset: RuleSet, status: str, template: str) -> None:
    before = TicketState(team="dispatch", assignee=IVAN, status="open")
    after = TicketState(team="dispatch", assignee=IVAN, status=status)
    assert mails(plan(TicketChange("agent_replied", before, after), ruleset)) == [(template, "customer", ())]


@pytest.mark.parametrize("status", ["pending", "resolved", "closed"])
def test_a_status_that_stays_the_same_sends_nothing_again(ruleset: RuleSet, status: str) -> None:
    state = TicketState(team="dispatch", status=status)
    assert plan(TicketChange("agent_replied", state, state), ruleset) == []


@pytest.mark.parametrize("status", ["new", "open"])
def test_statuses_without_a_mail(ruleset: RuleSet, status: str) -> None:
    before = TicketState(team="dispatch", status="pending")
    after = TicketState(team="dispatch", status=status)
    assert plan(TicketChange("agent_changed", before, after), ruleset) == []


@pytest.mark.parametrize("previous", ["resolved", "closed"])
def test_reopening_tells_the_customer_and_the_assignee(ruleset: RuleSet, previous: str) -> None:
    before = TicketState(team="dispatch", assignee=IVAN, status=previous)
    after = TicketState(team="dispatch", assignee=IVAN, status="open")
    change = TicketChange("customer_replied", before, after, reopened_from=previous)
    assert mails(plan(change, ruleset)) == [("reopened", "customer", ()), ("agent_reopened", "agent", (IVAN,))]


def test_reopening_without_an_assignee_tells_the_team(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", status="closed")
    after = TicketState(team="dispatch", status="open")
    change = TicketChange("customer_replied", before, after, reopened_from="closed")
    assert mails(plan(change, ruleset)) == [("reopened", "customer", ()), ("agent_reopened", "agent", DISPATCH)]


def test_a_reply_to_a_pending_ticket_is_no_reopening(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", assignee=IVAN, status="pending")
    after = TicketState(team="dispatch", assignee=IVAN, status="open")
    change = TicketChange("customer_replied", before, after, reopened_from="pending")
    assert mails(plan(change, ruleset)) == [("agent_customer_replied", "agent", (IVAN,))]


def test_a_customer_reply_tells_the_assignee_and_the_collaborators(ruleset: RuleSet) -> None:
    state = TicketState(team="dispatch", assignee=IVAN, status="open")
    change = TicketChange("customer_replied", state, state, watchers=("maria@example.com", IVAN))
    assert mails(plan(change, ruleset)) == [("agent_customer_replied", "agent", (IVAN, "maria@example.com"))]


def test_a_customer_reply_to_an_unassigned_ticket_tells_the_team(ruleset: RuleSet) -> None:
    state = TicketState(team="dispatch", status="open")
    assert mails(plan(TicketChange("customer_replied", state, state), ruleset)) == [
        ("agent_customer_replied", "agent", DISPATCH)]


def test_the_agent_who_made_a_change_is_not_told_of_it(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", status="open")
    after = TicketState(team="dispatch", assignee=IVAN, status="open")
    notices = plan(TicketChange("agent_changed", before, after, actor=IVAN), ruleset)
    assert mails(notices) == [("assigned", "customer", ())]


def test_an_agent_answer_speaks_for_waiting_and_assignment(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", status="open")
    after = TicketState(team="dispatch", assignee=IVAN, status="pending")
    change = TicketChange("agent_replied", before, after, actor=IVAN, answered=True)
    assert plan(change, ruleset) == []
    resolved = TicketChange("agent_replied", before, replace(after, status="resolved"), actor=IVAN, answered=True)
    assert mails(plan(resolved, ruleset)) == [("closing_request", "customer", ())]


@pytest.mark.parametrize(("event", "template"), [
    ("sla_warning", "agent_sla_warning"), ("sla_breached", "agent_sla_breached")])
def test_sla_events_tell_the_assignee_with_the_target(ruleset: RuleSet, event: str, template: str) -> None:
    state = TicketState(team="dispatch", assignee=IVAN, status="open")
    notices = plan(TicketChange(event, state, state, sla_target="next_response"), ruleset)
    assert mails(notices) == [(template, "agent", (IVAN,))]
    assert notices[0].extra == {"sla_target": "next_response"}


def test_sla_events_without_an_assignee_tell_the_team(ruleset: RuleSet) -> None:
    state = TicketState(team="network", line=2, status="open")
    notices = plan(TicketChange("sla_breached", state, state, sla_target="resolution"), ruleset)
    assert mails(notices) == [("agent_sla_breached", "agent", (NETWORK,))]
    assert notices[0].extra["sla_target"] == "resolution"


def test_an_sla_event_of_a_ticket_nobody_owns_mails_no_one(ruleset: RuleSet) -> None:
    state = TicketState(status="open")
    assert plan(TicketChange("sla_warning", state, state, sla_target="first_response"), ruleset) == []


def test_mails_to_other_events_are_not_sla_mails(ruleset: RuleSet) -> None:
    state = TicketState(team="dispatch", assignee=IVAN, status="open")
    assert plan(TicketChange("agent_replied", state, state, sla_target="resolution"), ruleset) == []


# --- mails that rules ask for -------------------------------------------------------------


def test_notify_mails_the_named_team_with_the_rule(ruleset: RuleSet) -> None:
    change = created(TicketState(team="dispatch"), fired=fired(ruleset, "Tell the network team"))
    notices = plan(change, ruleset)
    assert mails(notices) == [("acknowledgement", "customer", ()), ("agent_new_ticket", "agent", DISPATCH),
                              ("agent_notify", "agent", (NETWORK,))]
    assert notices[2].extra == {"rule": "Tell the network team"}
    assert notices[2].requested_by == "Tell the network team"


def test_a_rule_template_to_the_customer_carries_the_rule(ruleset: RuleSet) -> None:
    state = TicketState(team="dispatch", status="open")
    change = TicketChange("customer_replied", state, state, fired=fired(ruleset, "Acknowledge again"))
    notices = plan(change, ruleset)
    assert mails(notices) == [("agent_customer_replied", "agent", DISPATCH), ("acknowledgement", "customer", ())]
    assert notices[1].requested_by == "Acknowledge again"
    assert notices[1].extra == {"rule": "Acknowledge again"}


def test_a_rule_agent_template_goes_to_the_assignee_else_the_team(ruleset: RuleSet) -> None:
    owned = TicketState(team="network", line=2, assignee=IVAN, status="open")
    unowned = TicketState(team="network", line=2, status="open")
    for state, to in ((owned, (IVAN,)), (unowned, (NETWORK,))):
        change = TicketChange("agent_replied", state, state, fired=fired(ruleset, "Warn the owner"))
        notices = plan(change, ruleset)
        assert mails(notices) == [("agent_sla_warning", "agent", to)]
        assert notices[0].requested_by == "Warn the owner"
        assert notices[0].extra["rule"] == "Warn the owner"


def test_a_rule_template_is_sent_even_when_replies_switch_it_off(tmp_path: Path) -> None:
    rules = load(tmp_path, TEAMS + "replies:\n  off: [acknowledgement, closing_request]\n" + RULES)
    state = TicketState(team="dispatch", status="open")
    change = TicketChange("customer_replied", state, state, fired=fired(rules, "Acknowledge again"))
    notices = plan(change, rules)
    assert mails(notices) == [("agent_customer_replied", "agent", DISPATCH), ("acknowledgement", "customer", ())]
    assert notices[1].requested_by == "Acknowledge again"
    resolved = TicketState(team="dispatch", status="resolved")
    change = TicketChange("agent_replied", state, resolved, fired=fired(rules, "Ask to close"))
    assert [(n.template, n.requested_by) for n in plan(change, rules)] == [("closing_request", "Ask to close")]


def test_a_mail_asked_for_twice_is_sent_once(ruleset: RuleSet) -> None:
    before = TicketState(team="dispatch", status="open")
    after = TicketState(team="dispatch", status="resolved")
    change = TicketChange("agent_replied", before, after, fired=fired(ruleset, "Ask to close"))
    assert mails(plan(change, ruleset)) == [("closing_request", "customer", ())]


def test_two_rules_notifying_the_same_team_send_one_mail(ruleset: RuleSet) -> None:
    state = TicketState(team="network", line=2, status="open")
    change = TicketChange("agent_replied", state, state, fired=fired(ruleset, "Tell dispatch", "Tell dispatch too"))
    assert mails(plan(change, ruleset)) == [("agent_notify", "agent", DISPATCH)]


def test_one_template_to_the_same_people_goes_once_but_different_templates_all_go(ruleset: RuleSet) -> None:
    # the SLA warning goes to the assignee; a rule asking for it again goes to the same person: one mail
    state = TicketState(team="network", line=2, assignee=IVAN, status="open")
    change = TicketChange("sla_warning", state, state, sla_target="resolution",
                          fired=fired(ruleset, "Warn the owner"))
    notices = plan(change, ruleset)
    assert mails(notices) == [("agent_sla_warning", "agent", (IVAN,))]
    assert notices[0].extra["sla_target"] == "resolution"  # the automatic one, which knows the target
    # one change that calls for several different mails sends them all, the ticket's life first, then the
    # rules'; an escalation that also assigns tells the customer once (escalated), the assignee still hears
    before = TicketState(team="dispatch", line=1, status="open")
    change = TicketChange("agent_replied", before, state, fired=fired(ruleset, "Tell dispatch"))
    assert mails(plan(change, ruleset)) == [
        ("agent_assigned", "agent", (IVAN,)), ("escalated", "customer", ()),
        ("agent_new_ticket", "agent", (NETWORK,)), ("agent_notify", "agent", DISPATCH)]


# --- replies: off ----------------------------------------------------------------------------


def test_replies_off_switches_off_lifecycle_mails(tmp_path: Path) -> None:
    rules = load(tmp_path, TEAMS + "replies:\n  off: [acknowledgement, agent_assigned, closing_request, "
                                   "agent_sla_warning, reopened]\n")
    assert mails(plan(created(TicketState(team="dispatch", assignee=IVAN)), rules)) == [
        ("agent_new_ticket", "agent", DISPATCH)]
    before = TicketState(team="dispatch", assignee=IVAN, status="open")
    resolved = TicketState(team="dispatch", assignee=IVAN, status="resolved")
    assert plan(TicketChange("agent_replied", before, resolved), rules) == []
    assert plan(TicketChange("sla_warning", before, before, sla_target="resolution"), rules) == []
    assert mails(plan(TicketChange("customer_replied", resolved, before, reopened_from="resolved"), rules)) == [
        ("agent_reopened", "agent", (IVAN,))]
    # what is not switched off still goes
    pending = TicketState(team="dispatch", assignee=IVAN, status="pending")
    assert mails(plan(TicketChange("agent_replied", before, pending), rules)) == [
        ("waiting_for_reply", "customer", ())]


def test_every_automatic_mail_can_be_switched_off(tmp_path: Path) -> None:
    rules = load(tmp_path, TEAMS + f"replies:\n  off: [{', '.join(AUTOMATIC_MAILS)}]\n")
    assert rules.replies.off == frozenset(AUTOMATIC_MAILS)
    new = created(TicketState(team="dispatch", assignee=IVAN))
    before = TicketState(team="dispatch", line=1, status="closed")
    after = TicketState(team="network", line=2, assignee=IVAN, status="resolved")
    changes = [new, TicketChange("customer_replied", before, after, reopened_from="closed"),
               TicketChange("sla_breached", after, after, sla_target="resolution")]
    assert [plan(c, rules) for c in changes] == [[], [], []]


def test_without_replies_everything_is_sent_and_silence_closes_after_three_days(ruleset: RuleSet) -> None:
    assert ruleset.replies.off == frozenset()
    assert ruleset.replies.close_after_days == CLOSE_AFTER_DAYS == 3


# --- rules check: the replies section --------------------------------------------------------


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    assert result.rules is None  # a file with problems gives no rules
    return [str(p).removeprefix(f"{path}:") for p in result.problems]


def test_an_unknown_mail_in_replies_off_is_a_problem_at_its_position(tmp_path: Path) -> None:
    found = problems(tmp_path, "replies:\n  off:\n    - acknowledgement\n    - acknowledgment\n")
    assert len(found) == 1
    assert found[0].startswith("4:7: a mail in replies.off must be one of ")
    assert "not 'acknowledgment' (did you mean 'acknowledgement'?)" in found[0]


@pytest.mark.parametrize("name", ["reminder", "agent_notify"])  # templates, but only rules send them
def test_mails_the_desk_never_sends_by_itself_cannot_be_switched_off(tmp_path: Path, name: str) -> None:
    found = problems(tmp_path, f"replies:\n  off: [{name}]\n")
    assert len(found) == 1
    assert found[0].startswith("2:9: a mail in replies.off must be one of ")


@pytest.mark.parametrize(("value", "message"), [
    ("400", "3:21: replies.close_after_days must be between 0 and 365, not 400"),
    ("366", "3:21: replies.close_after_days must be between 0 and 365, not 366"),
    ("-1", "3:21: replies.close_after_days must be between 0 and 365, not -1"),
    ("soon", "3:21: replies.close_after_days must be a whole number"),
])
def test_close_after_days_out_of_range_is_a_problem(tmp_path: Path, value: str, message: str) -> None:
    assert problems(tmp_path, f"replies:\n  off: []\n  close_after_days: {value}\n") == [message]


@pytest.mark.parametrize("days", [0, 365])
def test_close_after_days_at_its_limits_is_accepted(tmp_path: Path, days: int) -> None:
    assert load(tmp_path, f"replies:\n  close_after_days: {days}\n").replies.close_after_days == days


def test_an_unknown_field_in_replies_is_a_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, "replies:\n  of: [assigned]\n")
    assert len(found) == 1
    assert found[0].startswith("2:3: unknown field 'of' in replies")


def test_a_rule_may_send_an_admin_template_but_not_an_unknown_one(tmp_path: Path) -> None:
    own = tmp_path / "templates" / "email" / "en"
    own.mkdir(parents=True)
    (own / "outage_notice.subject.j2").write_text("Outage {{ ticket.token }}\n", "utf-8")
    rule = "rules:\n  - name: Outage\n    on: ticket_created\n    then: {template: %s}\n"
    rules = load(tmp_path, rule % "outage_notice")
    change = created(TicketState(), fired=fired(rules, "Outage"))
    assert mails(plan(change, rules)) == [("acknowledgement", "customer", ()), ("outage_notice", "customer", ())]
    found = problems(tmp_path, rule % "outage_notise")
    assert len(found) == 1
    assert found[0].startswith("4:22: unknown template 'outage_notise' (did you mean 'outage_notice'?)")
