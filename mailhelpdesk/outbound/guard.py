"""Whether an automatic mail may go out: the storm brakes.

Checked when a mail is queued, in the transaction that queues it. An address that never reads
mail (``noreply``, ``mailer-daemon`` …) or is our own is refused; rate limits per recipient, per
ticket and per recipient domain suppress the excess; a global breaker, once tripped, holds every
automatic mail until an admin looks (``mailhelpdesk outbox resume``). Every refusal is recorded
with its reason.

The limits come before the breaker, and suppressed mail is not counted by it: a few hundred
mails with forged senders of one domain are stopped at that domain's limit, so they can neither
trip the breaker nor fill what it holds, and every other customer is still acknowledged.
Free-mail domains (gmail.com …) are shared by unrelated people and have no domain limit; their
addresses keep the per-recipient one. Mail to agents has none either: their domain is ours.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mailhelpdesk.addresses import is_ours
from mailhelpdesk.companies.domains import FreemailList, domain_of
from mailhelpdesk.config import OutboxSettings
from mailhelpdesk.outbound.compose import usable_address
from mailhelpdesk.outbound.planner import Audience
from mailhelpdesk.store.outbox import OutboxStore

_MACHINE_LOCAL = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|listserv|majordomo"
    r"|auto[-_.]?reply|autoresponder)(?:[-_.+].*)?$")
_VALID = re.compile(r"^[^\s<>,;\"()\[\]\\@]+@[^\s<>,;\"()\[\]\\@]+\.[^\s<>,;\"()\[\]\\@]+$")
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Literal["send", "suppress", "hold"]
    reason: str = ""
    tripped: bool = False  # this very mail tripped the breaker: raise the alert


SEND = Verdict("send")
NO_FREEMAIL = FreemailList(frozenset(), frozenset())


@dataclass(frozen=True, slots=True)
class Recent:
    """Automatic mails of the last hour that a new one would join."""

    recipient: int
    ticket: int = 0
    domain: int | None = None  # None: the domain has no limit (free mail, an agent's)


def refused_address(address: str, ours: frozenset[str]) -> str:
    """Why no automatic mail may go to ``address`` ('' if it may)."""
    if not _VALID.match(address) or not usable_address(address):
        return f"not an address we can send to: {address!r}"
    if is_ours(address, ours):
        return f"{address} is one of our own addresses"
    if _MACHINE_LOCAL.match(address.partition("@")[0].lower()):
        return f"{address} is a machine address that reads no mail"
    return ""


def rate_limited(recipient: str, recent: Recent, limits: OutboxSettings) -> str:
    """Which hourly limit one more automatic mail to ``recipient`` would exceed ('' if none)."""
    if recent.recipient >= limits.per_recipient_hourly:
        return f"rate limit: {limits.per_recipient_hourly} automatic mails an hour to {recipient}"
    if recent.ticket >= limits.per_ticket_hourly:
        return f"rate limit: {limits.per_ticket_hourly} automatic mails an hour about this ticket"
    if recent.domain is not None and recent.domain >= limits.per_domain_hourly:
        return (f"rate limit: {limits.per_domain_hourly} automatic mails an hour to addresses at "
                f"{domain_of(recipient)}")
    return ""


@dataclass(frozen=True, slots=True)
class Guard:
    store: OutboxStore
    limits: OutboxSettings
    ours: frozenset[str]
    freemail: FreemailList = NO_FREEMAIL  # domains without a domain limit

    async def check(self, recipient: str, ticket_id: int | None, now: datetime,
                    audience: Audience = "customer") -> Verdict:
        refused = refused_address(recipient, self.ours)
        if refused:
            return Verdict("suppress", refused)
        # The limits before the tripped breaker: mail over a limit is suppressed even then, so
        # what the breaker holds for an admin to release is not a storm's excess.
        limited = rate_limited(recipient, await self._recent(recipient, ticket_id, now, audience), self.limits)
        if limited:
            return Verdict("suppress", limited)
        if await self.store.breaker_tripped():
            return Verdict("hold", "the outbox breaker is tripped")
        return await self._breaker(now)

    async def _recent(self, recipient: str, ticket_id: int | None, now: datetime, audience: Audience) -> Recent:
        domain = domain_of(recipient)
        capped = audience == "customer" and not self.freemail.contains(domain)
        return Recent(
            await self.store.recent(now, _HOUR, recipient=recipient),
            await self.store.recent(now, _HOUR, ticket_id=ticket_id) if ticket_id is not None else 0,
            await self.store.recent(now, _HOUR, domain=domain) if capped else None)

    async def _breaker(self, now: datetime) -> Verdict:
        window = timedelta(minutes=self.limits.breaker_minutes)
        # Mail from before the admin's resume was already looked at: counting it would trip again at once.
        since = await self.store.breaker_resumed_at()
        if await self.store.recent(now, window, since=since) < self.limits.breaker_limit:
            return SEND
        reason = (f"{self.limits.breaker_limit} automatic mails in {self.limits.breaker_minutes} minutes: "
                  "automatic mail paused")
        return Verdict("hold", reason, await self.store.trip_breaker(reason, now))
