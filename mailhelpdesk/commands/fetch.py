"""``mailhelpdesk fetch``: read the IMAP mailboxes once and process what came (serve does it continuously)."""

from typing import TextIO

from mailhelpdesk.app import Runtime, utc_now
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.ingest.imap import ImapFetcher
from mailhelpdesk.store.imap_state import ImapStates


async def fetch_mailboxes(runtime: Runtime, only: str | None, out: TextIO) -> int:
    """One line per mailbox; 1 if any failed (the others are fetched all the same)."""
    boxes = [b for b in runtime.settings.mailboxes if b.imap is not None and (only is None or b.name == only)]
    if only is not None:
        runtime.settings.mailbox(only)  # an unknown name is a usage error
        if not boxes:
            raise ConfigError(f"fetch: mailbox {only!r} has no imap settings")
    if not boxes:
        raise ConfigError("fetch: no mailbox has imap settings (see docs/configuration.md)")
    runtime.rules.load()
    accepted: list[int] = []
    failed = False
    for box in boxes:
        report = await ImapFetcher(box, runtime.intake, ImapStates(), utc_now).fetch_once(accepted.append)
        out.write(report.line() + "\n")
        failed = failed or bool(report.error)
    for inbound_id in accepted:
        await runtime.pipeline.process(inbound_id)
    return 1 if failed else 0
