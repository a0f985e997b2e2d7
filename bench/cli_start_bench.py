"""Command-line start-up benchmark: how long a read-only command takes, against the interpreter's floor.

    .venv/bin/python bench/cli_start_bench.py [--messages 1200] [--repeat 15] [--no-bytecode-cache]
        [--workdir DIR] [--keep]

It generates a deterministic corpus (bench/corpus.py), ingests it with ``mailhelpdesk ingest``
into a scratch SQLite database (a few hundred tickets), then times whole processes, each run
in turn so that a busy moment of the machine falls on all of them alike:

1. ``python -c pass``: the floor, an interpreter that starts and stops;
2. ``python -c "import mailhelpdesk.cli"``: what every command pays before parsing its arguments;
3. ``python -c "import mailhelpdesk.app"``: the whole runtime's imports, for reference;
4. ``mailhelpdesk tickets list`` and ``mailhelpdesk explain 1000``: read-only commands end to end.

Each figure is the best of ``--repeat`` runs, wall clock and CPU (user + system of the child),
with its ratio to the floor's. Then, in a child process after its imports, the time of opening
the database (the migrations check every command runs) and of one query.
Bytecode is cached under the work dir (``PYTHONPYCACHEPREFIX``), as an installed package has its
``.pyc`` files; ``--no-bytecode-cache`` compiles every module from source on every run instead.
A benchmark, not a test: it asserts nothing, and its figures depend on the machine.
"""

import argparse
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus import CorpusSpec, write_corpus

SECRET = "bench-secret-" + "x" * 40
FIRST_TICKET = 1000


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    argv: list[str]


@dataclass(slots=True)
class Timing:
    wall: list[float]
    cpu: list[float]


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m mailhelpdesk``."""
    script = Path(sys.executable).with_name("mailhelpdesk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailhelpdesk"]


def child_env(workdir: Path, bytecode_cache: bool) -> dict[str, str]:
    """Our environment without MAILHELPDESK_* settings, with a secret key and the chosen bytecode mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHELPDESK_")}
    env["MAILHELPDESK_SECRET_KEY"] = SECRET
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode_cache:  # outside the source tree, which stays untouched
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def prepare(workdir: Path, messages: int, env: dict[str, str]) -> tuple[Path, int]:
    """Generate the corpus and ingest it into a fresh database; the data dir and the ticket count."""
    corpus, data = workdir / "corpus", workdir / "data"
    write_corpus(CorpusSpec(messages=messages, seed=1), corpus)
    started = time.perf_counter()
    run = subprocess.run([*cli_command(), "--data-dir", str(data), "ingest", str(corpus)], cwd=workdir, env=env,
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"ingest failed ({run.returncode}):\n{run.stderr[-3000:]}")
    with sqlite3.connect(data / "mailhelpdesk.sqlite3") as db:
        tickets = int(db.execute("SELECT count(*) FROM ticket").fetchone()[0])
    print(f"ingested {messages} messages into {tickets} tickets in {time.perf_counter() - started:.1f} s")
    return data, tickets


def cases(data: Path) -> list[Case]:
    cli = [*cli_command(), "--data-dir", str(data)]
    return [
        Case("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        Case("import mailhelpdesk.cli", [sys.executable, "-c", "import mailhelpdesk.cli"]),
        Case("import mailhelpdesk.app (reference)", [sys.executable, "-c", "import mailhelpdesk.app"]),
        Case("mailhelpdesk tickets list", [*cli, "tickets", "list"]),
        Case(f"mailhelpdesk explain {FIRST_TICKET}", [*cli, "explain", str(FIRST_TICKET)]),
    ]


def run_once(case: Case, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run; a run that fails stops the bench (its figure would mean nothing)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(case.argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"{case.name} failed ({run.returncode}):\n{run.stderr.decode(errors='replace')[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(all_cases: list[Case], repeat: int, cwd: Path, env: dict[str, str]) -> dict[str, Timing]:
    """Every case once per round (after one untimed round that fills the bytecode cache)."""
    timings = {case.name: Timing([], []) for case in all_cases}
    for case in all_cases:
        run_once(case, cwd, env)
    for _ in range(repeat):
        for case in all_cases:
            wall, cpu = run_once(case, cwd, env)
            timings[case.name].wall.append(wall)
            timings[case.name].cpu.append(cpu)
    return timings


# The first open is what a command pays (it imports the SQLite backend and the migration modules);
# later opens in the same process show the check itself: build the graph, read the applied list.
_PHASES = """
import asyncio, io, sys, time
from mailhelpdesk.commands.tickets import list_tickets
from mailhelpdesk.store.db import close_database, open_database

async def main(url, repeat):
    opens, queries = [], []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        await open_database(url)
        opened = time.perf_counter()
        await list_tickets(io.StringIO(), None, 50)
        queries.append(time.perf_counter() - opened)
        await close_database()
        opens.append(opened - started)
    print(opens[0], min(opens[1:]), min(queries))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def phases(data: Path, repeat: int, cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """In one process, after its imports: the first and a later opening of the database, and the query."""
    url = f"sqlite://{data / 'mailhelpdesk.sqlite3'}"
    run = subprocess.run([sys.executable, "-c", _PHASES, url, str(repeat)], cwd=cwd, env=env, capture_output=True,
                         text=True, check=True)
    first, again, query = run.stdout.split()
    return float(first), float(again), float(query)


def report(timings: dict[str, Timing], opening: tuple[float, float, float]) -> None:
    floor = timings[next(iter(timings))]
    floor_wall, floor_cpu = min(floor.wall), min(floor.cpu)
    print(f"\n{'':<38} {'best wall':>10} {'× floor':>8} {'best CPU':>10} {'× floor':>8} {'median wall':>12}")
    for name, t in timings.items():
        wall, cpu, median = min(t.wall), min(t.cpu), sorted(t.wall)[len(t.wall) // 2]
        print(f"{name:<38} {wall * 1000:>7.0f} ms {wall / floor_wall:>7.1f}× {cpu * 1000:>7.0f} ms "
              f"{cpu / max(floor_cpu, 1e-6):>7.1f}× {median * 1000:>9.0f} ms")
    first, again, query = (x * 1000 for x in opening)
    print(f"\nin one process, after its imports: opening the database (migrations check included) {first:.1f} ms "
          f"the first time, {again:.1f} ms later (best); tickets list's query {query:.1f} ms (best)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mhd-cli-start-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env(workdir, not args.no_bytecode_cache)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; "
          f"bytecode {'cached' if not args.no_bytecode_cache else 'compiled on every run'}; work dir {workdir}; "
          f"load average {load}")
    try:
        data, _ = prepare(workdir, args.messages, env)
        timings = measure(cases(data), args.repeat, workdir, env)
        report(timings, phases(data, args.repeat, workdir, env))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=1200, help="messages to ingest (default 1200: ~370 tickets)")
    p.add_argument("--repeat", type=int, default=15, help="timed runs of each command; the best counts (15)")
    p.add_argument("--no-bytecode-cache", action="store_true", help="compile every module from source each run")
    p.add_argument("--workdir", type=Path, help="work here (kept) instead of a new temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
