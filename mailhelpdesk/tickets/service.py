"""The one writer of ticket state: every change of a ticket, whoever makes it, goes through here.

An action takes an actor and a moment. It works out the state the actor asks for, runs the
rules the change triggers (``agent_replied``, ``status_changed`` …), moves the SLA clock, writes
the changed columns, records typed events (who, what, old → new, at the action's clock) and
queues the notifications. The caller holds the transaction (the pipeline's for a mail, the
timer job's for a timer, the command line's for an action), so a change is whole or absent.
An action's ``inbound_id`` names the agent's mail it came from (stored already, its events
point to it); None for an action from the command line.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.domain.types import REOPENED_BY_REPLY, Direction, TicketStatus, Visibility
from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.mail.subjects import normalize_subject
from mailhelpdesk.outbound.draft import OutboundFile
from mailhelpdesk.outbound.notifier import Answer, Notifier
from mailhelpdesk.outbound.planner import Notice, TicketChange
from mailhelpdesk.rules.effects import changed_columns, ticket_columns
from mailhelpdesk.rules.engine import Fired
from mailhelpdesk.rules.facts import MailFacts
from mailhelpdesk.rules.result import RulesResult, run_rules
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.ratings import RatingStore
from mailhelpdesk.store.repository import Repository, StoredTicket, TicketRef
from mailhelpdesk.store.rule_writes import RuleWriter
from mailhelpdesk.store.timers import TimerStore
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges

NO_CHANGES = FieldChanges()
_MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


@dataclass(frozen=True, slots=True)
class Done:
    number: int
    changes: tuple[str, ...] = ()  # "status: open → pending", for the one who asked
    outbox_id: int = 0  # the answer queued to the customer, if any


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


ActionResult = Done | Refused


@dataclass(frozen=True, slots=True)
class TicketService:
    repo: Repository
    timers: TimerStore
    writer: RuleWriter
    notifier: Notifier
    signer: Signer
    rules: Callable[[], RuleSet]
    max_age: timedelta  # mail older than this is history: what it causes mails no one
    ticket_number_start: int
    ratings: RatingStore

    # --- what agents and admins do ---------------------------------------------------------

    async def set_fields(self, number: int, changes: FieldChanges, actor: Actor, moment: Moment,
                         inbound_id: int | None = None) -> ActionResult:
        """Change status, urgency, line, team, assignee or tags; rules on ``status_changed`` follow."""
        found = await self._load(number, changes)
        if isinstance(found, Refused):
            return found
        stored, wanted = found
        result = await self._decide(stored, "agent_changed", wanted, moment)
        lines = await self._write(stored, wanted, result, actor, moment, inbound_id)
        return Done(stored.number, lines)

    async def reply(self, number: int, text: str, actor: Actor, moment: Moment, changes: FieldChanges = NO_CHANGES,
                    attachments: Sequence[OutboundFile] = (), inbound_id: int | None = None,
                    mail: ParsedMail | None = None) -> ActionResult:
        """An agent's answer to the customer (and cc), from the mailbox's address; ``agent_replied``."""
        if not self.rules().writes_to_customers(actor.address):
            return await self.note(number, text, actor, moment, changes, inbound_id, answer_needed=True)
        found = await self._load(number, changes)
        if isinstance(found, Refused):
            return found
        stored, wanted = found
        if not text.strip():
            return Refused("the answer has no text")
        refused = await self._undeliverable(stored, moment)
        if refused is not None:
            return refused
        if wanted.status == TicketStatus.NEW.value:
            wanted = replace(wanted, status=TicketStatus.OPEN.value)  # an agent has taken it up
        result = await self._decide(stored, "agent_replied", wanted, moment, mail)
        await self._make_live(stored, moment)
        outbox_id = await self.notifier.relay(stored.id, Answer(actor.address, text, tuple(attachments)),
                                              moment.at, moment.now)
        lines = await self._write(stored, wanted, result, actor, moment, inbound_id, answered=True)
        await self.repo.event("message.agent_answer", {"outbox": outbox_id, "chars": len(text)},
                              ticket_id=stored.id, inbound_id=inbound_id, actor=str(actor), at=moment.now)
        return Done(stored.number, lines, outbox_id)

    async def note(self, number: int, text: str, actor: Actor, moment: Moment, changes: FieldChanges = NO_CHANGES,
                   inbound_id: int | None = None, *, answer_needed: bool = False) -> ActionResult:
        """An internal note; ``@name`` notifies that agent; from a line that does not write to
        customers, the line below is asked to answer."""
        found = await self._load(number, changes)
        if isinstance(found, Refused):
            return found
        stored, wanted = found
        if not text.strip() and not changes:
            return Refused("the note has no text")
        result = await self._decide(stored, "agent_changed", wanted, moment)
        if inbound_id is None:  # from the command line; an agent's mail is stored already
            await self._note_message(stored, text, actor, moment)
        lines = await self._write(stored, wanted, result, actor, moment, inbound_id)
        await self.repo.event("note.added", {"chars": len(text), "answer_needed": answer_needed},
                              ticket_id=stored.id, inbound_id=inbound_id, actor=str(actor), at=moment.now)
        await self._tell_about_note(stored, text, actor, moment, answer_needed)
        return Done(stored.number, lines)

    async def collaborators(self, number: int, add: Sequence[str], remove: Sequence[str], actor: Actor,
                            moment: Moment) -> ActionResult:
        """Agents who follow the ticket besides its assignee: they get its notifications."""
        stored = await self._stored(number)
        if isinstance(stored, Refused):
            return stored
        ruleset = self.rules()
        strangers = [a for a in (*add, *remove) if not ruleset.is_agent(a)]
        if strangers:
            return Refused(f"{', '.join(strangers)}: not a declared agent")
        added = await self.repo.add_collaborators(stored.id, [a.lower() for a in add], moment.now)
        removed = await self.repo.remove_collaborators(stored.id, [a.lower() for a in remove])
        if added or removed:
            await self.repo.event("ticket.collaborators", {"added": added, "removed": removed}, ticket_id=stored.id,
                                  actor=str(actor), at=moment.now)
        return Done(stored.number, tuple([f"collaborator + {a}" for a in added] + [f"collaborator - {a}"
                                                                                     for a in removed]))

    async def add_cc(self, number: int, contact_ids: Sequence[int], actor: Actor, moment: Moment) -> ActionResult:
        """Customers copied on the ticket: an agent's answers go to them too."""
        stored = await self._stored(number)
        if isinstance(stored, Refused):
            return stored
        added = await self.copy_people(stored.id, contact_ids, actor, moment)
        return Done(stored.number, tuple(f"cc + contact {c}" for c in added))

    async def merge(self, source: int, target: int, actor: Actor, moment: Moment,
                    force: bool = False) -> ActionResult:
        """Merge ticket ``source`` into ``target``: its mail, people and followers move; it closes
        quietly (no rules, no mail) and later mail addressed to it lands on ``target``. Tickets of
        different customers (neither the requester nor the company in common) only with ``force``:
        the one's requester would receive the other's answers."""
        found = await self._mergeable(source, target, force)
        if isinstance(found, Refused):
            return found
        old, new = found
        moved = await self.repo.move_thread(old.id, new.id)
        requester, cc = await self.repo.contact_ids(old.id)
        await self.repo.add_cc(new.id, [requester, *cc])
        await self.repo.add_collaborators(new.id, list(await self.repo.collaborators(old.id)), moment.now)
        await self.repo.update_ticket(old.id, status=TicketStatus.CLOSED.value, status_since=moment.at,
                                      closed_at=moment.at, merged_into=new.number, updated_at=moment.now)
        await self.timers.drop_unfired(old.id)
        data = {"from": old.number, "into": new.number, "messages": moved}
        for ticket_id in (old.id, new.id):
            await self.repo.event("ticket.merged", data, ticket_id=ticket_id, actor=str(actor), at=moment.now)
        return Done(new.number, (f"#{old.number} merged into #{new.number} ({moved} messages moved)",))

    async def split(self, number: int, message_id: int, actor: Actor, moment: Moment) -> ActionResult:
        """One customer mail off its ticket into a new ticket (a second request in the same thread).
        The new ticket starts on the old one's line and team, the rules for a new ticket decide the
        rest, its deadlines count from the mail's date, and later replies to that mail thread to it.
        No one is mailed: the customer was acknowledged when the mail came."""
        stored = await self._stored(number)
        if isinstance(stored, Refused):
            return stored
        source = await self.repo.split_source(stored.id, message_id)
        if source is None:
            return Refused(f"message {message_id} is not a customer mail of #{number} that can stand alone "
                           "(a ticket's only customer mail stays)")
        at = Moment(min(source.date, moment.now), moment.now)
        mail = parse_mail(source.raw)
        result = await self._decide_new(stored, mail, at)
        requester = source.contact_id or (await self.repo.contact_ids(stored.id))[0]
        fields = {"subject": source.subject or "(no subject)", "normalized_subject": normalize_subject(source.subject),
                  "status": TicketStatus.NEW.value, "urgency": "normal", "line": stored.state.line,
                  "team": stored.state.team, "mailbox": stored.mailbox, "company_id": stored.company_id,
                  "requester_id": requester, "created_at": at.at, "updated_at": at.at, "status_since": at.at}
        new = await self.open_ticket(source.sender, fields, result, actor, at, None,
                                     {"split_from": stored.number, "message": message_id})
        await self.repo.move_message(message_id, new.id)
        await self.repo.event("ticket.split", {"message": message_id, "into": new.number}, ticket_id=stored.id,
                              actor=str(actor), at=moment.now)
        return Done(new.number, (f"message {message_id} of #{stored.number} is now #{new.number}",))

    async def _decide_new(self, stored: StoredTicket, mail: ParsedMail, at: Moment) -> RulesResult:
        ruleset = self.rules()
        state = TicketState(line=stored.state.line, team=stored.state.team)
        facts = MailFacts(mail, stored.mailbox, stored.company, stored.tier, state, at.at, ruleset.sla_calendar,
                          created_at=at.at)
        return run_rules(ruleset, "ticket_created", facts, state, stored.tier, at.at, None, None)

    async def merge_refused(self, source: int, target: int) -> Refused | None:
        """Why ``source`` cannot be merged into ``target`` (None: it can), before anything changes."""
        found = await self._mergeable(source, target, force=False)
        return found if isinstance(found, Refused) else None

    async def _mergeable(self, source: int, target: int, force: bool) -> tuple[StoredTicket, StoredTicket] | Refused:
        if source == target:
            return Refused(f"cannot merge #{source} into itself")
        old, new = await self._stored(source), await self._stored(target)
        if isinstance(old, Refused):
            return old
        if isinstance(new, Refused):
            return new
        if not force and not _same_customer(old, new):
            return Refused(f"#{source} and #{target} have different customers (neither the requester nor the "
                           "company in common): merged, the one would receive the other's answers")
        return old, new

    # --- what mail and time do ---------------------------------------------------------------

    async def open_ticket(self, requester: str, fields: dict[str, Any], result: RulesResult | None, actor: Actor,
                          moment: Moment, inbound_id: int | None, data: dict[str, Any]) -> TicketRef:
        """A new ticket from a mail, with what the rules decided; history if the mail is old."""
        columns = {**fields, **ticket_columns(result, moment.at), "history_only": self.is_history(moment)}
        ticket = await self.repo.create_ticket(requester, self.ticket_number_start, **columns)
        await self.repo.event("ticket.created", {"number": ticket.number, **data}, ticket_id=ticket.id,
                              inbound_id=inbound_id, actor=str(actor), at=moment.now)
        await self.writer.record(ticket.id, result, moment.at, inbound_id, now=moment.now)
        return ticket

    async def ticket_opened(self, ticket_id: int, after: TicketState, fired: tuple[tuple[str, Fired], ...],
                            moment: Moment, automated: str = "") -> None:
        """Acknowledge a new ticket and tell its team (after its first message is stored); a ticket
        opened by machine-sent mail (``automated`` says why) is not acknowledged."""
        change = TicketChange("ticket_created", None, after, fired=fired, automated=automated)
        await self.notifier.ticket_changed(ticket_id, change, moment.at, moment.now)

    async def customer_replied(self, ticket: TicketRef, stored: StoredTicket | None, result: RulesResult | None,
                               actor: Actor, moment: Moment, inbound_id: int, written_at: datetime,
                               automated: str = "", reopens: bool | None = None) -> None:
        """A customer's mail on a ticket: it reopens a waiting or finished ticket, makes a history
        ticket live when it is fresh, and what the ``customer_replied`` rules decided is written.
        Mail that must not be answered (``automated`` says why) is answered by no one; it reopens
        nothing either unless ``reopens`` says otherwise (a sender whose forwarder broke DMARC)."""
        reopened = ticket.status in REOPENED_BY_REPLY and (not automated if reopens is None else reopens)
        if reopened:
            await self.repo.event("ticket.reopened", {"from": ticket.status, "to": TicketStatus.OPEN.value},
                                  ticket_id=ticket.id, inbound_id=inbound_id, actor=str(actor), at=moment.now)
        if stored is None or result is None:
            await self.repo.touch_ticket(ticket.id, written_at)
            return
        extra: dict[str, Any] = {}
        if written_at > stored.updated_at:  # moves forward only: mail clocks are often wrong
            extra["updated_at"] = written_at
        if stored.history_only and not self.is_history(moment):
            extra["history_only"] = False  # fresh mail: what the ticket does now may mail people
        await self.apply_rules(stored, result, actor, moment, inbound_id, ticket.status if reopened else "",
                               extra=extra, automated=automated)

    async def copy_people(self, ticket_id: int, contact_ids: Sequence[int], actor: Actor, moment: Moment,
                          inbound_id: int | None = None, announce: bool = True) -> list[int]:
        """Customers copied on a ticket (they get the agents' answers); ``announce``: as an event
        (a new ticket's first people are part of its creation)."""
        added = await self.repo.add_cc(ticket_id, contact_ids)
        if added and announce:
            await self.repo.event("ticket.cc_added", {"contacts": added}, ticket_id=ticket_id, inbound_id=inbound_id,
                                  actor=str(actor), at=moment.now)
        return added

    async def rate(self, ticket_id: int, score: int, source: str, actor: Actor, moment: Moment,
                   comment: str | None = None, inbound_id: int | None = None) -> bool:
        """The customer's satisfaction score (``source``: "reply" or "link"); ``comment`` None keeps an
        earlier one. The same answer again (a double click, a reload, a second mail) records nothing:
        False."""
        before = await self.ratings.score_of(ticket_id)
        if before is not None and before[0] == score and comment in (None, before[1]):
            return False
        await self.ratings.record(ticket_id, score, source, moment.at, comment)
        data: dict[str, Any] = {"score": score, "source": source}
        if comment:
            data["comment"] = comment[:200]
        await self.repo.event("rating.received", data, ticket_id=ticket_id, inbound_id=inbound_id, actor=str(actor),
                              at=moment.now)
        return True

    async def apply_rules(self, stored: StoredTicket, result: RulesResult, actor: Actor, moment: Moment,
                          inbound_id: int | None = None, reopened_from: str = "", sla_target: str = "",
                          extra: dict[str, Any] | None = None, answered: bool = False, automated: str = "") -> None:
        """Write what the rules decided (on a mail, a timer or an agent's change) and notify."""
        columns = changed_columns(stored.state, result, moment.at, stored.dues) | (extra or {})
        if columns:
            await self.repo.update_ticket(stored.id, **columns)
        await self.writer.record(stored.id, result, moment.at, inbound_id, stored, now=moment.now)
        watchers = await self._watchers(stored)
        await self.notifier.ticket_changed(stored.id, TicketChange(
            result.event, stored.state, result.after, reopened_from, result.fired, sla_target, actor.address,
            watchers, answered, automated), moment.at, moment.now)

    def is_history(self, moment: Moment) -> bool:
        """Mail older than ``outbox.max_age_hours``: an archive being imported."""
        return moment.now - moment.at > self.max_age

    async def facts_of(self, stored: StoredTicket, state: TicketState, at: datetime, ruleset: RuleSet,
                       mail: ParsedMail | None = None) -> MailFacts:
        """What conditions see: the mail that caused the change, else the ticket's latest customer mail."""
        if mail is None:
            mail = parse_mail(await self.repo.latest_customer_mail(stored.id) or b"")
        return MailFacts(mail, stored.mailbox, stored.company, stored.tier, state, at, ruleset.sla_calendar,
                         created_at=stored.created_at)

    # --- the steps every action shares -------------------------------------------------------

    async def _stored(self, number: int) -> StoredTicket | Refused:
        stored = await self.repo.stored_ticket(number=number)
        if stored is None:
            return Refused(f"no ticket #{number}")
        if stored.merged_into is not None:
            return Refused(f"ticket #{number} was merged into #{stored.merged_into}")
        return stored

    async def _load(self, number: int, changes: FieldChanges) -> tuple[StoredTicket, TicketState] | Refused:
        stored = await self._stored(number)
        if isinstance(stored, Refused):
            return stored
        ruleset = self.rules()
        problems = changes.problems(ruleset)
        if problems:
            return Refused("; ".join(problems))
        return stored, changes.applied(stored.state, ruleset)

    async def _decide(self, stored: StoredTicket, event: str, wanted: TicketState, moment: Moment,
                      mail: ParsedMail | None = None) -> RulesResult:
        """The rules for ``event`` (none listen to ``agent_changed``), then ``status_changed`` if the
        status moved from the stored one; the SLA policy follows the ticket's company, always."""
        ruleset = self.rules()
        facts = await self.facts_of(stored, wanted, moment.at, ruleset, mail)
        return run_rules(ruleset, event, facts, wanted, stored.tier, moment.at, stored.sla(), stored.state.status)

    async def _write(self, stored: StoredTicket, wanted: TicketState, result: RulesResult, actor: Actor,
                     moment: Moment, inbound_id: int | None, answered: bool = False) -> tuple[str, ...]:
        """An agent's change: what they asked for as an event, then what came of it. A history
        ticket stays quiet whatever is set on it (a clean-up of an imported archive must mail no
        one); only an answer to its customer, or their fresh mail, makes it live."""
        asked = _diff(stored.state, wanted)
        if asked:
            await self.repo.event("ticket.changed", {"changes": asked}, ticket_id=stored.id,
                                  inbound_id=inbound_id, actor=str(actor), at=moment.now)
        await self.apply_rules(stored, result, actor, moment, inbound_id,
                               extra={"updated_at": max(moment.now, stored.updated_at)}, answered=answered)
        return tuple(f"{c['field']}: {c['old']} → {c['new']}" for c in _diff(stored.state, result.after))

    async def _undeliverable(self, stored: StoredTicket, moment: Moment) -> Refused | None:
        """An answer that cannot go out is refused before anything changes (it meets no deadline),
        except on a history ticket: an archive's answers are its story, recorded and not sent."""
        if stored.history_only:
            return None
        reason = self.notifier.answer_refused(stored.requester, moment.at, moment.now)
        return Refused(f"the answer cannot go to {stored.requester}: {reason}") if reason else None

    async def _watchers(self, stored: StoredTicket) -> tuple[str, ...]:
        return await self.repo.collaborators(stored.id) if stored.followed else ()

    async def _make_live(self, stored: StoredTicket, moment: Moment) -> None:
        if stored.history_only and not self.is_history(moment):  # before the answer is queued: it must go out
            await self.repo.update_ticket(stored.id, history_only=False)

    async def _note_message(self, stored: StoredTicket, text: str, actor: Actor, moment: Moment) -> None:
        domain = actor.address.partition("@")[2] or "localhost"
        await self.repo.add_message(
            [], ticket_id=stored.id, inbound_id=None, message_id=self.signer.message_id(stored.number, domain),
            fingerprint="", in_reply_to=[], references=[], direction=Direction.OUTBOUND.value,
            visibility=Visibility.INTERNAL.value, from_name="", from_addr=actor.address, to=[], cc=[],
            subject="", date=moment.now, text=text, reply_text=text, html="", html_sanitized="",
            flags={"note": True}, thread_signal="")

    async def _tell_about_note(self, stored: StoredTicket, text: str, actor: Actor, moment: Moment,
                               answer_needed: bool) -> None:
        ruleset = self.rules()
        author = ruleset.agent(actor.address)
        note = {"author": author.display if author else actor.address, "text": text}
        mentioned = tuple(a for a in mentions(text, ruleset) if a != actor.address)
        if mentioned:
            await self.notifier.tell_agents(stored.id, Notice("agent_mention", "agent", mentioned, {"note": note}),
                                            moment.at, moment.now)
        if answer_needed:
            below = answering_teams(ruleset, actor.address)
            if below:
                await self.notifier.tell_agents(stored.id, Notice("agent_answer_needed", "agent", below,
                                                                  {"note": note}), moment.at, moment.now)


def mentions(text: str, ruleset: RuleSet) -> list[str]:
    """Agents named ``@anna``, ``@anna@example.com`` or by first name in ``text``."""
    by_name: dict[str, str] = {}
    for agent in ruleset.agents.values():
        by_name.setdefault(agent.email, agent.email)
        by_name.setdefault(agent.email.partition("@")[0], agent.email)
        if agent.name:
            by_name.setdefault(agent.name.split()[0].lower(), agent.email)
    found = [by_name.get(m.group(1).lower().rstrip(".")) for m in _MENTION.finditer(text[:20_000])]
    return list(dict.fromkeys(a for a in found if a))


def answering_teams(ruleset: RuleSet, agent: str) -> tuple[str, ...]:
    """Where a note from a line that does not write to customers goes: the teams of the nearest
    line below the agent's that does (their address, else their members)."""
    lines = ruleset.agent_lines(agent) or {4}
    below = [n for n in sorted(ruleset.lines, reverse=True) if n < min(lines) and ruleset.lines[n].writes_to_customers]
    for line in below:
        teams = [t for t in ruleset.teams.values() if t.line == line]
        recipients = [r for t in teams for r in ((t.address,) if t.address else t.members)]
        if recipients:
            return tuple(dict.fromkeys(recipients))
    return ()


def _same_customer(one: StoredTicket, two: StoredTicket) -> bool:
    """The same requester, or the same company."""
    return one.requester == two.requester or (one.company_id is not None and one.company_id == two.company_id)


def _diff(before: TicketState, after: TicketState) -> list[dict[str, Any]]:
    changes = []
    for name in ("status", "urgency", "line", "team", "assignee"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            changes.append({"field": name, "old": old, "new": new})
    if before.tags != after.tags:
        changes.append({"field": "tags", "old": sorted(before.tags), "new": sorted(after.tags)})
    return changes
