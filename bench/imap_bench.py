"""IMAP benchmark: fetching a mailbox from a real Dovecot into mailhelpdesk, against the floor.

    .venv/bin/python bench/imap_bench.py [--messages 2000]

A throwaway Dovecot on loopback (the one the tests start, tests/integration/dovecot.py; needs
root and Debian's dovecot-imapd) gets the synthetic corpus (bench/corpus.py) in one INBOX.
Then, each on a fresh copy of that INBOX:
1. mailhelpdesk: ``ImapFetcher.fetch_once`` into a fresh SQLite database: UID SEARCH, FETCH
   ``BODY.PEEK[]`` in chunks of 50, each chunk committed to ``inbound`` and the folder's last UID
   recorded (what ``serve`` and ``mailhelpdesk fetch`` do); then, apart, the time to turn the
   fetched rows into tickets (the inbound worker's batches).
2. the floor: the same IMAP commands with imapclient alone, the bytes thrown away.
Printed: messages per second of each, and the ratio. A benchmark, not a test: it asserts nothing.
"""

import argparse
import asyncio
import itertools
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT)]

from corpus import CorpusSpec, Generator  # noqa: E402
from integration.dovecot import Dovecot, running_dovecot  # noqa: E402

from mailhelpdesk.app import running, utc_now  # noqa: E402
from mailhelpdesk.config import load_settings  # noqa: E402
from mailhelpdesk.ingest.imap import CHUNK, ImapFetcher  # noqa: E402
from mailhelpdesk.pipeline.parse_ahead import ParseAhead  # noqa: E402
from mailhelpdesk.pipeline.worker import InboundWorker  # noqa: E402
from mailhelpdesk.store.imap_state import ImapStates  # noqa: E402

USER, PASSWORD = "bench", "bench password"


def fill(dovecot: Dovecot, mails: Sequence[bytes], folder: str) -> None:
    with dovecot.session(USER) as client:
        client.create_folder(folder)
        for raw in mails:
            client.append(folder, raw)


def floor(dovecot: Dovecot, folder: str) -> float:
    started = time.perf_counter()
    with dovecot.session(USER) as client:
        client.select_folder(folder)
        uids = sorted(client.search(["UID", "1:*"]))
        for start in range(0, len(uids), CHUNK):
            client.fetch(uids[start:start + CHUNK], ["BODY.PEEK[]"])
    return time.perf_counter() - started


async def ours(dovecot: Dovecot, folder: str, workdir: Path) -> tuple[float, float, int]:
    imap = {"host": "127.0.0.1", "port": dovecot.port, "security": "none", "username": USER,
            "password_env": "BENCH_IMAP", "folder": folder}
    settings = load_settings(None, {
        "data_dir": str(workdir), "database_url": f"sqlite://{workdir / 'bench.db'}",
        "mailboxes": [{"name": "support", "address": "support@localhost", "imap": imap}],
    }, environ={"BENCH_IMAP": PASSWORD})
    async with running(settings) as rt:
        fetcher = ImapFetcher(settings.mailboxes[0], rt.intake, ImapStates(), utc_now)
        started = time.perf_counter()
        report = await fetcher.fetch_once(lambda _inbound_id: None)
        fetched = time.perf_counter() - started
        ahead = ParseAhead(settings.parse_worker_count(), settings.max_message_bytes) \
            if settings.parse_worker_count() else None
        started = time.perf_counter()
        await InboundWorker(rt.intake).drain(ahead)
        processed = time.perf_counter() - started
        if ahead is not None:
            ahead.close()
    return fetched, processed, report.fetched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args(argv)
    mails = list(itertools.islice(Generator(CorpusSpec(messages=args.messages)), args.messages))
    print(f"{platform.python_version()} on {os.cpu_count()} CPUs; {len(mails)} mails, "
          f"{sum(map(len, mails)) / len(mails) / 1024:.1f} KiB on average")
    with running_dovecot({USER: PASSWORD}) as dovecot, tempfile.TemporaryDirectory(prefix="mhd-imap-bench-") as tmp:
        fill(dovecot, mails, "Floor")
        fill(dovecot, mails, "Ours")
        floor_seconds = floor(dovecot, "Floor")
        fetched, processed, count = asyncio.run(ours(dovecot, "Ours", Path(tmp)))
    floor_rate, our_rate = len(mails) / floor_seconds, count / fetched
    print(f"fetch and commit: {our_rate:.0f} msgs/s vs floor {floor_rate:.0f} msgs/s "
          f"({our_rate / floor_rate:.2f}); {count} fetched in {fetched:.1f}s")
    print(f"then into tickets: {count / processed:.0f} msgs/s ({processed:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
