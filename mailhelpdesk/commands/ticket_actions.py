"""``mailhelpdesk tickets reply|note|set|merge|collaborators``: the ticket service from the command
line, one action in one transaction."""

import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mailhelpdesk.app import Runtime
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import SYSTEM, Actor, Moment
from mailhelpdesk.tickets.service import ActionResult, Refused, TicketService

EXIT_REFUSED = 1

Action = Callable[[TicketService, Actor, Moment], Awaitable[ActionResult]]


async def run_action(runtime: Runtime, action: Action, actor: Actor, out: TextIO, err: TextIO) -> int:
    """Run ``action`` in a transaction; print what changed, or why nothing did (exit 1)."""
    async with transaction():
        result = await action(runtime.service, actor, Moment.of(datetime.now(UTC)))
    if isinstance(result, Refused):
        err.write(f"mailhelpdesk: error: {result.reason}\n")
        return EXIT_REFUSED
    changes = "; ".join(result.changes) or "no field changed"
    sent = f"; answer queued to the customer (outbox {result.outbox_id})" if result.outbox_id else ""
    out.write(f"#{result.number}: {changes}{sent}\n")
    return 0


def agent_actor(runtime: Runtime, address: str | None, required: bool) -> Actor:
    """``--as EMAIL``: a declared agent; without it, the admin at the console (``system``)."""
    if address is None:
        if required:
            raise ConfigError("give --as EMAIL: the agent who writes it")
        return SYSTEM
    if not runtime.rules().is_agent(address):
        known = ", ".join(sorted(runtime.rules().agents)) or "none declared in the rules file"
        raise ConfigError(f"--as {address}: not a declared agent (agents: {known})")
    return Actor.agent(address)


def read_text(source: Path | None, stdin: TextIO | None = None) -> str:
    """The text of ``--file F`` (``-``: standard input)."""
    if source is None or str(source) == "-":
        return (stdin or sys.stdin).read()
    try:
        return source.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None
