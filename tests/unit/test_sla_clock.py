"""The SLA clock as a pure plan: pauses, restarts, policy changes and what each event restarts or meets."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.sla.clock import SlaPlan, SlaTicket, plan_sla

RULES = """
calendars:
  office: {timezone: Europe/Moscow, hours: {mon-fri: ["09:00-13:00", "14:00-18:00"]}}
sla:
  calendar: office
  policies:
    - {name: Urgent, urgencies: [high], first_response: 1h, resolution: 8h, warn_before: 15m}
    - {name: Standard, first_response: 4h, next_response: 8h, update_every: 16h, resolution: 2d}
"""
MONDAY_10_MSK = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
H = timedelta(hours=1)


def ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    loaded = load_rules(path).rules
    assert loaded is not None
    return loaded


def stored(plan: SlaPlan, **changes: object) -> SlaTicket:
    values: dict[str, object] = {"policy": plan.policy.name if plan.policy else "", "created_at": MONDAY_10_MSK,
                                 "paused_at": None, "paused": timedelta(0),
                                 "dues": {t: d.due if d else None for t, d in plan.writes.items()}}
    values.update(changes)
    return SlaTicket(**values)  # type: ignore[arg-type]


def test_a_new_ticket_gets_every_target_with_its_warning(tmp_path: Path) -> None:
    plan = plan_sla(ruleset(tmp_path), "ticket_created", TicketState(urgency="high"), "", MONDAY_10_MSK, None)
    assert plan.policy is not None and plan.policy_changed and plan.clock is None
    first = plan.writes["first_response"]
    assert first is not None and (first.due, first.warn) == (MONDAY_10_MSK + H, MONDAY_10_MSK + 45 * timedelta(
        minutes=1))
    resolution = plan.writes["resolution"]
    assert resolution is not None and resolution.due == MONDAY_10_MSK + 24 * H  # 8h: Monday 10-13, 14-18, Tuesday 9-10


def test_a_ticket_created_pending_stops_its_clock_at_once(tmp_path: Path) -> None:
    plan = plan_sla(ruleset(tmp_path), "ticket_created", TicketState(status="pending"), "", MONDAY_10_MSK, None)
    assert plan.clock is not None and (plan.clock.kind, plan.clock.paused_at) == ("sla.paused", MONDAY_10_MSK)


def test_events_restart_or_meet_their_targets(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    created = plan_sla(rules, "ticket_created", TicketState(), "", MONDAY_10_MSK, None)
    later = MONDAY_10_MSK + H
    customer = plan_sla(rules, "customer_replied", TicketState(status="open"), "", later, stored(created))
    agent = plan_sla(rules, "agent_replied", TicketState(status="open"), "", later, stored(created))
    breach = plan_sla(rules, "sla_breached", TicketState(status="open"), "", later, stored(created))
    assert set(customer.writes) == {"next_response"} and not customer.policy_changed
    assert agent.writes["first_response"] is None and agent.writes["next_response"] is None
    assert set(agent.writes) == {"first_response", "next_response", "update_every"}
    assert breach.writes == {}


def test_a_policy_change_recomputes_from_the_start_and_keeps_met_targets_met(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    created = plan_sla(rules, "ticket_created", TicketState(), "", MONDAY_10_MSK, None)
    met = stored(created, dues={**stored(created).dues, "first_response": None})
    plan = plan_sla(rules, "customer_replied", TicketState(urgency="high", status="open"), "",
                    MONDAY_10_MSK + 2 * H, met)
    assert plan.policy_changed and plan.policy is not None and plan.policy.name == "Urgent"
    assert plan.writes["first_response"] is None  # already met under the old policy
    resolution = plan.writes["resolution"]
    assert resolution is not None and resolution.due == MONDAY_10_MSK + 24 * H  # from the start, not the reply
    assert plan.writes["next_response"] is None and plan.writes["update_every"] is None  # not in Urgent


def test_a_policy_change_adds_the_time_the_clock_was_stopped(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    created = plan_sla(rules, "ticket_created", TicketState(), "", MONDAY_10_MSK, None)
    plan = plan_sla(rules, "customer_replied", TicketState(urgency="high", status="open"), "",
                    MONDAY_10_MSK + 2 * H, stored(created, paused=2 * H))
    first = plan.writes["first_response"]
    assert first is not None and first.due == MONDAY_10_MSK + 3 * H  # 1h + 2h stopped: 13:00, as lunch begins
    assert first.how == "1h business time (office), plus 2h stopped"


@settings(max_examples=200, deadline=None)
@given(pause_start=st.integers(0, 14 * 24 * 60), pause_minutes=st.integers(0, 14 * 24 * 60),
       due_minutes=st.integers(1, 21 * 24 * 60))
def test_a_pause_only_delays_and_by_exactly_the_business_time_stopped(
        tmp_path_factory: object, pause_start: int, pause_minutes: int, due_minutes: int) -> None:
    rules = ruleset(Path(str(tmp_path_factory.mktemp("r"))))  # type: ignore[attr-defined]
    calendar = rules.calendars["office"]
    paused_at = MONDAY_10_MSK + timedelta(minutes=pause_start)
    resumed_at = paused_at + timedelta(minutes=pause_minutes)
    due = calendar.add(MONDAY_10_MSK, timedelta(minutes=due_minutes))
    sla = SlaTicket("Standard", MONDAY_10_MSK, paused_at, timedelta(0), {"resolution": due})
    plan = plan_sla(rules, "customer_replied", TicketState(status="open"), "", resumed_at, sla)

    assert plan.clock is not None and plan.clock.kind == "sla.resumed"
    moved = plan.shifted(due)
    assert moved >= due  # pauses only delay
    if due > paused_at:  # a deadline still ahead moves by exactly the business time stopped
        assert calendar.between(due, moved) == calendar.between(paused_at, resumed_at)
    else:  # one already past when the clock stopped stays breached where it was
        assert moved == due


def test_a_policy_change_sets_targets_the_old_policy_did_not_have(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    created = plan_sla(rules, "ticket_created", TicketState(urgency="high"), "", MONDAY_10_MSK, None)
    assert "next_response" not in created.writes  # Urgent has none
    plan = plan_sla(rules, "customer_replied", TicketState(status="open"), "", MONDAY_10_MSK + H, stored(created))
    assert plan.policy is not None and plan.policy.name == "Standard"
    assert {t for t, d in plan.writes.items() if d is not None} == {"first_response", "next_response",
                                                                   "update_every", "resolution"}


def test_an_agent_reply_that_changes_the_policy_still_meets_the_first_response(tmp_path: Path) -> None:
    rules = ruleset(tmp_path)
    created = plan_sla(rules, "ticket_created", TicketState(), "", MONDAY_10_MSK, None)
    plan = plan_sla(rules, "agent_replied", TicketState(urgency="high", status="open"), "", MONDAY_10_MSK + H,
                    stored(created))
    assert plan.policy_changed and plan.writes["first_response"] is None
    assert plan.writes["resolution"] is not None
