"""A verified agent's mail: its commands, then its new text to the customer (or as a note).

The commands at the top are checked first, all of them: one invalid line and nothing
changes and nothing goes to the customer; the agent gets a short mail naming the line and
why. Otherwise ``#cc`` people join first (so the answer reaches them), then the fields change
together with the answer, and ``#merge`` comes last.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailhelpdesk.mail.parse import attachment_payloads
from mailhelpdesk.mail.reply_text import new_text
from mailhelpdesk.outbound.draft import OutboundFile
from mailhelpdesk.outbound.notifier import Notifier
from mailhelpdesk.outbound.planner import Notice
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.pipeline.steps.sender import CompanyResolver
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.store.repository import Repository, TicketRef
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.tickets.mail_commands import Command, CommandError, Vocabulary, parse_agent_reply
from mailhelpdesk.tickets.service import ActionResult, Refused, TicketService

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # what goes on to the customer; most relays refuse more


@dataclass(frozen=True, slots=True)
class AgentReplyHandler:
    service: TicketService
    repo: Repository
    notifier: Notifier
    companies: CompanyResolver
    rules: Callable[[], RuleSet]

    async def handle(self, ctx: MailContext, ticket: TicketRef, moment: Moment) -> None:
        assert ctx.agent is not None
        ruleset, actor = self.rules(), Actor.agent(ctx.agent.address)
        parsed = parse_agent_reply(ctx.parsed.text, actor.address, Vocabulary(
            frozenset(ruleset.teams), frozenset(ruleset.agents)))
        text = new_text(parsed.body)  # only what the agent wrote: never the quoted notification
        errors = parsed.errors or await self._merge_errors(ticket, parsed.commands) or _leaks(text, ticket.number)
        if errors:
            await self._refuse(ticket, actor, moment, ctx.inbound_id, errors)
            return
        refused = await self._people(ticket.number, parsed.commands, actor, moment)
        refused = refused or _refused(await self._answer(ctx, ticket.number, text, parsed.commands, actor, moment))
        merge = _value(parsed.commands, "merge")
        if refused is None and isinstance(merge, int):
            refused = _refused(await self.service.merge(ticket.number, merge, actor, moment))
        if refused is not None:
            await self._refuse(ticket, actor, moment, ctx.inbound_id, (CommandError(0, "", refused.reason),))

    async def _merge_errors(self, ticket: TicketRef, commands: tuple[Command, ...]) -> tuple[CommandError, ...]:
        """``#merge N`` is checked before anything changes: a mail is applied whole or not at all."""
        merge = next((c for c in commands if c.name == "merge"), None)
        if merge is None or not isinstance(merge.value, int):
            return ()
        refused = await self.service.merge_refused(ticket.number, merge.value)
        return (CommandError(merge.line, merge.source, refused.reason),) if refused else ()

    async def _answer(self, ctx: MailContext, number: int, text: str, commands: tuple[Command, ...], actor: Actor,
                      moment: Moment) -> ActionResult:
        changes, inbound_id = _changes(commands), ctx.inbound_id
        if text and not any(c.name == "note" for c in commands):
            return await self.service.reply(number, text, actor, moment, changes, _files(ctx.raw), inbound_id,
                                            mail=ctx.parsed)
        if not text and not changes:  # nothing said, nothing asked: the agent has seen it
            return await self.service.set_fields(number, changes, actor, moment, inbound_id)
        return await self.service.note(number, text, actor, moment, changes, inbound_id)

    async def _people(self, number: int, commands: tuple[Command, ...], actor: Actor,
                      moment: Moment) -> Refused | None:
        """``#cc``: agents follow the ticket, anyone else becomes a cc contact who gets the answers."""
        ruleset = self.rules()
        addresses = [a for c in commands if c.name == "cc" and isinstance(c.value, tuple) for a in c.value]
        agents = [a for a in addresses if ruleset.is_agent(a)]
        contacts = [(await self.companies.contact(a, "")).id for a in addresses if a not in agents]
        if agents:
            refused = _refused(await self.service.collaborators(number, agents, (), actor, moment))
            if refused is not None:
                return refused
        return _refused(await self.service.add_cc(number, contacts, actor, moment)) if contacts else None

    async def _refuse(self, ticket: TicketRef, actor: Actor, moment: Moment, inbound_id: int,
                      errors: tuple[CommandError, ...]) -> None:
        shown = [{"line": e.line, "source": e.source, "reason": e.reason} for e in errors]
        await self.repo.event("agent.mail_refused", {"errors": shown}, ticket_id=ticket.id, inbound_id=inbound_id,
                              actor=str(actor), at=moment.now)
        await self.notifier.tell_agents(ticket.id, Notice("agent_command_failed", "agent", (actor.address,),
                                                          {"errors": shown}), moment.at, moment.now)


_SIGNED_AGENT_ADDRESS = re.compile(r"\+\d{1,12}\.a\.[a-z2-7]{12}@", re.IGNORECASE)


def _leaks(text: str, number: int) -> tuple[CommandError, ...]:
    """The text to send still holds our notification (a quote the trimming did not recognise):
    then nothing is sent, the agent is told. Sending nothing is the safe failure here."""
    if _SIGNED_AGENT_ADDRESS.search(text) or f"/tickets/{number}" in text:
        return (CommandError(0, "", "the text to send still holds the quoted notification (an agent's reply "
                                    "address or the ticket's panel link); write your answer above the quoted "
                                    "mail and send it again"),)
    return ()


def _changes(commands: tuple[Command, ...]) -> FieldChanges:
    line = _value(commands, "line")
    tags = tuple(t for c in commands if c.name == "tag" and isinstance(c.value, tuple) for t in c.value)
    return FieldChanges(_text(commands, "status"), _text(commands, "urgency"),
                        line if isinstance(line, int) else None, _text(commands, "team"),
                        _text(commands, "assign"), tags)


def _value(commands: tuple[Command, ...], name: str) -> Any:
    """The value of the command ``name``, None if it is not given."""
    return next((c.value for c in commands if c.name == name), None)


def _text(commands: tuple[Command, ...], name: str) -> str | None:
    value = _value(commands, name)
    return value if isinstance(value, str) else None


def _refused(result: ActionResult) -> Refused | None:
    return result if isinstance(result, Refused) else None


def _files(raw: bytes) -> tuple[OutboundFile, ...]:
    """The agent's attachments and inline images, as far as a relay will take them."""
    files, total = [], 0
    for attachment, data in attachment_payloads(raw):
        if attachment.content_type.startswith("message/") or attachment.content_type == "text/rfc822-headers":
            continue  # an attached mail is most likely our notification: internal, never the customer's
        total += len(data)
        if total > MAX_ATTACHMENT_BYTES:
            break
        files.append(OutboundFile(attachment.filename or "attachment", attachment.content_type, data))
    return tuple(files)
