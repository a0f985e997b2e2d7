"""Pure parts of the ticket service: field changes, mentions, who answers for line 3, signed agent
addresses, and the ``agents:`` section of the rules file."""

from dataclasses import replace
from pathlib import Path

import pytest

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.rules.agents import Agent
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.rules.teams import DEFAULT_LINES, Team
from mailhelpdesk.signing import Signer
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.tickets.service import answering_teams, mentions

RULES = """\
teams:
  dispatch: {line: 1, members: [anna@example.com, oleg@example.com]}
  network: {line: 2, address: network-team@example.com}
  billing: {line: 2, members: [maria.k@example.com]}
  experts: {line: 3}
  vendor: {line: 4}
agents:
  - {email: Anna@Example.com, name: Anna Smirnova, role: admin}
  - {email: oleg@example.com, name: Oleg Petrov}
  - {email: ivan@example.com, name: Ivan Orlov, teams: [network, dispatch]}
  - {email: maria.k@example.com, name: Maria Kuznetsova}
  - {email: sergey@example.com, name: Sergey Volkov, teams: [experts]}
  - {email: victor@vendor.example, teams: [vendor]}
"""


def load(tmp_path: Path, text: str) -> tuple[RuleSet | None, list[str]]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    return result.rules, [str(p).removeprefix(f"{path}:") for p in result.problems]


@pytest.fixture
def ruleset(tmp_path: Path) -> RuleSet:
    rules, problems = load(tmp_path, RULES)
    assert problems == []
    assert rules is not None
    return rules


def position(text: str, needle: str, occurrence: int = 1) -> str:
    """``line:column`` (1-based) of the ``occurrence``-th ``needle`` in ``text``: where a problem must point."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    return f"{line}:{start - (text.rfind(chr(10), 0, start) + 1) + 1}"


# --- FieldChanges --------------------------------------------------------------------------------


def test_valid_changes_have_no_problems(ruleset: RuleSet) -> None:
    changes = FieldChanges("pending", "high", 2, "network", "Ivan@Example.com", ("+vpn", "-new", "plain"))
    assert changes.problems(ruleset) == []
    assert FieldChanges(team="", assignee="").problems(ruleset) == []  # '' unsets team and assignee


def test_every_invalid_value_is_named(ruleset: RuleSet) -> None:
    problems = FieldChanges("new", "extreme", 5, "netwrk", "stranger@acme.com", ("+", "ok")).problems(ruleset)
    assert problems == [
        "unknown status 'new' (open, pending, resolved, closed)",  # only the desk makes a ticket new
        "unknown urgency 'extreme' (low, normal, high, critical)",
        "support lines are numbered 1 to 4, not 5",
        "unknown team 'netwrk' (did you mean 'network'?) (teams: billing, dispatch, experts, network, vendor)",
        "stranger@acme.com is not a declared agent",
        "not a tag: '+'",
    ]
    assert FieldChanges(line=0).problems(ruleset) == ["support lines are numbered 1 to 4, not 0"]


def test_applied_changes_fields_and_a_team_brings_its_line(ruleset: RuleSet) -> None:
    state = TicketState(status="open", line=1, team="dispatch", tags=frozenset({"new", "printer"}))

    moved = FieldChanges(status="pending", team="network", assignee="Ivan@Example.com",
                         tags=("+vpn", "-new", " plain ")).applied(state, ruleset)
    assert (moved.status, moved.team, moved.line, moved.assignee) == ("pending", "network", 2, "ivan@example.com")
    assert moved.tags == {"printer", "vpn", "plain"}
    # An explicit line wins over the team's.
    assert FieldChanges(team="network", line=3).applied(state, ruleset).line == 3
    # Unsetting the team keeps the line; a line alone keeps the team; '' unassigns.
    unset = FieldChanges(team="").applied(state, ruleset)
    assert (unset.team, unset.line) == ("", 1)
    vendor = FieldChanges(line=4).applied(state, ruleset)
    assert (vendor.team, vendor.line) == ("dispatch", 4)
    assert FieldChanges(assignee="").applied(replace(state, assignee="oleg@example.com"), ruleset).assignee == ""


def test_no_changes_is_falsy_and_changes_nothing(ruleset: RuleSet) -> None:
    state = TicketState(status="open", tags=frozenset({"a"}))
    assert not FieldChanges()
    assert FieldChanges().applied(state, ruleset) == state
    assert FieldChanges(tags=("x",)) and FieldChanges(line=1) and FieldChanges(assignee="")


# --- mentions and who answers for a line that does not write to customers ------------------------


def test_mentions_by_local_part_full_address_and_first_name(ruleset: RuleSet) -> None:
    assert mentions("@anna please look at the toner", ruleset) == ["anna@example.com"]
    # Order of appearance, duplicates once, case-blind, a sentence's full stop is not part of the name.
    assert mentions("@Oleg@Example.com and @anna. Also @anna@example.com again", ruleset) == [
        "oleg@example.com", "anna@example.com"]
    assert mentions("@Maria knows billing; ask @maria.k too", ruleset) == ["maria.k@example.com"]
    assert mentions("@sergey", ruleset) == ["sergey@example.com"]


def test_an_address_in_the_text_or_an_unknown_name_is_no_mention(ruleset: RuleSet) -> None:
    assert mentions("write to anna@example.com or oleg.petrov@example.com", ruleset) == []
    assert mentions("@nobody and @@anna? no: @nobody@example.com", ruleset) == []


def test_a_line_3_note_goes_to_the_line_2_teams_address_else_members(ruleset: RuleSet) -> None:
    assert ruleset.writes_to_customers("sergey@example.com") is False
    assert answering_teams(ruleset, "sergey@example.com") == ("network-team@example.com", "maria.k@example.com")
    # Line 4 and an agent of no team (treated as the top line) also go to line 2, skipping line 3.
    assert answering_teams(ruleset, "victor@vendor.example") == ("network-team@example.com", "maria.k@example.com")
    assert answering_teams(ruleset, "someone@example.com") == ("network-team@example.com", "maria.k@example.com")
    # Nothing below line 1.
    assert answering_teams(ruleset, "anna@example.com") == ()


def test_an_empty_line_2_falls_back_to_line_1() -> None:
    teams = {"dispatch": Team("dispatch", 1, ("anna@example.com",)), "empty": Team("empty", 2, ()),
             "experts": Team("experts", 3, ("sergey@example.com",))}
    agents = {"anna@example.com": Agent("anna@example.com", teams=("dispatch",)),
              "sergey@example.com": Agent("sergey@example.com", teams=("experts",))}
    ruleset = RuleSet(Path("rules.yaml"), lines=dict(DEFAULT_LINES), teams=teams, agents=agents)
    assert answering_teams(ruleset, "sergey@example.com") == ("anna@example.com",)


# --- signed agent reply addresses ----------------------------------------------------------------


def test_an_agent_address_round_trips_for_its_agent_only() -> None:
    signer = Signer(b"k" * 32)
    address = signer.agent_reply_address("support@example.com", 1042, "Anna@Example.com")
    assert address.startswith("support+1042.a.") and address.endswith("@example.com")
    assert signer.ticket_from_agent_address(address, ["oleg@example.com", "anna@example.com"]) == (
        1042, "anna@example.com")
    assert signer.ticket_from_agent_address(address.upper(), ["ANNA@example.com"]) == (1042, "anna@example.com")
    # Another agent cannot use it, nor can another key or ticket number.
    assert signer.ticket_from_agent_address(address, ["oleg@example.com"]) is None
    assert Signer(b"x" * 32).ticket_from_agent_address(address, ["anna@example.com"]) is None
    assert signer.ticket_from_agent_address(address.replace("+1042.", "+1043."), ["anna@example.com"]) is None


def test_a_tampered_signature_or_a_customer_address_is_refused() -> None:
    signer = Signer(b"k" * 32)
    address = signer.agent_reply_address("support@example.com", 7, "anna@example.com")
    local, _, domain = address.partition("@")
    last = local[-1]
    tampered = f"{local[:-1]}{'b' if last != 'b' else 'c'}@{domain}"
    assert signer.ticket_from_agent_address(tampered, ["anna@example.com"]) is None
    # The customer's signed reply address is not an agent's, and the other way round.
    customer = signer.reply_address("support@example.com", 7)
    assert signer.ticket_from_agent_address(customer, ["anna@example.com"]) is None
    assert signer.ticket_from_reply_address(address) is None
    assert signer.ticket_from_agent_address("support@example.com", ["anna@example.com"]) is None


def test_a_team_address_is_a_candidate_too() -> None:
    signer = Signer(b"k" * 32)
    address = signer.agent_reply_address("support@example.com", 12, "network-team@example.com")
    # A member of the team answers a notification that went to the team's address.
    assert signer.ticket_from_agent_address(address, ["ivan@example.com", "network-team@example.com"]) == (
        12, "network-team@example.com")
    assert signer.ticket_from_agent_address(address, ["ivan@example.com"]) is None


# --- the agents: section ---------------------------------------------------------------------------


def test_declared_agents_and_team_members_are_merged_both_ways(ruleset: RuleSet) -> None:
    anna = ruleset.agent("ANNA@example.com")
    assert anna == Agent("anna@example.com", "Anna Smirnova", ("dispatch",), "admin")
    assert anna.display == "Anna Smirnova"
    ivan = ruleset.agent("ivan@example.com")
    assert ivan is not None and ivan.teams == ("network", "dispatch") and ivan.role == "agent"
    # Teams name the agents who named them, after their own members.
    assert ruleset.teams["dispatch"].members == ("anna@example.com", "oleg@example.com", "ivan@example.com")
    assert ruleset.teams["network"].members == ("ivan@example.com",)
    assert ruleset.teams["experts"].members == ("sergey@example.com",)
    assert ruleset.agent_lines("ivan@example.com") == {1, 2}
    assert ruleset.is_agent("Victor@Vendor.Example") and not ruleset.is_agent("ann@acme.com")
    assert Agent("x@example.com").display == "x@example.com"


def test_without_the_section_team_members_are_the_agents(tmp_path: Path) -> None:
    rules, problems = load(tmp_path, "teams:\n  dispatch: {line: 1, members: [Anna@Example.com]}\n")
    assert problems == [] and rules is not None
    assert rules.agents == {"anna@example.com": Agent("anna@example.com", "", ("dispatch",), "agent")}


def test_an_undeclared_member_is_a_problem_at_the_member(tmp_path: Path) -> None:
    text = ("teams:\n"
            "  dispatch:\n"
            "    line: 1\n"
            "    members: [anna@example.com, anya@example.com]\n"
            "agents:\n"
            "  - {email: anna@example.com}\n")
    rules, problems = load(tmp_path, text)
    assert rules is None
    assert problems == [f"{position(text, 'anya@example.com')}: member anya@example.com of team 'dispatch' is not"
                        " in agents: (did you mean 'anna@example.com'?)"]


def test_agent_problems_are_reported_where_they_are(tmp_path: Path) -> None:
    text = ("teams:\n"
            "  network: {line: 2}\n"
            "agents:\n"
            "  - {email: anna@example.com}\n"
            "  - {email: Anna@Example.com, name: Again}\n"
            "  - {email: ivan@example.com, teams: [netwrk]}\n"
            "  - {email: oleg@example.com, role: boss}\n"
            "  - {email: not-an-address}\n")
    rules, problems = load(tmp_path, text)
    assert rules is None
    assert problems == [
        f"{position(text, '{email: Anna@')}: agent anna@example.com is declared twice",
        f"{position(text, 'netwrk')}: unknown team 'netwrk' (did you mean 'network'?)",
        f"{position(text, 'boss')}: role of an agent must be one of admin, agent, not 'boss'",
        f"{position(text, 'not-an-address')}: email of an agent must be an e-mail address, not 'not-an-address'",
    ]
