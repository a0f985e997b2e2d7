"""The admin pages: the loaded rules, quarantine, the outbox, the ingest backlog.

Every route, GET and POST, is for admins only (``admins_only``). An action runs the command
line's own function (``commands/quarantine.py``, ``commands/outbox.py``) with the admin as its
actor, then answers ``303`` back to its page with a one-line result. The result travels in the
query string signed, so a link made elsewhere cannot put words on an admin page.
"""

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.outbox import resume_held, retry_failed
from mailhelpdesk.commands.quarantine import discard, replay
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import ProcessResult
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.store.models import Inbound, Ticket
from mailhelpdesk.store.outbox import FAILED, HELD, OutboxRow
from mailhelpdesk.tickets.actor import Actor
from mailhelpdesk.web.auth import admins_only
from mailhelpdesk.web.pages import page, user_of

SHOWN = 200  # rows per list: enough to act on; the command line lists them all
_NOTICE_MAX = 300


@dataclass(frozen=True, slots=True)
class RulesView:
    """The rules in force and the rules file on disk now, which differ after a refused edit."""

    path: Path | None
    in_force: str  # the summary of the rules in force
    sources: tuple[str, ...]  # the files they were read from
    digest: str  # SHA-256 of the file on disk ('' when unreadable)
    modified: datetime | None  # when the file on disk last changed
    problems: tuple[str, ...]  # of the file on disk, each ``file:line:column: message``; () when valid
    reload_every: int  # seconds between a running serve's looks at the file; 0 = never
    loaded_at: datetime | None = None  # when the rules in force were read
    version: str = ""  # the start of the SHA-256 of the file they were read from
    refused_at: datetime | None = None  # the last reload that was refused (None: none since the last good one)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int  # accepted, not processed yet
    oldest: datetime | None  # the oldest of those, when accepted
    age: str  # how long it has waited, e.g. "3 min"
    by_state: dict[str, int]


@dataclass(frozen=True, slots=True)
class OutboxView:
    rows: list[OutboxRow]  # failed and held, newest first
    numbers: dict[int, int]  # ticket id → number, for the links
    breaker: str  # why the breaker is tripped ('' when mail flows)
    counts: dict[str, int]  # by status


@dataclass(frozen=True, slots=True)
class Admin:
    runtime: Runtime
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        return [*self._pages(), *self._quarantine_actions(), *self._outbox_actions()]

    def _pages(self) -> list[AnyCallable]:
        admin = self

        @get("/admin", guards=[admins_only])
        async def overview(request: Request[Any, Any, Any]) -> Template:
            return page("admin.html.j2", request, rules=await admin.rules_view(), backlog=await backlog(admin.clock()),
                        outbox=await admin.outbox_view(limit=0))

        @get("/admin/rules", guards=[admins_only])
        async def rules_page(request: Request[Any, Any, Any]) -> Template:
            return page("admin_rules.html.j2", request, rules=await admin.rules_view())

        @get("/admin/quarantine", guards=[admins_only])
        async def quarantine_page(request: Request[Any, Any, Any], done: FromQuery[str] = "",
                                  sig: FromQuery[str] = "") -> Template:
            rows = await admin.runtime.repo.inbound_list([InboundState.QUARANTINED])
            return page("admin_quarantine.html.j2", request, rows=rows[:SHOWN], total=len(rows),
                        notice=admin.notice(done, sig))

        @get("/admin/outbox", guards=[admins_only])
        async def outbox_page(request: Request[Any, Any, Any], done: FromQuery[str] = "",
                              sig: FromQuery[str] = "") -> Template:
            return page("admin_outbox.html.j2", request, outbox=await admin.outbox_view(SHOWN),
                        notice=admin.notice(done, sig))

        return [overview, rules_page, quarantine_page, outbox_page]

    def _quarantine_actions(self) -> list[AnyCallable]:
        admin = self

        @post("/admin/quarantine/{inbound_id:int}/replay", guards=[admins_only], status_code=303)
        async def replay_one(request: Request[Any, Any, Any], inbound_id: FromPath[int]) -> Redirect:
            results = await replay(admin.runtime, [inbound_id], actor_of(request))
            return admin.back("/admin/quarantine", replayed(inbound_id, results))

        @post("/admin/quarantine/{inbound_id:int}/discard", guards=[admins_only], status_code=303)
        async def discard_one(request: Request[Any, Any, Any], inbound_id: FromPath[int]) -> Redirect:
            done = await discard(admin.runtime.repo, [inbound_id], actor_of(request), admin.clock())
            text = f"Message {inbound_id} discarded." if done else f"Message {inbound_id} is not in quarantine."
            return admin.back("/admin/quarantine", text)

        return [replay_one, discard_one]

    def _outbox_actions(self) -> list[AnyCallable]:
        admin = self

        @post("/admin/outbox/{outbox_id:int}/retry", guards=[admins_only], status_code=303)
        async def retry_one(request: Request[Any, Any, Any], outbox_id: FromPath[int]) -> Redirect:
            queued = await retry_failed(admin.runtime, [outbox_id], actor_of(request), admin.clock())
            text = f"Mail {outbox_id} queued again." if queued else f"Mail {outbox_id} has not failed: nothing changed."
            return admin.back("/admin/outbox", text)

        @post("/admin/outbox/resume", guards=[admins_only], status_code=303)
        async def resume(request: Request[Any, Any, Any]) -> Redirect:
            held = await resume_held(admin.runtime, False, actor_of(request), admin.clock())
            return admin.back("/admin/outbox", f"Automatic mail flows again; {held} held mail(s) queued.")

        @post("/admin/outbox/discard-held", guards=[admins_only], status_code=303)
        async def discard_held(request: Request[Any, Any, Any]) -> Redirect:
            held = await resume_held(admin.runtime, True, actor_of(request), admin.clock())
            return admin.back("/admin/outbox", f"Automatic mail flows again; {held} held mail(s) discarded.")

        return [retry_one, resume, discard_held]

    # --- what the pages show ---------------------------------------------------------------------

    async def rules_view(self) -> RulesView:
        ruleset = self.runtime.rules()
        settings = self.runtime.settings
        # Reading and checking the file is blocking work: off the loop that also receives SMTP.
        view = await asyncio.to_thread(rules_view, ruleset, settings.rules_file, settings.templates_dir,
                                       settings.rules_reload_interval)
        holder = self.runtime.rules
        return replace(view, loaded_at=holder.loaded_at, version=holder.version, refused_at=holder.refused_at)

    async def outbox_view(self, limit: int) -> OutboxView:
        store = self.runtime.outbox
        rows = await store.listing([FAILED, HELD], None, limit) if limit else []
        ids = {r.ticket_id for r in rows if r.ticket_id is not None}
        pairs = await Ticket.filter(id__in=ids).values_list("id", "number") if ids else []
        return OutboxView(rows, {int(i): int(n) for i, n in pairs}, await store.breaker_tripped(),
                          await store.counts())

    # --- the result of an action, carried to the page it returns to -----------------------------

    def back(self, path: str, text: str) -> Redirect:
        text = text[:_NOTICE_MAX]
        return Redirect(f"{path}?{urlencode({'done': text, 'sig': self._sign(text)})}", status_code=303)

    def notice(self, done: str, sig: str) -> str:
        """The result to show: only one this panel made (the signature), else nothing."""
        return done if done and hmac.compare_digest(sig, self._sign(done)) else ""

    def _sign(self, text: str) -> str:
        key = self.runtime.signer.key_for("admin-notice").encode()
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def actor_of(request: Request[Any, Any, Any]) -> Actor:
    """The admin acting, as events name them (``agent:anna@example.com``)."""
    return Actor.agent(user_of(request).email)


def replayed(inbound_id: int, results: list[ProcessResult]) -> str:
    if not results:
        return f"Message {inbound_id} is not in quarantine."
    result = results[0]
    if result.state is InboundState.INGESTED:
        return f"Message {inbound_id} replayed: ticket #{result.ticket_number}."
    if result.state is InboundState.QUARANTINED:
        return f"Message {inbound_id} is still quarantined: {result.reason}."
    return f"Message {inbound_id} replayed: {result.state.value} ({result.reason})."


def rules_view(ruleset: RuleSet, path: Path | None, templates_dir: Path | None, reload_every: int) -> RulesView:
    """What is in force, and the file on disk checked now as ``rules check`` checks it.

    The rules holder keeps the last good rules when an edit is refused, so problems found on
    disk are exactly those of the refused reload while the rules in force stay the old ones.
    """
    sources = tuple(str(p) for p in ruleset.sources)
    if path is None:
        return RulesView(None, ruleset.summary(), sources, "", None, (), reload_every)
    try:
        raw, modified = path.read_bytes(), datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        raw, modified = None, None
    problems = tuple(str(p) for p in load_rules(path, templates_dir).problems)
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else ""
    return RulesView(path, ruleset.summary(), sources, digest, modified, problems, reload_every)


async def backlog(now: datetime) -> Backlog:
    counts = {s.value: await Inbound.filter(state=s.value).count() for s in InboundState}
    oldest = await Inbound.filter(state=InboundState.ACCEPTED.value).order_by("accepted_at").only(
        "id", "accepted_at").first()
    when = oldest.accepted_at if oldest is not None else None
    return Backlog(counts[InboundState.ACCEPTED.value], when, age(now - when) if when else "", counts)


def age(span: timedelta) -> str:
    """A waiting time to read at a glance: "40 s", "3 min", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"
