"""``mailhelpdesk agents set-password EMAIL`` and ``agents token EMAIL``: an agent's way into the
panel and the API. Only agents the rules file declares get either."""

import getpass
from datetime import UTC, datetime
from typing import TextIO

from mailhelpdesk.config import Settings
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.reads import opened
from mailhelpdesk.rules.current import CurrentRules
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.web.passwords import hash_password, password_problem


def declared_agent(settings: Settings, email: str) -> str:
    """The agent's address as the rules file has it; a ConfigError (exit 2) if it is not an agent."""
    ruleset: RuleSet = CurrentRules(settings.rules_file, settings.templates_dir).load()
    agent = ruleset.agent(email.strip())
    if agent is None:
        raise ConfigError(f"{email}: not an agent in the rules file (agents: or a team's members:)")
    return agent.email


def read_password(stdin: TextIO, err: TextIO) -> str:
    """Twice from the terminal without echo; else the first line of standard input (scripts, tests)."""
    if stdin.isatty():
        first = getpass.getpass("New password: ", stream=err)
        if getpass.getpass("Again: ", stream=err) != first:
            raise ConfigError("the two passwords differ")
        password = first
    else:
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    problem = password_problem(password)
    if problem:
        raise ConfigError(problem)
    return password


async def set_password(settings: Settings, email: str, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    agent = declared_agent(settings, email)
    hashed = hash_password(read_password(stdin, err))
    async with opened(settings):
        await AccountStore().set_password(agent, hashed, datetime.now(UTC))
    out.write(f"password set for {agent}; their other sessions are logged out\n")
    return 0


async def api_token(settings: Settings, email: str, label: str, revoke: bool, out: TextIO) -> int:
    """A new bearer token, printed once; or ``--revoke``: every token of the agent stops working."""
    agent = declared_agent(settings, email)
    async with opened(settings):
        accounts = AccountStore()
        if revoke:
            count = await accounts.revoke_tokens(agent, datetime.now(UTC))
            out.write(f"{count} token(s) of {agent} revoked\n")
            return 0
        token = await accounts.create_token(agent, label, datetime.now(UTC))
    out.write(f"{token}\n")
    return 0
