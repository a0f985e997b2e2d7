"""Ingest benchmark: mailhelpdesk against the floor, measured in the same run.

    .venv/bin/python bench/ingest_bench.py [--messages 5000] [--scale 10] [--format eml|mbox] [--plain]
        [--database-url postgres://...] [--via api|cli] [--profile DIR] [--workdir DIR] [--keep]

For each corpus size it generates a deterministic corpus (bench/corpus.py) into a temporary
directory and runs, each in its own child process:
1. mailhelpdesk: the corpus into a fresh database through ``ingest_paths``, the code of
   ``mailhelpdesk ingest`` (a savepoint per message, a commit per batch, a parse worker per
   ``parse_workers``); ``--commit message`` calls ``Intake.receive_tracked`` per message (a
   commit each) instead, and ``--via cli`` runs ``python -m mailhelpdesk ingest`` itself;
2. the floor: ``email.message_from_bytes`` + a raw ``sqlite3`` INSERT of the bytes with a
   commit per message, into a file database in the same directory, with the journal mode
   and ``synchronous`` setting that mailhelpdesk's connection reported in step 1.
Peak RSS is each child's own ``ru_maxrss`` (from ``wait4``), so runs never pollute each other.
This is a benchmark, not a test: it is not run by CI and asserts nothing.
"""

import argparse
import asyncio
import cProfile
import email
import io
import json
import os
import platform
import pstats
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from corpus import CorpusSpec, truth_path, write_corpus

TARGET_RATIO = 0.25
GOAL_RATIO = 0.5
FLAT_RSS = 1.3
MAILBOX = "support"
SECRET = "bench-secret-" + "x" * 40
_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


# === child side: runs in a fresh process per measurement ========================================


def read_corpus(path: Path) -> Iterator[bytes]:
    """The corpus's messages in order, streamed: memory does not grow with the corpus.

    (``mailbox.mbox``'s table of contents and one big sorted listing of Paths would both hold
    O(N) state, which would show up in the peak RSS of both runs.)
    """
    if path.is_dir():
        yield from _read_tree(str(path))
    else:
        yield from _read_mbox(path)


def _read_tree(directory: str) -> Iterator[bytes]:
    # Plain strings, not pathlib: pathlib interns every path component for the life of the process.
    for name in sorted(os.listdir(directory)):
        child = os.path.join(directory, name)
        if os.path.isdir(child):
            yield from _read_tree(child)
        elif name.endswith(".eml"):
            with open(child, "rb") as handle:
                yield handle.read()


def _read_mbox(path: Path) -> Iterator[bytes]:
    """Messages between ``From `` separator lines, as ``mailbox.mbox.get_bytes`` gives them."""
    lines: list[bytes] = []
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b"From ") and (not lines or lines[-1] in (b"\n", b"\r\n")):
                if lines:
                    yield b"".join(lines[:-1])
                lines = []
            else:
                lines.append(line)
    if lines:
        yield b"".join(lines[:-1] if lines[-1] in (b"\n", b"\r\n") else lines)


def memory_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process (Linux), in KiB."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


class RssTrace:
    """VmRSS and throughput for every tenth of the run: a slope shows here before it shows in the peak."""

    def __init__(self, total: int) -> None:
        self.every = max(total // 10, 1)
        self.samples: list[int] = []
        self.rates: list[float] = []
        self._last = time.perf_counter()
        self._done = 0

    def next(self) -> None:
        self._done += 1
        self.tick(self._done)

    def tick(self, done: int) -> None:
        if done % self.every == 0:
            now = time.perf_counter()
            self.samples.append(memory_kb()["VmRSS"])
            self.rates.append(round(self.every / (now - self._last), 1))
            self._last = now


def floor_worker(corpus: Path, db: Path, journal_mode: str, synchronous: int, total: int) -> dict[str, Any]:
    conn = sqlite3.connect(db, isolation_level=None)  # autocommit: each INSERT is its own transaction
    for pragma in (f"journal_mode={journal_mode}", "journal_size_limit=16384", "foreign_keys=ON",
                   f"synchronous={synchronous}"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE inbound (id INTEGER PRIMARY KEY, raw BLOB NOT NULL)")
    baseline, trace, count = memory_kb()["VmRSS"], RssTrace(total), 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for raw in read_corpus(corpus):
        email.message_from_bytes(raw)
        conn.execute("INSERT INTO inbound (raw) VALUES (?)", (raw,))
        count += 1
        trace.tick(count)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    pragmas = _sqlite_pragmas(conn)
    conn.close()
    return {"messages": count, "seconds": seconds, "cpu_seconds": cpu, "baseline_rss_kb": baseline,
            "rss_trace_kb": trace.samples, "rate_trace": trace.rates, **pragmas}


def _sqlite_pragmas(conn: sqlite3.Connection) -> dict[str, Any]:
    return {"journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0]}


async def ingest_worker(corpus: Path, database_url: str, data_dir: Path, total: int,
                        profile: Path | None, commit: str, parse_workers: int | None) -> dict[str, Any]:
    from mailhelpdesk.app import running
    from mailhelpdesk.commands.ingest import ingest_paths
    from mailhelpdesk.config import load_settings
    from mailhelpdesk.intake import IntakeTally

    settings = load_settings(overrides={"data_dir": data_dir, "database_url": database_url,
                                        "parse_workers": parse_workers},
                             environ={"MAILHELPDESK_SECRET_KEY": SECRET})
    opened = time.perf_counter()
    async with running(settings) as runtime:
        startup = time.perf_counter() - opened
        pragmas = await _product_pragmas(database_url)
        statements = await _count_statements(database_url)
        tally, trace, count = IntakeTally(), RssTrace(total), 0
        baseline = memory_kb()["VmRSS"]
        profiler = cProfile.Profile() if profile else None
        started, cpu_started, children_started = time.perf_counter(), time.process_time(), _children_cpu()
        if profiler:
            profiler.enable()
        if commit == "batch":  # exactly what `mailhelpdesk ingest` runs
            tally = (await ingest_paths(runtime, [corpus], MAILBOX, io.StringIO(), on_item=trace.next)).tally
            count = tally.total
        else:
            for raw in read_corpus(corpus):
                tally.add((await runtime.intake.receive_tracked(MAILBOX, raw, f"bench#{count + 1}"))[1])
                count += 1
                trace.next()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        workers_cpu = _children_cpu() - children_started
        if profiler:
            profiler.disable()
        threads = await threads_intact(truth_path(corpus))
    if profiler and profile:
        profiler.dump_stats(profile)
    return {"messages": count, "seconds": seconds, "cpu_seconds": cpu, "workers_cpu_seconds": workers_cpu,
            "workers_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "parse_workers": settings.parse_worker_count() if commit == "batch" else 0,
            "startup_seconds": startup,
            "baseline_rss_kb": baseline,
            "rss_trace_kb": trace.samples, "rate_trace": trace.rates, "outcomes": dict(tally.counts),
            "statements": statements.count if statements is not None else None, "threads": threads, **pragmas}


async def threads_intact(truth_file: Path) -> tuple[int, int] | None:
    """How many of the corpus's threads came out whole: all their mail in one ticket that holds
    no other thread's mail (auto-replies and bounces are not threads). None without a truth file."""
    if not truth_file.exists():
        return None
    from mailhelpdesk.store.sql import Sql

    truth: dict[str, int] = json.loads(truth_file.read_text())
    rows = await Sql().rows('SELECT "message_id", "ticket_id" FROM "message" WHERE "direction" = ?', "in")
    ticket_of = {str(r[0]): int(r[1]) for r in rows}
    tickets: dict[int, set[int]] = {}  # thread -> its tickets
    threads_in: dict[int, set[int]] = {}  # ticket -> the threads in it
    for message_id, thread in truth.items():
        ticket = ticket_of.get(message_id, -1)
        tickets.setdefault(thread, set()).add(ticket)
        threads_in.setdefault(ticket, set()).add(thread)
    intact = sum(1 for found in tickets.values()
                 if len(found) == 1 and -1 not in found and len(threads_in[next(iter(found))]) == 1)
    return intact, len(tickets)


class _Tally:
    """Counts the statements we send; keeps none of them (memory is measured too). SQLite also
    reports what runs inside them: trigger bodies ("-- TRIGGER …") and the full-text index's
    own statements on its shadow tables, which cost no round trip; ``inside`` counts those."""

    def __init__(self) -> None:
        self.count = self.inside = 0

    def __call__(self, statement: str) -> None:
        if statement.startswith("--") or "_fts" in statement:
            self.inside += 1
        else:
            self.count += 1


async def _count_statements(database_url: str) -> _Tally | None:
    """Every statement SQLite runs from now on (BEGIN, SAVEPOINT and COMMIT included): each is a
    round trip to the database thread. None on PostgreSQL, which has no such hook here."""
    if not database_url.startswith("sqlite"):
        return None
    from tortoise import connections

    tally = _Tally()
    connection = connections.get("default")._connection  # the aiosqlite connection
    await connection.set_trace_callback(tally)
    return tally


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _product_pragmas(database_url: str) -> dict[str, Any]:
    """What mailhelpdesk's own connection runs with (the floor copies it)."""
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    if database_url.startswith("sqlite"):
        journal = await conn.execute_query_dict("PRAGMA journal_mode")
        sync = await conn.execute_query_dict("PRAGMA synchronous")
        return {"journal_mode": journal[0]["journal_mode"], "synchronous": sync[0]["synchronous"]}
    rows = await conn.execute_query_dict("SHOW synchronous_commit")
    return {"synchronous_commit": rows[0]["synchronous_commit"]}


def worker_main(args: argparse.Namespace) -> int:
    if args.worker == "floor":
        result = floor_worker(args.corpus, Path(args.db), args.journal_mode, args.synchronous, args.total)
    else:
        result = asyncio.run(ingest_worker(args.corpus, args.db, args.data_dir, args.total, args.profile,
                                           args.commit, args.parse_workers))
    result["vmhwm_kb"] = memory_kb()["VmHWM"]
    result["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


# === parent side ===============================================================================


@dataclass(slots=True)
class Run:
    label: str
    messages: int
    seconds: float
    peak_rss_kb: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class SizeResult:
    size: int
    corpus: dict[str, Any]
    ingest: Run
    floor: Run | None

    @property
    def ratio(self) -> float | None:
        return self.ingest.rate / self.floor.rate if self.floor and self.floor.rate else None


def run_child(cmd: Sequence[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> tuple[str, int]:
    """Run ``cmd``; return its stdout and its own peak RSS in KiB (``wait4``, not RUSAGE_CHILDREN)."""
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, env=env)
        assert proc.stdout is not None
        out = proc.stdout.read().decode("utf-8", "replace")
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text("utf-8", "replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited with {proc.returncode}:\n{tail}")
    return out, usage.ru_maxrss


def _worker_cmd(kind: str, corpus: Path, db: str, total: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--corpus", str(corpus),
            "--db", db, "--total", str(total)]


def measure_ingest(corpus: Path, run_dir: Path, database_url: str, total: int, via: str, commit: str,
                   parse_workers: int | None, profile: Path | None = None) -> Run:
    data_dir = run_dir / "data"
    if via == "cli":
        return _measure_cli(corpus, run_dir, database_url, data_dir)
    cmd = [*_worker_cmd("ingest", corpus, database_url, total), "--data-dir", str(data_dir), "--commit", commit]
    if parse_workers is not None:
        cmd += ["--parse-workers", str(parse_workers)]
    if profile:
        cmd += ["--profile", str(profile)]
    out, peak = run_child(cmd, run_dir, run_dir / "ingest.stderr")
    detail = json.loads(out.strip().splitlines()[-1])
    return Run("mailhelpdesk", detail["messages"], detail["seconds"], peak, detail)


_CLI_SUMMARY = re.compile(r"messages: (\d+) in ([\d.]+) s")


def _measure_cli(corpus: Path, run_dir: Path, database_url: str, data_dir: Path) -> Run:
    cmd = [sys.executable, "-m", "mailhelpdesk", "--database-url", database_url, "--data-dir", str(data_dir),
           "ingest", str(corpus), "--mailbox", MAILBOX]
    env = {**os.environ, "MAILHELPDESK_SECRET_KEY": SECRET}
    out, peak = run_child(cmd, run_dir, run_dir / "ingest.stderr", env)
    match = _CLI_SUMMARY.search(out)
    if match is None:
        raise RuntimeError(f"unexpected output from mailhelpdesk ingest:\n{out}")
    return Run("mailhelpdesk (CLI)", int(match.group(1)), float(match.group(2)), peak, {"summary": out.strip()})


def measure_floor(corpus: Path, run_dir: Path, total: int, journal_mode: str, synchronous: int) -> Run:
    cmd = [*_worker_cmd("floor", corpus, str(run_dir / "floor.sqlite3"), total),
           "--journal-mode", journal_mode, "--synchronous", str(synchronous)]
    out, peak = run_child(cmd, run_dir, run_dir / "floor.stderr")
    detail = json.loads(out.strip().splitlines()[-1])
    return Run("floor", detail["messages"], detail["seconds"], peak, detail)


@contextmanager
def database_for(base_url: str | None, run_dir: Path, label: str) -> Iterator[str]:
    """A fresh database: a new SQLite file, or a new database on the given PostgreSQL server."""
    if not base_url:
        yield f"sqlite://{run_dir / 'data' / 'mailhelpdesk.sqlite3'}"
        return
    name = f"mhd_bench_{os.getpid()}_{label}"
    asyncio.run(pg_admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        parts = urlsplit(base_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(pg_admin(base_url, f'DROP DATABASE IF EXISTS "{name}"'))


async def pg_admin(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def bench_size(args: argparse.Namespace, workdir: Path, size: int, out: TextIO) -> SizeResult:
    run_dir = workdir / f"n{size}"
    run_dir.mkdir(parents=True, exist_ok=True)
    corpus = run_dir / ("corpus.mbox" if args.format == "mbox" else "corpus")
    started = time.perf_counter()
    spec = CorpusSpec(messages=size, seed=args.seed)
    if args.plain:  # small plain mails only: what a mail costs when its MIME costs nothing
        spec = CorpusSpec(messages=size, seed=args.seed, auto_reply_rate=0, bounce_rate=0, plain=True)
    stats = write_corpus(spec, corpus, args.format).summary()
    stats["generate_seconds"] = time.perf_counter() - started
    _print_corpus(out, size, args, stats)
    ingests, floors = [], []
    for attempt in range(1, args.repeat + 1):  # alternated, so load from elsewhere hits both alike
        rep_dir = run_dir / f"run{attempt}"
        rep_dir.mkdir()
        ingests.append(_ingest_once(args, corpus, rep_dir, size, f"n{size}r{attempt}", out))
        if not args.no_floor:
            journal, sync = ingests[-1].detail.get("journal_mode", "wal"), ingests[-1].detail.get("synchronous", 2)
            floors.append(measure_floor(corpus, rep_dir, size, journal, sync))
            _print_run(out, floors[-1])
        if not args.keep:
            shutil.rmtree(rep_dir, ignore_errors=True)
    result = SizeResult(size, stats, _best(ingests), _best(floors) if floors else None)
    _print_verdict(out, result, args.repeat)
    if args.profile:
        _profile(args, corpus, run_dir, size, out)
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _ingest_once(args: argparse.Namespace, corpus: Path, rep_dir: Path, size: int, label: str,
                 out: TextIO) -> Run:
    with database_for(args.database_url, rep_dir, label) as url:
        run = measure_ingest(corpus, rep_dir, url, size, args.via, args.commit, args.parse_workers)
    _print_run(out, run)
    return run


def _best(runs: list[Run]) -> Run:
    """The fastest of repeated runs (the one least disturbed by other load), with every rate noted."""
    best = max(runs, key=lambda r: r.rate)
    best.detail["all_rates"] = [round(r.rate, 1) for r in runs]
    return best


def _profile(args: argparse.Namespace, corpus: Path, run_dir: Path, size: int, out: TextIO) -> None:
    args.profile.mkdir(parents=True, exist_ok=True)
    target = args.profile / f"ingest-{size}.prof"
    (run_dir / "profiled").mkdir(exist_ok=True)
    with database_for(args.database_url, run_dir / "profiled", f"p{size}") as url:
        run = measure_ingest(corpus, run_dir / "profiled", url, size, "api", args.commit, 0, profile=target)
    out.write(f"  profiled ingest run (slower, not a figure): {run.rate:.1f} msgs/s; stats in {target}\n")
    stats = pstats.Stats(str(target), stream=out)
    stats.sort_stats("cumulative").print_stats(r"mailhelpdesk|tortoise|aiosqlite|asyncpg", 30)
    stats.sort_stats("tottime").print_stats(20)


# --- reporting -------------------------------------------------------------------------------


def _mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def _print_header(out: TextIO, workdir: Path, args: argparse.Namespace) -> None:
    uname = platform.uname()
    out.write(f"mailhelpdesk ingest benchmark: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
              f"{os.cpu_count()} CPUs, {uname.system} {uname.release}\n")
    db = args.database_url.split("@")[-1] if args.database_url else "SQLite file"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    via = args.via if args.via == "cli" else f"api, commit per {args.commit}"
    out.write(f"work dir {workdir}; mailhelpdesk via {via}; database: {db}; load average {load}\n\n")


def _print_corpus(out: TextIO, size: int, args: argparse.Namespace, stats: dict[str, Any]) -> None:
    kinds = ", ".join(f"{k} {v}" for k, v in stats["kinds"].items())
    out.write(f"corpus N={size} ({args.format}, seed {args.seed}): {_mb(stats['bytes'] / 1024)}, "
              f"median {stats['median_bytes'] / 1024:.1f} KB, p90 {stats['p90_bytes'] / 1024:.1f} KB, "
              f"max {stats['max_bytes'] / 1024:.0f} KB, {stats['over_200k']} >= 200 KB; "
              f"generated in {stats['generate_seconds']:.1f} s\n  {kinds}\n")


def _print_run(out: TextIO, run: Run) -> None:
    detail = run.detail
    extra = f", RSS after start-up {_mb(detail['baseline_rss_kb'])}" if "baseline_rss_kb" in detail else ""
    cpu = f" (CPU {detail['cpu_seconds'] / run.messages * 1000:.2f} ms/msg)" if "cpu_seconds" in detail else ""
    out.write(f"  {run.label:<14} {run.rate:8.1f} msgs/s  {run.messages} msgs in {run.seconds:7.2f} s{cpu}  "
              f"peak RSS {_mb(run.peak_rss_kb)}{extra}\n")
    if detail.get("parse_workers"):
        out.write(f"  {'':<14} parse workers {detail['parse_workers']}: CPU "
                  f"{detail['workers_cpu_seconds'] / run.messages * 1000:.2f} ms/msg more, peak RSS "
                  f"{_mb(detail['workers_maxrss_kb'])} (main process: {_mb(detail['vmhwm_kb'])})\n")
    if "synchronous" in detail:
        sync = detail["synchronous"]
        out.write(f"  {'':<14} journal_mode={detail['journal_mode']} synchronous={sync} "
                  f"({_SYNC_NAMES.get(sync, '?')})\n")
    if "synchronous_commit" in detail:
        out.write(f"  {'':<14} PostgreSQL synchronous_commit={detail['synchronous_commit']}\n")
    if detail.get("statements") is not None:
        out.write(f"  {'':<14} database statements: {detail['statements'] / run.messages:.1f} per message "
                  f"(BEGIN, SAVEPOINT and COMMIT included)\n")
    if detail.get("threads"):
        intact, total = detail["threads"]
        out.write(f"  {'':<14} threads intact: {intact}/{total} ({intact / max(total, 1):.2%})\n")
    if "outcomes" in detail:
        out.write(f"  {'':<14} outcomes: {', '.join(f'{k} {v}' for k, v in sorted(detail['outcomes'].items()))}\n")
    if detail.get("rss_trace_kb"):
        trace = " ".join(f"{kb / 1024:.0f}" for kb in detail["rss_trace_kb"])
        out.write(f"  {'':<14} RSS every 10 % (MB): {trace}\n")
    if detail.get("rate_trace"):
        rates = " ".join(f"{r:.0f}" for r in detail["rate_trace"])
        out.write(f"  {'':<14} msgs/s every 10 %: {rates}\n")


def _print_verdict(out: TextIO, result: SizeResult, repeat: int) -> None:
    ratio = result.ratio
    if repeat > 1:
        floor = f", floor {result.floor.rate:.1f} msgs/s" if result.floor else ""
        out.write(f"  best of {repeat}: mailhelpdesk {result.ingest.rate:.1f} msgs/s{floor}\n")
    if ratio is None:
        out.write("\n")
        return
    verdict = "meets the target" if ratio >= TARGET_RATIO else "BELOW the target"
    out.write(f"  ratio mailhelpdesk/floor = {ratio:.3f}: {verdict} (>= {TARGET_RATIO}; "
              f"product goal >= {GOAL_RATIO})\n\n")


def _print_scale(out: TextIO, small: SizeResult, big: SizeResult) -> None:
    growth = big.ingest.peak_rss_kb / small.ingest.peak_rss_kb
    verdict = "flat" if growth <= FLAT_RSS else "NOT flat"
    out.write(f"peak RSS, mailhelpdesk: N={small.size}: {_mb(small.ingest.peak_rss_kb)}, "
              f"N={big.size}: {_mb(big.ingest.peak_rss_kb)} -> x{growth:.2f} ({verdict}; flat means <= x{FLAT_RSS})\n")
    if small.floor and big.floor:
        out.write(f"peak RSS, floor:        N={small.size}: {_mb(small.floor.peak_rss_kb)}, "
                  f"N={big.size}: {_mb(big.floor.peak_rss_kb)} -> "
                  f"x{big.floor.peak_rss_kb / small.floor.peak_rss_kb:.2f}\n")


def _as_json(result: SizeResult) -> dict[str, Any]:
    runs = {"ingest": result.ingest, "floor": result.floor}
    return {"size": result.size, "corpus": result.corpus, "ratio": result.ratio,
            **{name: {"msgs_per_s": r.rate, "seconds": r.seconds, "messages": r.messages,
                      "peak_rss_kb": r.peak_rss_kb, "detail": r.detail} for name, r in runs.items() if r}}


# --- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Ingest throughput and memory of mailhelpdesk against the floor.")
    p.add_argument("--messages", type=int, default=5000, help="corpus size N (default 5000)")
    p.add_argument("--scale", type=int, default=1, help="also run N x SCALE messages and compare peak RSS")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--format", choices=("eml", "mbox"), default="eml", help="directory of .eml files or one mbox")
    p.add_argument("--plain", action="store_true", help="a corpus of small plain-text mails (threads, no HTML, "
                   "attachments, auto-replies or bounces)")
    p.add_argument("--database-url", help="postgres://USER:PW@HOST:PORT/DB: ingest into fresh databases "
                   "created (and dropped) on that server; the floor stays SQLite")
    p.add_argument("--via", choices=("api", "cli"), default="api",
                   help="Intake.receive in a worker (default) or the `mailhelpdesk ingest` command")
    p.add_argument("--parse-workers", type=int,
                   help="parse worker processes for batch ingest (default: the setting's default, "
                        "one on a multi-core machine); 0 parses in the main process")
    p.add_argument("--commit", choices=("batch", "message"), default="batch",
                   help="api: commit per batch like `mailhelpdesk ingest` (default) or per message")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each measurement K times, alternating, and keep the fastest (for busy machines)")
    p.add_argument("--no-floor", action="store_true", help="skip the floor runs")
    p.add_argument("--profile", type=Path, help="after the figures, run a cProfile'd ingest and write DIR/*.prof")
    p.add_argument("--workdir", type=Path, help="where corpora and databases go (default: a new temp dir)")
    p.add_argument("--keep", action="store_true", help="keep corpora and databases")
    p.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    # internal: the child-process side
    p.add_argument("--worker", choices=("floor", "ingest"), help=argparse.SUPPRESS)
    p.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--journal-mode", default="wal", help=argparse.SUPPRESS)
    p.add_argument("--synchronous", type=int, default=2, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return worker_main(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mhd-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = sys.stdout
    _print_header(out, workdir, args)
    sizes = [args.messages] + ([args.messages * args.scale] if args.scale > 1 else [])
    results = []
    for size in sizes:
        results.append(bench_size(args, workdir, size, out))
        out.flush()
    if len(results) == 2:
        _print_scale(out, results[0], results[1])
    out.write(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if args.json:
        args.json.write_text(json.dumps([_as_json(r) for r in results], indent=2, default=str) + "\n")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
