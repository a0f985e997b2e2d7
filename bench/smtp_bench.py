"""SMTP benchmark: a burst into ``mailhelpdesk serve`` against the floor, measured in the same run.

    .venv/bin/python bench/smtp_bench.py [--messages 2000] [--clients 8,20] [--database-url postgres://...]

For each number of concurrent clients:
1. mailhelpdesk: ``python -m mailhelpdesk serve`` on a fresh SQLite file (or a new PostgreSQL
   database), the synthetic corpus (bench/corpus.py) sent by that many SMTP clients at once,
   each on its own connection, as fast as the server answers. Each ``250`` names the inbound
   rows it stored; the client notes when it came. The bench then waits for the backlog to
   drain and reads each row's ``processed_at``: the latency from ``250`` to its ticket.
2. the floor: a bare aiosmtpd server in its own process that inserts each mail's bytes into
   SQLite with one commit per mail (WAL, synchronous=FULL, as mailhelpdesk's connection) and
   answers 250: what accepting costs with no parsing, threading, rules or processing.
Printed per run: mails/s accepted, mails processed while the burst lasted, latency p50/p95/max.
This is a benchmark, not a test: it is not run by CI and asserts nothing.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CorpusSpec, Generator

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = "support@localhost"
_QUEUED = re.compile(rb"queued as ([\d,]+)")


@dataclass(frozen=True, slots=True)
class Burst:
    seconds: float
    answered: dict[int, float]  # inbound id -> when its 250 came (epoch seconds)
    refused: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


def send_share(port: int, share: Sequence[bytes], answered: dict[int, float], refused: list[int]) -> None:
    """One client: one connection, its share of the mails one after the other."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for raw in share:
            try:
                client.sendmail("sender@example.org", [SUPPORT], raw)
            except smtplib.SMTPException:
                refused.append(1)
                continue
            now = time.time()
            for inbound_id in _last_ids(client):
                answered[inbound_id] = now


def _last_ids(client: smtplib.SMTP) -> list[int]:
    found = _QUEUED.search(getattr(client, "_mhd_last", b""))
    return [int(i) for i in found.group(1).split(b",")] if found else []


class _Client(smtplib.SMTP):
    """Keeps the reply to DATA, which ``sendmail`` does not return."""

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        code, reply = super().data(msg)
        self._mhd_last = reply
        return code, reply


def burst(port: int, mails: Sequence[bytes], clients: int) -> Burst:
    answered: dict[int, float] = {}
    refused: list[int] = []
    shares = [mails[i::clients] for i in range(clients)]
    original, smtplib.SMTP = smtplib.SMTP, _Client  # type: ignore[misc]
    try:
        threads = [threading.Thread(target=send_share, args=(port, s, answered, refused)) for s in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        smtplib.SMTP = original  # type: ignore[misc]
    return Burst(seconds, answered, len(refused))


def write_config(workdir: Path, smtp_port: int, web_port: int, database_url: str) -> Path:
    config = workdir / "mailhelpdesk.yaml"
    config.write_text(json.dumps({
        "data_dir": str(workdir / "data"), "database_url": database_url,
        "smtp_port": smtp_port, "web_port": web_port,
        "mailboxes": [{"name": "support", "address": SUPPORT}],
    }))
    return config


@contextmanager
def serving(workdir: Path, database_url: str) -> Iterator[tuple[int, int, int]]:
    smtp_port, web_port = free_port(), free_port()
    config = write_config(workdir, smtp_port, web_port, database_url)
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "mailhelpdesk", "--config", str(config), "serve"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(smtp_port, proc)
        yield smtp_port, web_port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


def processed_times(database_url: str, ids: Sequence[int], timeout: float = 600) -> dict[int, float]:
    """Each row's processed_at, once no row is left ``accepted``."""
    deadline = time.monotonic() + timeout
    while True:
        rows = _inbound_rows(database_url)
        if not any(state == "accepted" for _, state, _ in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    wanted = set(ids)
    return {i: _epoch(at) for i, state, at in rows if i in wanted and at is not None}


def _inbound_rows(database_url: str) -> list[tuple[int, str, object]]:
    query = 'SELECT "id", "state", "processed_at" FROM "inbound"'
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://"), timeout=30) as db:
            return [(int(r[0]), str(r[1]), r[2]) for r in db.execute(query)]
    return asyncio.run(_pg_rows(database_url, query))


async def _pg_rows(database_url: str, query: str) -> list[tuple[int, str, object]]:
    import asyncpg  # type: ignore[import-untyped]

    db = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return [(int(r[0]), str(r[1]), r[2]) for r in await db.fetch(query)]
    finally:
        await db.close()


def _epoch(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


FLOOR_SERVER = r'''
import asyncio, sqlite3, sys
from aiosmtpd.smtp import SMTP
SMTP.line_length_limit = 1 << 20  # as mailhelpdesk's receiver: long lines are taken, not refused
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE inbound (id INTEGER PRIMARY KEY, raw BLOB)")
class Handler:
    async def handle_DATA(self, server, session, envelope):
        db.execute("BEGIN"); cur = db.execute("INSERT INTO inbound (raw) VALUES (?)", (envelope.original_content,))
        db.execute("COMMIT")
        return f"250 2.0.0 OK queued as {cur.lastrowid}"
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(Handler(), data_size_limit=64 << 20), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
'''


def run_floor(workdir: Path, mails: Sequence[bytes], clients: int) -> Burst:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(port), str(workdir / f"floor-{clients}.db")])
    try:
        wait_for_port(port, proc)
        return burst(port, mails, clients)
    finally:
        proc.kill()
        proc.wait()


def run_ours(workdir: Path, mails: Sequence[bytes], clients: int, database_url: str) -> dict[str, float]:
    url = database_url or f"sqlite://{workdir / f'ours-{clients}.db'}"
    with serving(workdir, url) as (port, _, _):
        sent = burst(port, mails, clients)
        burst_end = time.time()
        done = processed_times(url, list(sent.answered))
    waits = [done[i] - t for i, t in sent.answered.items() if i in done]
    return {
        "accepted_per_s": len(sent.answered) / sent.seconds, "burst_s": sent.seconds, "refused": sent.refused,
        "processed_during_burst": sum(1 for i in sent.answered if done.get(i, float("inf")) <= burst_end),
        "latency_p50_s": percentile(waits, 0.5), "latency_p95_s": percentile(waits, 0.95),
        "latency_max_s": max(waits, default=float("nan")), "unprocessed": len(sent.answered) - len(done),
    }


def large_mail(megabytes: int) -> bytes:
    """A mail with one attachment of about ``megabytes`` (random, base64 as a mail client writes it)."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Big Sender <big@example.org>", SUPPORT, "Scans of the contract"
    msg["Message-ID"] = "<large-1@example.org>"
    msg.set_content("The scans are attached.\n")
    msg.add_attachment(os.urandom(megabytes * 1024 * 1024 * 3 // 4), maintype="application", subtype="pdf",
                       filename="scans.pdf")
    return _crlf(msg.as_bytes())


def _crlf(raw: bytes) -> bytes:
    """Line ends as an MTA sends them (smtplib passes bytes on as they are)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_large(workdir: Path, megabytes: int, database_url: str) -> dict[str, float]:
    """One large mail into serve: its peak RSS before and after, how long the loop stopped
    answering (the longest wait for /healthz while the mail is received and processed), and
    the time from 250 to its ticket."""
    url = database_url or f"sqlite://{workdir / 'large.db'}"
    raw = large_mail(megabytes)
    with serving(workdir, url) as (port, web_port, pid):
        before = peak_rss_mb(pid)
        stalls: list[float] = []
        done = threading.Event()
        prober = threading.Thread(target=_probe, args=(web_port, stalls, done))
        prober.start()
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as client:
            client.sendmail("big@example.org", [SUPPORT], raw)
        answered = time.time()
        times = processed_times(url, [1])
        done.set()
        prober.join()
        after = peak_rss_mb(pid)
    return {"mail_mb": len(raw) / 1024 / 1024, "rss_before_mb": before, "rss_peak_mb": after,
            "longest_stall_s": max(stalls, default=float("nan")),
            "to_ticket_s": times.get(1, float("nan")) - answered}


def _probe(web_port: int, stalls: list[float], done: threading.Event) -> None:
    import urllib.request

    while not done.is_set():
        started = time.perf_counter()
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=60).read()
        stalls.append(time.perf_counter() - started)
        time.sleep(0.05)


def corpus(messages: int) -> list[bytes]:
    return [_crlf(raw) for raw in itertools.islice(Generator(CorpusSpec(messages=messages, support_address=SUPPORT)),
                                                    messages)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", default="8,20", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in the work dir")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--large-mb", type=int, default=0, help="instead: one mail of this many MB")
    args = parser.parse_args(argv)
    if args.large_mb:
        with tempfile.TemporaryDirectory(prefix="mhd-smtp-bench-") as tmp:
            figures = run_large(Path(tmp), args.large_mb, args.database_url)
        print(", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
        return 0
    mails = corpus(args.messages)
    print(f"{platform.python_version()} on {os.cpu_count()} CPUs; {len(mails)} mails, "
          f"{sum(map(len, mails)) / len(mails) / 1024:.1f} KiB on average")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="mhd-smtp-bench-") as tmp:
        for clients in (int(c) for c in args.clients.split(",")):
            workdir = Path(tmp) / f"c{clients}"
            workdir.mkdir()
            floor = run_floor(workdir, mails, clients)
            ours = run_ours(workdir, mails, clients, args.database_url)
            floor_rate = len(floor.answered) / floor.seconds
            figures[clients] = {**ours, "floor_accepted_per_s": floor_rate}
            print(f"{clients:>3} clients: accepted {ours['accepted_per_s']:.0f}/s vs floor {floor_rate:.0f}/s "
                  f"({ours['accepted_per_s'] / floor_rate:.2f}); burst {ours['burst_s']:.1f}s, "
                  f"{ours['processed_during_burst']:.0f} processed during it; 250 -> ticket "
                  f"p50 {ours['latency_p50_s']:.2f}s p95 {ours['latency_p95_s']:.2f}s "
                  f"max {ours['latency_max_s']:.2f}s; refused {ours['refused']:.0f}, "
                  f"unprocessed {ours['unprocessed']:.0f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
