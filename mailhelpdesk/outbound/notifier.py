"""From a change of a ticket to rows in the outbox, in the transaction of the change.

Plans the mails (``planner``), checks each against the storm brakes (``guard``), renders it in
the recipient's language, composes it with our threading identities (signed Message-ID,
In-Reply-To/References of the thread, signed Reply-To, the ``[#N]`` token) and queues it.
A mail that cannot go out is still recorded, with the reason, on its ticket.
"""

import hashlib
import html
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mailhelpdesk.config import MailboxSettings, Settings
from mailhelpdesk.domain.types import Direction, Visibility
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.mail.html_text import sanitize_html
from mailhelpdesk.mail.parse import SYNTHESIZED_DOMAIN
from mailhelpdesk.mail.subjects import has_reply_prefix
from mailhelpdesk.outbound.closing import Closing, close_time
from mailhelpdesk.outbound.compose import compose, usable_message_id
from mailhelpdesk.outbound.context import ContextBuilder, Moments
from mailhelpdesk.outbound.draft import AutoSubmitted, Draft, OutboundFile
from mailhelpdesk.outbound.guard import Guard, Verdict, refused_address
from mailhelpdesk.outbound.planner import Audience, Notice, TicketChange, plan
from mailhelpdesk.outbound.templates import Rendered, RenderFailure, Templates
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.mail_view import Person, TicketView, cc_people, ticket_view
from mailhelpdesk.store.outbox import FAILED, HELD, QUEUED, SUPPRESSED, OutboxEntry, OutboxStore
from mailhelpdesk.store.repository import Repository
from mailhelpdesk.store.sql import Sql

log = logging.getLogger(__name__)
_ANSWERS_MAIL = ("ticket_created", "customer_replied")  # the customer's mail caused it: auto-replied


@dataclass(frozen=True, slots=True)
class Answer:
    """An agent's answer to the customer: the text as it goes out, and the files that go along."""

    agent: str  # who wrote it: recorded, never shown to the customer
    text: str
    attachments: tuple[OutboundFile, ...] = ()


@dataclass(frozen=True, slots=True)
class _Mail:
    """One notice to one recipient, about one ticket, for one change."""

    view: TicketView
    notice: Notice
    recipient: str
    box: MailboxSettings
    cause: str
    at: datetime  # the wall clock: the outbox, the rate limits and the Date header run on it
    acted: datetime | None = None  # the clock of the change (``timers --at``, replay): events carry it


@dataclass(frozen=True, slots=True)
class Notifier:
    settings: Settings
    repo: Repository
    store: OutboxStore
    guard: Guard
    templates: Templates
    contexts: ContextBuilder
    closing: Closing
    signer: Signer
    rules: Callable[[], RuleSet]
    clock: Callable[[], datetime]

    async def ticket_changed(self, ticket_id: int, change: TicketChange, at: datetime,
                             now: datetime | None = None) -> int:
        """Queue the mails ``change`` (which happened ``at``, acted on at ``now``) calls for; returns
        how many will go out."""
        ruleset = self.rules()
        moments = await self.closing.follow(ticket_id, change, ruleset, at)
        now = now or self.clock()
        notices = plan(change, ruleset)
        if change.automated:
            notices = await self._to_agents_only(ticket_id, notices, change, now)
        return await self._send(ticket_id, notices, change.event, moments, at, now)

    async def _to_agents_only(self, ticket_id: int, notices: list[Notice], change: TicketChange,
                              now: datetime) -> list[Notice]:
        """Machine-sent mail gets no answer (mail storms between two robots start so): the customer's
        notices are recorded on the ticket as not sent; the agents still hear of the mail."""
        held = [n for n in notices if n.audience == "customer"]
        if held:
            await self.repo.events([("mail.suppressed", {"template": n.template, "to": "the requester",
                                                         "on": change.event, "reason": change.automated})
                                    for n in held], ticket_id=ticket_id, at=now)
        return [n for n in notices if n.audience != "customer"]

    async def tell_agents(self, ticket_id: int, notice: Notice, at: datetime, now: datetime) -> int:
        """One notice to agents that no change of fields causes (a mention, a failed command)."""
        return await self._send(ticket_id, [notice], notice.template, Moments(), at, now)

    async def _send(self, ticket_id: int, notices: list[Notice], cause: str, moments: Moments, at: datetime,
                    now: datetime) -> int:
        if not notices:
            return 0
        stale = self._stale(at, now)  # known without the ticket: an import's mail loads nothing more
        view = await ticket_view(Sql(), ticket_id) if stale is None else None
        quiet = stale or (self._history(view) if view is not None else None)
        if quiet is not None:  # an import: the events say what was not sent, the outbox stays clean
            await self.repo.events([("mail.suppressed", {"template": n.template, "to": list(n.to) or "the requester",
                                                         "on": cause, "reason": quiet.reason}) for n in notices],
                                   ticket_id=ticket_id, at=now)
            return 0
        if view is None:
            return 0
        box = self._mailbox(view.mailbox)
        mails = [_Mail(view, notice, recipient.lower(), box, cause, self.clock(), now) for notice in notices
                 for recipient in notice.to or ((view.requester.email,) if notice.audience == "customer" else ())]
        moments = replace(moments, now=now)
        ruleset = self.rules()
        return sum([await self._queue(mail, ruleset, moments) for mail in mails])

    async def relay(self, ticket_id: int, answer: Answer, at: datetime, now: datetime) -> int:
        """Send an agent's answer to the customer and cc from the mailbox; the outbox id (0: not sent)."""
        view = await ticket_view(Sql(), ticket_id)
        if view is None:
            return 0
        box = self._mailbox(view.mailbox)
        notice = Notice("agent_reply", "customer", ())
        mail = _Mail(view, notice, view.requester.email.lower(), box, "agent_replied", self.clock(), now)
        history = self._history(view)
        reason = history.reason if history is not None else self.answer_refused(mail.recipient, at, now)
        if reason:  # an imported archive's answer is its story: recorded, not sent
            await self._record(mail, b"", "", "", SUPPRESSED, reason, "mail.suppressed", automatic=False,
                               actor=answer.agent)
            return 0
        cc = await self._answer_cc(ticket_id, view)
        draft = replace(self._draft(mail, Rendered("agent_reply", "", _answer_subject(view), answer.text,
                                                   _text_html(answer.text))),
                        auto_submitted="", cc=tuple((p.name, p.email) for p in cc), attachments=answer.attachments)
        raw = compose(draft)
        outbox_id = await self._record(mail, raw, draft.message_id, "", QUEUED, "", "mail.queued", draft.subject,
                                       cc=tuple(p.email for p in cc), automatic=False, actor=answer.agent)
        await self._thread_message(mail, draft, Rendered("agent_reply", "", draft.subject, answer.text, draft.html),
                                   raw, outbox_id, {"agent": answer.agent})
        return outbox_id

    def answer_refused(self, requester: str, at: datetime, now: datetime) -> str:
        """Why an agent's answer written ``at`` cannot go to ``requester`` ('' if it can)."""
        stale = self._stale(at, now)
        return stale.reason if stale is not None else refused_address(requester, self.guard.ours)

    async def _answer_cc(self, ticket_id: int, view: TicketView) -> list[Person]:
        """The ticket's cc contacts we may write to (never an agent, never one of our addresses)."""
        ruleset = self.rules()
        return [p for p in await cc_people(Sql(), ticket_id)
                if p.email != view.requester.email and not ruleset.is_agent(p.email)
                and not refused_address(p.email, self.guard.ours)]

    async def customer_language(self, ticket_id: int) -> str:
        """The language the ticket's customer is written to in (contact → company → mailbox → default)."""
        view = await ticket_view(Sql(), ticket_id)
        if view is None:
            return self.settings.default_language
        return next(w for w in self._languages(view, self._mailbox(view.mailbox), "customer") if w)

    async def preview(self, ticket_id: int, template: str,
                      language: str | None = None) -> Rendered | RenderFailure | None:
        """The mail ``template`` would be for this ticket now (its requester, or an agent); None: no ticket."""
        view = await ticket_view(Sql(), ticket_id)
        if view is None:
            return None
        audience: Audience = "agent" if template.startswith("agent_") else "customer"
        notice = Notice(template, audience, (), {"sla_target": "first_response"})
        recipient = view.requester.email if notice.audience == "customer" else view.assignee or "agent@localhost"
        mail = _Mail(view, notice, recipient, self._mailbox(view.mailbox), "preview", self.clock())
        chosen = language or self._language(mail)
        if chosen is None:
            return RenderFailure(template, language or "", f"no template {template!r} in any language")
        ruleset = self.rules()
        return self.templates.render(template, chosen, self.contexts.build(
            view, notice, recipient, chosen, mail.box, ruleset, Moments(close_time(ruleset, self.clock()))))

    def _stale(self, at: datetime, now: datetime) -> Verdict | None:
        """Old mail (an archive being imported) must not mail its senders years later, neither
        at once nor, through its ticket (``_history``), by what that fires later."""
        hours = self.settings.outbox.max_age_hours
        if now - at > timedelta(hours=hours):
            return Verdict("suppress", f"caused by mail of {at:%Y-%m-%d %H:%M} UTC, older than {hours} hours")
        return None

    def _history(self, view: TicketView) -> Verdict | None:
        if not view.history_only:
            return None
        return Verdict("suppress", f"the ticket was made from mail older than {self.settings.outbox.max_age_hours}"
                                   " hours and nothing new has come since")

    async def _queue(self, mail: _Mail, ruleset: RuleSet, moments: Moments) -> int:
        verdict = await self.guard.check(mail.recipient, mail.view.id, mail.at, mail.notice.audience)
        if verdict.tripped:
            await self._alert(verdict, mail)
        if verdict.decision == "suppress":
            await self._record(mail, b"", "", "", SUPPRESSED, verdict.reason, "mail.suppressed")
            return 0
        language = self._language(mail)
        if language is None:
            await self._record(mail, b"", "", "", FAILED, f"no template {mail.notice.template!r} in any language",
                               "mail.failed")
            return 0
        rendered = self.templates.render(mail.notice.template, language,
                                         self.contexts.build(mail.view, mail.notice, mail.recipient, language,
                                                             mail.box, ruleset, moments))
        if isinstance(rendered, RenderFailure):
            await self._record(mail, b"", "", language, FAILED, f"template error: {rendered.error}", "mail.failed")
            return 0
        return await self._compose_and_add(mail, rendered, verdict)

    async def _compose_and_add(self, mail: _Mail, rendered: Rendered, verdict: Verdict) -> int:
        draft = self._draft(mail, rendered)
        try:
            raw = compose(draft)
        except ValueError as exc:  # a misconfigured mailbox address, say: recorded, not raised
            await self._record(mail, b"", "", rendered.language, FAILED, f"cannot compose: {exc}", "mail.failed")
            return 0
        status, kind = (HELD, "mail.held") if verdict.decision == "hold" else (QUEUED, "mail.queued")
        outbox_id = await self._record(mail, raw, draft.message_id, rendered.language, status, verdict.reason, kind,
                                       draft.subject)
        if mail.notice.audience == "customer":
            await self._thread_message(mail, draft, rendered, raw, outbox_id)
        return 1 if status == QUEUED else 0

    def _draft(self, mail: _Mail, rendered: Rendered) -> Draft:
        view, box = mail.view, mail.box
        token = f"[#{view.number}]"
        subject = rendered.subject if token in rendered.subject else f"{rendered.subject} {token}".strip()
        domain = box.address.partition("@")[2] or "localhost"
        name = view.requester.name if mail.recipient == view.requester.email else ""
        answers = mail.notice.audience == "customer" and mail.cause in _ANSWERS_MAIL
        automatic: AutoSubmitted = "auto-replied" if answers else "auto-generated"
        return Draft(
            from_name=box.display_name or box.name, from_addr=box.address, to=((name, mail.recipient),),
            subject=subject, text=rendered.text, html=rendered.html,
            message_id=self.signer.message_id(view.number, domain), date=mail.at,
            in_reply_to=view.last_customer_id if _referable(view.last_customer_id) else "",
            references=tuple(m for m in view.thread if _referable(m)),
            reply_to=self._reply_to(mail), auto_submitted=automatic,
            loop_token=self.settings.loop_token, language=rendered.language)

    def _reply_to(self, mail: _Mail) -> str:
        """Customers answer to the ticket's signed address; each agent to their own, which proves
        that a reply to it comes from someone who got this mail."""
        if mail.notice.audience == "agent":
            return self.signer.agent_reply_address(mail.box.address, mail.view.number, mail.recipient)
        return self.signer.reply_address(mail.box.address, mail.view.number)

    def _language(self, mail: _Mail) -> str | None:
        """The first wanted language the template exists in."""
        return self.templates.language_for(mail.notice.template,
                                           self._languages(mail.view, mail.box, mail.notice.audience))

    def _languages(self, view: TicketView, box: MailboxSettings, audience: str) -> list[str]:
        """Customers: contact → company → mailbox → default; agents: the desk's default ('' = not set)."""
        theirs = [view.requester.language, view.company.language, box.language] if audience == "customer" else []
        return [*theirs, self.settings.default_language, "en"]

    async def _record(self, mail: _Mail, raw: bytes, message_id: str, language: str, status: str, reason: str,
                      kind: str, subject: str = "", *, cc: tuple[str, ...] = (), automatic: bool = True,
                      actor: str = "") -> int:
        entry = OutboxEntry(
            mail.view.id, mail.notice.template, mail.notice.audience, automatic, mail.cause, mail.box.name,
            mail.box.address, mail.recipient, message_id or f"not-sent.{secrets.token_hex(12)}", subject, language, raw,
            status, reason, cc)
        outbox_id = await self.store.add(entry, mail.at)
        data: dict[str, Any] = {"template": mail.notice.template, "to": mail.recipient, "outbox": outbox_id,
                                "on": mail.cause}
        if cc:
            data["cc"] = list(cc)
        if mail.notice.requested_by:
            data["rule"] = mail.notice.requested_by
        await self.repo.event(kind, data | ({"reason": reason} if reason else {}), ticket_id=mail.view.id,
                              actor=f"agent:{actor}" if actor else "system", at=mail.acted or mail.at)
        return outbox_id

    async def _thread_message(self, mail: _Mail, draft: Draft, rendered: Rendered, raw: bytes,
                              outbox_id: int, flags: dict[str, Any] | None = None) -> None:
        """Our mail becomes part of the ticket's thread, as the customer will see it."""
        await self.repo.add_message(
            [], ticket_id=mail.view.id, inbound_id=None, message_id=draft.message_id,
            fingerprint=hashlib.sha256(raw).hexdigest(), in_reply_to=[draft.in_reply_to] if draft.in_reply_to else [],
            references=list(draft.references), direction=Direction.OUTBOUND.value,
            visibility=Visibility.PUBLIC.value, from_name=draft.from_name[:200], from_addr=draft.from_addr,
            to=[list(a) for a in draft.to], cc=[list(a) for a in draft.cc], subject=draft.subject, date=mail.at,
            text=rendered.text, reply_text=rendered.text, html=rendered.html,
            html_sanitized=sanitize_html(rendered.html), thread_signal="",
            flags={"template": rendered.name, "outbox": outbox_id, "automatic": not flags, **(flags or {})})

    async def _alert(self, verdict: Verdict, mail: _Mail) -> None:
        log.error("outbox breaker tripped: %s; automatic mail is held until `mailhelpdesk outbox resume`",
                  verdict.reason)
        await self.repo.event("outbox.breaker_tripped", {"reason": verdict.reason, "template": mail.notice.template,
                                                         "to": mail.recipient}, ticket_id=mail.view.id)

    def _mailbox(self, name: str) -> MailboxSettings:
        try:
            return self.settings.mailbox(name)
        except ConfigError:  # the mailbox left the configuration: answer from the default one
            return self.settings.mailbox(self.settings.default_mailbox)


def _answer_subject(view: TicketView) -> str:
    subject = view.subject if has_reply_prefix(view.subject) else f"Re: {view.subject}"
    return f"{subject} [#{view.number}]"


def _text_html(text: str) -> str:
    """The HTML part of an answer written as plain text: the same words, escaped, lines kept."""
    return f"<div>{html.escape(text).replace(chr(10), '<br>' + chr(10))}</div>"


def _referable(message_id: str) -> bool:
    """An ID the customer's mail client knows (not one we made up for a mail without one)."""
    return usable_message_id(message_id) and not message_id.endswith(f"@{SYNTHESIZED_DOMAIN}")
