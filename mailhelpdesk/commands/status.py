"""``mailhelpdesk status``: is mail coming in and going out; what needs an admin.

Exit 1 when something does: an IMAP mailbox whose last fetch failed, or the outbox breaker
tripped. A backlog or quarantined mail alone is information, not a failure.
"""

from collections import Counter
from datetime import datetime
from typing import TextIO

from mailhelpdesk.config import Settings
from mailhelpdesk.store.imap_state import FolderState
from mailhelpdesk.store.service_status import ServiceStatus

_INBOUND_SHOWN = ("accepted", "quarantined", "ingested", "ignored", "duplicate")
_OUTBOX_SHOWN = ("queued", "sending", "deferred", "held", "failed", "sent", "suppressed")


def write_status(status: ServiceStatus, settings: Settings, out: TextIO) -> int:
    out.write("inbound: " + _counts(status.inbound, _INBOUND_SHOWN) + "\n")
    out.write("outbox: " + _counts(status.outbox, _OUTBOX_SHOWN) + "\n")
    out.write(f"breaker: {'TRIPPED: ' + status.breaker if status.breaker else 'closed (mail flows)'}\n")
    known = {(f.mailbox, f.folder): f for f in status.folders}
    for box in settings.mailboxes:
        if box.imap is None:
            out.write(f"mailbox {box.name} <{box.address}>: SMTP\n")
            continue
        folder = known.get((box.name, box.imap.folder))
        out.write(f"mailbox {box.name} <{box.address}>: IMAP {box.imap.username}@{box.imap.host}/"
                  f"{box.imap.folder}: {_folder_line(folder)}\n")
    return 1 if status.needs_attention else 0


def _counts(counts: Counter[str], order: tuple[str, ...]) -> str:
    shown = [f"{counts[name]} {name}" for name in order if counts[name]]
    shown += [f"{n} {name}" for name, n in sorted(counts.items()) if name not in order and n]
    return ", ".join(shown) or "none"


def _folder_line(folder: FolderState | None) -> str:
    if folder is None:
        return "never fetched"
    fetched = f"last good fetch {_when(folder.fetched_at)}, last UID {folder.last_uid}"
    if folder.error:
        return f"FAILING ({folder.failures} in a row): {folder.error}; {fetched}"
    return f"ok, {fetched}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "never"
