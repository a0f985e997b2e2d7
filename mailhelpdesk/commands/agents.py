"""``mailhelpdesk agents list``: the agents declared in the rules file.

Not with the ticket actions: those import the ticket service and, through it, the templates and
the mail parser, none of which a listing of the rules file needs.
"""

from typing import TextIO

from mailhelpdesk.rules.ruleset import RuleSet


def list_agents(ruleset: RuleSet, out: TextIO) -> int:
    out.write(f"{'agent':<34} {'name':<24} {'role':<6} {'teams (line)':<30} writes to customers\n")
    for agent in sorted(ruleset.agents.values(), key=lambda a: a.email):
        teams = ", ".join(f"{t} ({ruleset.teams[t].line})" for t in agent.teams if t in ruleset.teams) or "-"
        writes = "yes" if ruleset.writes_to_customers(agent.email) else "no: replies become notes"
        out.write(f"{agent.email:<34} {agent.name or '-':<24} {agent.role:<6} {teams:<30} {writes}\n")
    return len(ruleset.agents)
