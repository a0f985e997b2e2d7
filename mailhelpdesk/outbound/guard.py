"""Whether an automatic mail may go out: the storm brakes.

Checked when a mail is queued, in the transaction that queues it. An address that never reads
mail (``noreply``, ``mailer-daemon`` …) or is our own is refused; rate limits per recipient and
per ticket suppress the excess; a global breaker, once tripped, holds every automatic mail
until an admin looks (``mailhelpdesk outbox resume``). Every refusal is recorded with its reason.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mailhelpdesk.addresses import is_ours
from mailhelpdesk.config import OutboxSettings
from mailhelpdesk.outbound.compose import usable_address
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


def refused_address(address: str, ours: frozenset[str]) -> str:
    """Why no automatic mail may go to ``address`` ('' if it may)."""
    if not _VALID.match(address) or not usable_address(address):
        return f"not an address we can send to: {address!r}"
    if is_ours(address, ours):
        return f"{address} is one of our own addresses"
    if _MACHINE_LOCAL.match(address.partition("@")[0].lower()):
        return f"{address} is a machine address that reads no mail"
    return ""


@dataclass(frozen=True, slots=True)
class Guard:
    store: OutboxStore
    limits: OutboxSettings
    ours: frozenset[str]

    async def check(self, recipient: str, ticket_id: int | None, now: datetime) -> Verdict:
        refused = refused_address(recipient, self.ours)
        if refused:
            return Verdict("suppress", refused)
        if await self.store.breaker_tripped():
            return Verdict("hold", "the outbox breaker is tripped")
        if await self.store.recent(now, _HOUR, recipient=recipient) >= self.limits.per_recipient_hourly:
            return Verdict("suppress", f"rate limit: {self.limits.per_recipient_hourly} automatic mails an hour "
                                       f"to {recipient}")
        if ticket_id is not None and await self.store.recent(now, _HOUR, ticket_id=ticket_id) \
                >= self.limits.per_ticket_hourly:
            return Verdict("suppress", f"rate limit: {self.limits.per_ticket_hourly} automatic mails an hour "
                                       "about this ticket")
        return await self._breaker(now)

    async def _breaker(self, now: datetime) -> Verdict:
        window = timedelta(minutes=self.limits.breaker_minutes)
        # Mail from before the admin's resume was already looked at: counting it would trip again at once.
        since = await self.store.breaker_resumed_at()
        if await self.store.recent(now, window, since=since) < self.limits.breaker_limit:
            return SEND
        reason = (f"{self.limits.breaker_limit} automatic mails in {self.limits.breaker_minutes} minutes: "
                  "automatic mail paused")
        return Verdict("hold", reason, await self.store.trip_breaker(reason, now))
