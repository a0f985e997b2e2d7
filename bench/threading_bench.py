"""Threading benchmark: a support mailbox with ground truth through the real product.

    .venv/bin/python bench/threading_bench.py [--threads 2000] [--seed 1] [--database-url postgres://...]
        [--examples 3] [--parse-workers N] [--workdir DIR] [--keep]

Generates a corpus (bench/thread_corpus.py), writes it as numbered .eml files and ingests them
in arrival order with ``ingest_paths`` (the code of ``mailhelpdesk ingest``), in this process,
into a fresh SQLite file in a temporary directory (or, with ``--database-url``, a fresh database
created on that PostgreSQL server and dropped afterwards). Then it reads back which ticket each
Message-ID landed in and prints how well the threads survived:

- threads intact: true threads whose messages are all in one ticket that holds nothing else
  (product target >= 99.5 %);
- split threads / merged tickets: a true thread over several tickets / a ticket with several;
- cross-company merges: tickets holding threads of two companies (target 0: a leak of one
  customer's mail to another);
- per class of hard case, how many messages were placed right, and examples of those that
  were not.

A benchmark, not a test: it asserts nothing (tests/integration/test_threading_corpus.py does).
"""

import argparse
import asyncio
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from ingest_bench import pg_admin
from thread_corpus import CLASSES, MAILBOX, SUPPORT_ADDRESS, Corpus, Message, Miss, Score, generate, score

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.ingest import IngestReport, ingest_paths
from mailhelpdesk.config import Settings, load_settings
from mailhelpdesk.store.models import Message as StoredMessage

TARGET_INTACT = 0.995
SECRET = "bench-secret-" + "x" * 40
_CHUNK = 500  # Message-IDs per look-up: well under any engine's limit of bound parameters


# --- feeding the product (the test uses these too) -------------------------------------------------


async def ingest_corpus(runtime: Runtime, corpus: Corpus, directory: Path) -> IngestReport:
    """The corpus as .eml files, named in arrival order, through ``mailhelpdesk ingest``'s code."""
    corpus.write(directory)
    return await ingest_paths(runtime, [directory], MAILBOX, io.StringIO())


async def placements(corpus: Corpus) -> dict[str, int]:
    """Message-ID -> number of the ticket the message is stored in (missing: not stored)."""
    ids = [m.message_id for m in corpus.messages]
    found: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = await StoredMessage.filter(message_id__in=ids[start:start + _CHUNK]).values_list(
            "message_id", "ticket__number")
        found.update((str(message_id), int(number)) for message_id, number in rows)
    return found


def bench_settings(database_url: str, data_dir: Path, parse_workers: int | None) -> Settings:
    return load_settings(overrides={"data_dir": data_dir, "database_url": database_url,
                                    "mailboxes": [{"name": MAILBOX, "address": SUPPORT_ADDRESS}],
                                    "parse_workers": parse_workers},
                         environ={"MAILHELPDESK_SECRET_KEY": SECRET})


@asynccontextmanager
async def fresh_database(server_url: str | None, workdir: Path) -> AsyncIterator[str]:
    """A new SQLite file in ``workdir``, or a new database on the given PostgreSQL server."""
    if not server_url:
        yield f"sqlite://{workdir / 'data' / 'mailhelpdesk.sqlite3'}"
        return
    name = f"mhd_threading_{os.getpid()}"
    await pg_admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await pg_admin(server_url, f'DROP DATABASE IF EXISTS "{name}"')


# --- one run ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path, out: TextIO) -> Score:
    started = time.perf_counter()
    corpus = generate(args.threads, args.seed)
    generated = time.perf_counter() - started
    _print_corpus(out, corpus, generated)
    async with fresh_database(args.database_url, workdir) as url:
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        async with running(bench_settings(url, workdir / "data", args.parse_workers)) as runtime:
            started = time.perf_counter()
            report = await ingest_corpus(runtime, corpus, workdir / "corpus")
            seconds = time.perf_counter() - started
            placement = await placements(corpus)
    _print_ingest(out, report, seconds)
    result = score(corpus, placement)
    _print_score(out, result)
    _print_classes(out, corpus, result)
    _print_examples(out, result, args.examples)
    return result


# --- reporting -------------------------------------------------------------------------------------


def _print_corpus(out: TextIO, corpus: Corpus, seconds: float) -> None:
    freemail = sum(1 for t in corpus.threads.values() if t.freemail)
    forwards = sum(1 for t in corpus.threads.values() if t.forward_of)
    out.write(f"corpus: {len(corpus.messages)} messages in {len(corpus.threads)} true threads "
              f"({corpus.companies} companies, {corpus.freemail_people} free-mail customers opening {freemail} "
              f"threads, {forwards} forwards), seed {corpus.seed}; generated in {seconds:.1f} s\n")


def _print_ingest(out: TextIO, report: IngestReport, seconds: float) -> None:
    total = report.tally.total
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.tally.counts.items()))
    out.write(f"ingest: {total} messages in {seconds:.1f} s ({total / seconds:.1f} msgs/s); {outcomes}\n\n")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:6.2f} %" if whole else "     - "


def _print_score(out: TextIO, s: Score) -> None:
    intact_ok = "ok" if s.intact_ratio >= TARGET_INTACT else "BELOW target"
    rows = [
        ("messages stored", f"{s.stored}/{s.messages}", "", ""),
        ("threads intact", f"{s.intact}/{s.threads}", _pct(s.intact, s.threads), f">= 99.5 %  {intact_ok}"),
        ("split threads", str(s.split), _pct(s.split, s.threads), ""),
        ("merged tickets", str(s.merged_tickets), _pct(s.merged_tickets, s.tickets), ""),
        ("cross-company merges", str(s.cross_company), "", f"0  {'ok' if s.cross_company == 0 else 'ABOVE target'}"),
        ("tickets", str(s.tickets), "", f"(true threads: {s.threads})"),
    ]
    out.write(f"{'figure':<24}{'value':>12}{'share':>11}   target\n")
    for name, value, share, target in rows:
        out.write(f"{name:<24}{value:>12}{share:>11}   {target}\n")
    out.write("\n")


def _print_classes(out: TextIO, corpus: Corpus, s: Score) -> None:
    out.write(f"{'class':<34}{'messages':>9}{'placed right':>22}{'threads':>9}{'intact':>20}\n")
    for kind in CLASSES:
        c = s.classes[kind]
        out.write(f"{kind:<34}{c.messages:>9}{c.right:>12}{_pct(c.right, c.messages):>10}"
                  f"{c.threads:>9}{c.intact:>10}{_pct(c.intact, c.threads):>10}\n")
    plain = [m for m in corpus.messages if not m.kinds]
    wrong = {miss.message.message_id for miss in s.misses}
    right = sum(1 for m in plain if m.message_id not in wrong)
    out.write(f"{'(none of these)':<34}{len(plain):>9}{right:>12}{_pct(right, len(plain)):>10}\n\n")


def _describe(message: Message, ticket: int | None) -> str:
    if message.refs:
        refs = f"refers to <{message.refs[0]}>" + (f" +{len(message.refs) - 1}" if len(message.refs) > 1 else "")
    else:
        refs = "no In-Reply-To/References"
    where = f"ticket #{ticket}" if ticket is not None else "NOT STORED"
    return (f"{message.position + 1:06d}.eml {message.date:%Y-%m-%d %H:%M%z} {message.sender} "
            f"{message.subject!r} <{message.message_id}> ({refs}; thread {message.thread}, {message.company}) "
            f"-> {where}")


def describe_miss(miss: Miss) -> str:
    """A misplaced message and the one it should be with (or the other thread it was put with)."""
    text = f"{miss.problem}: {_describe(miss.message, miss.ticket)}"
    if miss.other is not None:
        relation = "should share a ticket with" if miss.problem == "split" else "shares it with another thread"
        text += f"\n      {relation}: {_describe(miss.other, miss.other_ticket)}"
    return text


def _print_examples(out: TextIO, s: Score, limit: int) -> None:
    if not s.misses or limit <= 0:
        return
    out.write(f"misplaced messages, up to {limit} per class:\n")
    for kind in (*CLASSES, ""):
        found = [m for m in s.misses if (kind in m.message.kinds if kind else not m.message.kinds)]
        if found:
            out.write(f"[{kind or 'none of the classes'}] {len(found)} misplaced\n")
            for miss in _variety(found, limit):
                out.write(f"  {describe_miss(miss)}\n")
    out.write("\n")


def _variety(misses: Sequence[Miss], limit: int) -> list[Miss]:
    """One example of each problem (merged, split, lost) first, then the earliest others."""
    chosen = [found[0] for problem in ("merged", "split", "lost")
              if (found := [m for m in misses if m.problem == problem])][:limit]
    chosen += [m for m in misses if m not in chosen][:limit - len(chosen)]
    return sorted(chosen, key=lambda m: m.message.position)


def _print_header(out: TextIO, args: argparse.Namespace, workdir: Path) -> None:
    db = args.database_url.split("@")[-1] if args.database_url else "SQLite file"
    out.write(f"mailhelpdesk threading benchmark: {args.threads} threads, seed {args.seed}; database {db}; "
              f"Python {platform.python_version()}, {os.cpu_count()} CPUs; work dir {workdir}\n")


# --- command line ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="How well mailhelpdesk threads a realistic support mailbox.")
    p.add_argument("--threads", type=int, default=2000, help="true threads in the corpus (default 2000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", help="postgres://USER@HOST:PORT/DB: ingest into a fresh database created "
                   "(and dropped) on that server; default a SQLite file in the work dir")
    p.add_argument("--parse-workers", type=int, help="parse worker processes (default: the product's default)")
    p.add_argument("--examples", type=int, default=3, help="misplaced messages shown per class (default 3)")
    p.add_argument("--workdir", type=Path, help="where the corpus and database go (default: a new temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (corpus, database, truth)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mhd-threading-"))
    workdir.mkdir(parents=True, exist_ok=True)
    _print_header(sys.stdout, args, workdir)
    started = time.perf_counter()
    try:
        asyncio.run(run(args, workdir, sys.stdout))
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(f"total run time {time.perf_counter() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
