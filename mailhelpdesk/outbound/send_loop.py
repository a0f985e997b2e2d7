"""The sender of a running service: wakes when mail was processed, or every ``outbox.interval``."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from mailhelpdesk.outbound.sender import OutboxSender

log = logging.getLogger(__name__)


async def send_forever(sender: OutboxSender, wakeup: asyncio.Event, interval: float,
                       clock: Callable[[], datetime]) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=interval)
        wakeup.clear()
        try:
            tally = await sender.run(clock())
        except Exception:  # the database may be away for a while: try again on the next round
            log.exception("the outbox sender failed; it runs again in %ss", interval)
            continue
        if tally:
            log.info("outbox: %s", ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())))
