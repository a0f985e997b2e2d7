"""The outbox sender: claims queued mail, hands it to the mailbox's relay, records the outcome.

Each row is claimed in its own committed transaction before any SMTP traffic, and its outcome
written in another after it: a crash before the relay's final reply leaves the row claimed and
it is sent again after the lease, with the same bytes and Message-ID. The one window where a
mail can arrive twice is between the relay's "250" and our commit of "sent", and a receiving
mail system can recognise the repeat by its identical Message-ID.
"""

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailhelpdesk.config import RelaySettings, Settings
from mailhelpdesk.outbound.delivery import Delivery, deliver
from mailhelpdesk.store.outbox import FAILED, QUEUED, SENT, Claimed, OutboxStore
from mailhelpdesk.store.repository import Repository, transaction

log = logging.getLogger(__name__)

Deliver = Callable[[RelaySettings, str, Sequence[str], bytes], Awaitable[Delivery]]
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each temporary failure, at most an hour."""
    return min(FIRST_RETRY * int(2 ** min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class OutboxSender:
    settings: Settings
    store: OutboxStore
    repo: Repository
    send: Deliver = deliver
    batch: int = 100

    async def run(self, now: datetime) -> Counter[str]:
        """Send what is due at ``now``; counts by outcome ('taken' = claimed by another process)."""
        tally: Counter[str] = Counter()
        async with transaction():
            await self.store.requeue_stale(now, timedelta(seconds=self.settings.outbox.lease))
        async with transaction():
            due = await self.store.due(now, self.batch)
        for outbox_id in due:
            tally[await self._one(outbox_id, now)] += 1
        return tally

    async def _one(self, outbox_id: int, now: datetime) -> str:
        async with transaction():
            claimed = await self.store.claim(outbox_id, now)
        if claimed is None:
            return "taken"
        delivery = await self.send(self.settings.relay_for(claimed.mailbox), claimed.sender, claimed.recipients,
                                   claimed.raw)
        async with transaction():
            return await self._record(claimed, delivery, now)

    async def _record(self, mail: Claimed, delivery: Delivery, now: datetime) -> str:
        data = {"template": mail.template, "to": mail.recipient, "outbox": mail.id, "attempt": mail.attempts,
                "detail": delivery.detail[:500]}
        if delivery.outcome == "sent" and not delivery.refused:
            await self.store.finish(mail.id, SENT, delivery.detail, now)
            await self.repo.event("mail.sent", data, ticket_id=mail.ticket_id)
            return "sent"
        if delivery.outcome == "temporary" and mail.attempts < self.settings.outbox.max_attempts:
            later = now + retry_delay(mail.attempts)
            await self.store.finish(mail.id, QUEUED, delivery.detail, now, later)
            await self.repo.event("mail.deferred", data | {"next_attempt": later.isoformat()},
                                  ticket_id=mail.ticket_id)
            return "deferred"
        reason = delivery.detail if delivery.outcome != "temporary" else \
            f"gave up after {mail.attempts} attempts: {delivery.detail}"
        await self.store.finish(mail.id, FAILED, reason, now)
        await self.repo.event("mail.failed", data | {"reason": reason[:500]}, ticket_id=mail.ticket_id)
        log.warning("outbox %s to %s failed: %s", mail.id, mail.recipient, reason)
        return "failed"
