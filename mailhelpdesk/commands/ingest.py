"""``mailhelpdesk ingest``: files, directories, mbox and Maildir into tickets."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.progress import Progress
from mailhelpdesk.ingest.files import RawMail, count_messages, iter_sources
from mailhelpdesk.intake import IntakeTally

_SUMMARY = (
    ("tickets_created", "tickets created"),
    ("replies_threaded", "replies threaded"),
    ("auto_reply", "auto-replies recognised"),
    ("bounce", "bounces recognised"),
    ("ignored", "ignored"),
    ("quarantined", "quarantined"),
    ("duplicate", "duplicates skipped"),
    ("unreadable", "unreadable inputs"),
)


@dataclass(frozen=True, slots=True)
class IngestReport:
    tally: IntakeTally
    seconds: float
    recovered: int

    def lines(self) -> list[str]:
        counts = self.tally.counts
        rate = self.tally.total / self.seconds if self.seconds > 0 else 0.0
        out = [f"{label}: {counts.get(key, 0)}" for key, label in _SUMMARY]
        if self.recovered:
            out.insert(0, f"recovered from an earlier interrupted run: {self.recovered}")
        out.append(f"messages: {self.tally.total} in {self.seconds:.2f} s ({rate:.1f} msgs/s)")
        return out


async def ingest_paths(runtime: Runtime, paths: list[Path], mailbox: str, err: TextIO) -> IngestReport:
    runtime.settings.mailbox(mailbox)  # unknown mailbox: ConfigError before any work
    started = time.monotonic()
    tally = IntakeTally()
    recovered = await runtime.intake.recover()
    for done in recovered:
        tally.add(done)
    counted = {r.inbound_id for r in recovered}  # met again below: already in the tally
    progress = Progress(count_messages(paths), err)
    async with runtime.intake.batch() as batch:
        for item in iter_sources(paths):
            if isinstance(item, RawMail):
                inbound_id, result = await batch.receive_tracked(mailbox, item.raw, item.source)
                if inbound_id not in counted:
                    tally.add(result)
            else:
                tally.counts["unreadable"] += 1
                err.write(f"\nunreadable: {item.source}: {item.error}\n")
            progress.step()
    progress.close()
    return IngestReport(tally, time.monotonic() - started, len(recovered))
