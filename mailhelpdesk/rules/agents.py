"""The ``agents:`` section: the people who work tickets, their names, teams and role.

    agents:
      - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
      - {email: sergey@example.com, name: Sergey Volkov, teams: [experts]}

A team's ``members`` and an agent's ``teams`` say the same thing from both sides; either
may be used and they are merged. When the section is present, every team member must be a
declared agent (a typo in an address would otherwise make a stranger's mail trusted, or a
colleague's mail a customer's). Without it, team members are the agents, with no names.
"""

from dataclasses import dataclass, replace

import yaml

from mailhelpdesk.rules.source import Reader, suggestion
from mailhelpdesk.rules.teams import Team, read_address

ROLES = ("agent", "admin")
_FIELDS = ("email", "name", "teams", "role")


@dataclass(frozen=True, slots=True)
class Agent:
    email: str  # lower case
    name: str = ""
    teams: tuple[str, ...] = ()
    role: str = "agent"

    @property
    def display(self) -> str:
        return self.name or self.email


def read_agents(reader: Reader, node: yaml.Node | None, teams: dict[str, Team]) -> dict[str, Agent] | None:
    """The declared agents by address; None when the file has no ``agents:`` section."""
    if node is None:
        return None
    agents: dict[str, Agent] = {}
    for item in reader.sequence(node, "agents"):
        agent = _agent(reader, item, teams)
        if agent is None:
            continue
        if agent.email in agents:
            reader.error(item, f"agent {agent.email} is declared twice")
            continue
        agents[agent.email] = agent
    return agents


def _agent(reader: Reader, node: yaml.Node, teams: dict[str, Team]) -> Agent | None:
    fields = reader.mapping(node, "an agent", _FIELDS, required=("email",))
    if fields is None or "email" not in fields:
        return None
    email = read_address(reader, fields["email"], "email of an agent")
    name = reader.string(fields["name"], "name of an agent") if "name" in fields else ""
    role = reader.choice(fields["role"], "role of an agent", ROLES) if "role" in fields else "agent"
    own = []
    for team_node in reader.sequence(fields["teams"], "teams of an agent") if "teams" in fields else []:
        team = reader.string(team_node, "team of an agent")
        if team is not None and team not in teams:
            reader.error(team_node, f"unknown team {team!r}{suggestion(team, teams)}")
        elif team is not None:
            own.append(team)
    if email is None:
        return None
    return Agent(email, name or "", tuple(dict.fromkeys(own)), role or "agent")


def merge_agents(reader: Reader, node: yaml.Node | None, declared: dict[str, Agent] | None,
                 teams: dict[str, Team]) -> tuple[dict[str, Agent], dict[str, Team]]:
    """Agents and teams with membership from both sides; undeclared members are problems."""
    agents = dict(declared or {})
    for team in teams.values():
        for member in team.members:
            if member not in agents:
                if declared is not None:
                    reader.error(_scalar(node, member), f"member {member} of team {team.name!r} is not in agents:"
                                                        f"{suggestion(member, declared)}")
                agents[member] = Agent(member)
            if team.name not in agents[member].teams:
                agents[member] = replace(agents[member], teams=(*agents[member].teams, team.name))
    merged_teams = {
        name: replace(team, members=tuple(dict.fromkeys(
            (*team.members, *(a.email for a in agents.values() if name in a.teams)))))
        for name, team in teams.items()
    }
    return agents, merged_teams


def _scalar(node: yaml.Node | None, value: str) -> yaml.Node | None:
    """The first scalar under ``node`` holding ``value`` (case-blind), for the problem's position."""
    if isinstance(node, yaml.ScalarNode):
        return node if str(node.value).strip().lower() == value else None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [v for _, v in node.value]
    return next((found for child in children if (found := _scalar(child, value)) is not None), node)
