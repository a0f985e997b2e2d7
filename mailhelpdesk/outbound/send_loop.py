"""The sender of a running service: wakes when mail was processed, or every ``outbox.interval``."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailhelpdesk.outbound.sender import OutboxSender

log = logging.getLogger(__name__)


@dataclass
class SendLoop:
    sender: OutboxSender
    interval: float
    clock: Callable[[], datetime]
    _bell: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False

    def ring(self) -> None:
        """Mail may have been queued: run now rather than at the next interval."""
        self._bell.set()

    def stop(self) -> None:
        """Finish the run in hand (a mail half sent would be sent again after its lease), then return."""
        self._stopping = True
        self._bell.set()

    async def run_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bell.wait(), timeout=self.interval)
            self._bell.clear()
            if self._stopping:
                return
            try:
                tally = await self.sender.run(self.clock())
            except Exception as exc:  # noqa: BLE001 - the database may be away for a while: next round
                log.error("the outbox sender failed, it runs again in %ss: %s: %s", self.interval,
                          type(exc).__name__, exc)
                continue
            if tally:
                log.info("outbox: %s", ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())))
