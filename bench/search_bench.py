"""Search benchmark: ``search_tickets`` on a large SQLite database, next to the bare FTS5 query.

    .venv/bin/python bench/search_bench.py [--messages 100000] [--repeat 20] [--seed 1] [--workdir DIR]
        [--database-url postgres://USER@HOST:PORT/postgres]

Builds a fresh SQLite database through the migrations (so the FTS5 table and its triggers are
the real ones; or, with --database-url, a PostgreSQL database made and dropped on that server,
with its GIN index), then fills it with bulk INSERTs straight into the tables: N messages in threads
of 1-6 (so about N/3 tickets), 2,000 companies, N/8 contacts; bodies of 40-250 words mixing the
benchmark vocabulary (very common words), a Zipf-distributed synthetic vocabulary (rare words)
and error codes. Each search then runs ``--repeat`` times; p50 and p95 are printed, with the
floor for word searches: the same words as a bare ``SELECT rowid FROM message_fts WHERE
message_fts MATCH ?`` on a plain sqlite3 connection (on PostgreSQL ``SELECT id FROM message
WHERE <the indexed tsvector> @@ to_tsquery(…)``), all rows fetched: what a search that lists
every match costs before it joins tickets, orders them and makes snippets.
This is a benchmark, not a test: it asserts nothing and CI does not run it.
"""

import argparse
import asyncio
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.transactions import in_transaction
from vocab import LANGUAGES, SYLLABLES

from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.search import POSTGRES_VECTOR, fts5_match, parse_query, search_tickets, tsquery
from mailhelpdesk.store.sql import Sql

STATUSES = (("new", 10), ("open", 25), ("pending", 10), ("resolved", 15), ("closed", 40))
COMPANIES = 2000
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Corpus:
    """What the searches ask for, picked from the generated data."""

    rare_word: str
    medium_word: str  # in about 1 message of 35
    code: str
    address: str
    domain: str
    company: str
    number: int


# --- filling the database --------------------------------------------------------------------------


def rare_vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def body(rng: random.Random, rare: Sequence[str], weights: Sequence[float]) -> str:
    """``weights`` are cumulative: random.choices adds them up on every call otherwise."""
    language = rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]
    count = rng.randint(40, 250)
    common = rng.choices(language.words, k=count * 2 // 3)
    uncommon = rng.choices(rare, cum_weights=weights, k=count // 3)
    words = common + uncommon + [f"E{rng.randint(1000, 9999)}"]
    rng.shuffle(words)
    return (" " if language.spaced else "").join(words)


@dataclass(slots=True)
class Rows:
    """The generated rows, table by table, in the order they must be inserted."""

    companies: list[tuple[Any, ...]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)


INSERTS = {  # placeholders only: Sql.insert_many repeats the VALUES group
    "companies": "INSERT INTO company (id, name, tier, auto_created, created_at) VALUES (?, ?, ?, ?, ?)",
    "contacts": "INSERT INTO contact (id, email, name, company_id, created_at) VALUES (?, ?, ?, ?, ?)",
    "tickets": "INSERT INTO ticket (id, number, subject, normalized_subject, status, urgency, line, team, mailbox,"
               " company_id, requester_id, created_at, updated_at, assignee, tags, sla_policy)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "messages": "INSERT INTO message (ticket_id, message_id, fingerprint, in_reply_to, \"references\", direction,"
                " visibility, from_name, from_addr, \"to\", cc, subject, date, text, reply_text, html,"
                " html_sanitized, flags, thread_signal, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


def generate(messages: int, seed: int) -> tuple[Rows, Corpus]:
    rng, rows = random.Random(seed), Rows()
    rare = rare_vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(rare))))  # Zipf
    names = [f"{''.join(rng.choice(SYLLABLES) for _ in range(3)).title()} {i}" for i in range(COMPANIES)]
    rows.companies = [(i + 1, name, "standard", False, NOW) for i, name in enumerate(names)]
    contacts = [(i + 1, f"user{i}@c{i % COMPANIES}.example", i % COMPANIES + 1) for i in range(max(1, messages // 8))]
    rows.contacts = [(contact_id, email, "", company_id, NOW) for contact_id, email, company_id in contacts]
    for ticket_id, thread in enumerate(threads(rng, messages), start=1):
        contact_id, email, company_id = rng.choice(contacts)
        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        subject = " ".join(rng.choices(rare, cum_weights=weights, k=3)).capitalize()
        rows.tickets.append((ticket_id, 999 + ticket_id, subject, subject.lower(), status, "normal", 1, "",
                             "support", company_id, contact_id, NOW, NOW, "", "[]", ""))
        rows.messages.extend((ticket_id, f"<m{ticket_id}.{i}@bench>", "", "[]", "[]", "in", "public", "", email,
                              "[]", "[]", subject, NOW, body(rng, rare, weights), "", "", "", "{}", "", NOW)
                             for i in range(thread))
    corpus = Corpus(rare[len(rare) // 2], rare[150], "E4217", contacts[7][1], "c7.example", names[7].split()[0], 1500)
    return rows, corpus


def fill_sqlite(path: Path, rows: Rows) -> None:
    """Straight through sqlite3, one transaction: the triggers index every message as it comes."""
    db = sqlite3.connect(path)
    for table, sql in INSERTS.items():
        db.executemany(sql, [[_sqlite(v) for v in row] for row in getattr(rows, table)])
    db.commit()
    db.close()


async def fill_postgres(url: str, rows: Rows) -> None:
    await open_database(url)
    try:
        async with in_transaction():
            for table, sql in INSERTS.items():
                await Sql().insert_many(sql, getattr(rows, table))
        await Tortoise.get_connection("default").execute_script("ANALYZE")
    finally:
        await close_database()


def _sqlite(value: Any) -> Any:
    return value.isoformat(" ") if isinstance(value, datetime) else value


def threads(rng: random.Random, messages: int) -> Iterator[int]:
    left = messages
    while left > 0:
        size = min(left, rng.randint(1, 6))
        left -= size
        yield size


# --- measuring -------------------------------------------------------------------------------------


def searches(corpus: Corpus) -> list[str]:
    return [
        "invoice",  # a very common word
        "invoice portal",  # two common words
        "invo",  # a prefix
        f'"{corpus.medium_word}"',  # a word in 1 message of 35 (quoted: no prefix)
        corpus.rare_word,  # a rare word (and the words it starts)
        corpus.code,  # an error code
        "счёт неверно",  # Cyrillic
        "ВОЙТИ",
        f"from:{corpus.address}",
        f"from:{corpus.domain}",
        f"company:{corpus.company}",
        "status:open invoice",
        f"from:{corpus.domain} invoice",
        f"#{corpus.number}",
    ]


async def timed(repeat: int, call: Callable[[], Any]) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - start) * 1000)
    return times, result


async def measure(url: str, corpus: Corpus, repeat: int) -> None:
    await open_database(url)
    try:
        print(f"{'query':34} {'hits':>5} {'p50 ms':>8} {'p95 ms':>8}   {'floor rows':>10} {'p50 ms':>8} {'p95 ms':>8}")
        for query in searches(corpus):
            ours, hits = await timed(repeat, lambda q=query: search_tickets(q))  # type: ignore[misc]
            print(f"{query[:34]:34} {len(hits):5} {p(ours, 50):8.1f} {p(ours, 95):8.1f}   "
                  f"{await floor(url, query, repeat)}")
    finally:
        await close_database()


async def floor(url: str, query: str, repeat: int) -> str:
    """The bare full-text query for the same words, every matching message id fetched: on
    SQLite through a plain sqlite3 connection, on PostgreSQL through the same pool."""
    asked = parse_query(query)
    if not asked.words:
        return f"{'n/a':>10}"
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite://"))
        match = fts5_match(asked.words, asked.prefix)
        times, rows = await timed(repeat, lambda: _async(raw.execute(
            'SELECT rowid FROM "message_fts" WHERE "message_fts" MATCH ?', (match,)).fetchall))
        raw.close()
    else:
        times, rows = await timed(repeat, lambda: _postgres_floor(tsquery(asked.words, asked.prefix)))
    return f"{len(rows):10} {p(times, 50):8.1f} {p(times, 95):8.1f}"


async def _postgres_floor(text: str) -> list[Any]:
    async with in_transaction():  # planned for its words, as search_tickets does
        await Sql().execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await Sql().rows(f"SELECT m.id FROM message m WHERE {POSTGRES_VECTOR} @@ to_tsquery('simple', ?)", text)


async def _async(call: Callable[[], Any]) -> Any:
    return call()


def p(values: Sequence[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] if len(values) > 1 else values[0]


async def build(url: str) -> None:
    await open_database(url)  # the migrations: tables, the full-text index (and on SQLite its triggers)
    await close_database()


def postgres_database(server_url: str) -> tuple[str, str]:
    """A new database's name and URL on the server of ``server_url`` (created by the caller)."""
    name = f"search_bench_{uuid.uuid4().hex[:8]}"
    return name, urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def on_server(server_url: str, statement: str) -> None:
    """CREATE or DROP DATABASE, which no transaction may hold: a plain driver connection."""
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="postgres://USER@HOST:PORT/DB: a server where USER may create a "
                                               "database (made and dropped by the run) instead of SQLite")
    parser.add_argument("--workdir", type=Path, help="SQLite: build the database here and keep it")
    args = parser.parse_args()
    rows, corpus = generate(args.messages, args.seed)
    if args.database_url:
        run_postgres(args, rows, corpus)
    else:
        run_sqlite(args, rows, corpus)


def run_sqlite(args: argparse.Namespace, rows: Rows, corpus: Corpus) -> None:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mhd-search-"))
    path = workdir / "search.sqlite3"
    path.unlink(missing_ok=True)
    url = f"sqlite://{path}"
    asyncio.run(build(url))
    start = time.perf_counter()
    fill_sqlite(path, rows)
    print(f"SQLite {sqlite3.sqlite_version}: {args.messages} messages, {len(rows.tickets)} tickets filled in "
          f"{time.perf_counter() - start:.1f} s (indexed by the triggers), {path.stat().st_size / 2**20:.0f} MB; "
          f"{args.repeat} runs per query")
    asyncio.run(measure(url, corpus, args.repeat))
    if not args.workdir:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()


def run_postgres(args: argparse.Namespace, rows: Rows, corpus: Corpus) -> None:
    name, url = postgres_database(args.database_url)
    asyncio.run(on_server(args.database_url, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(build(url))
        start = time.perf_counter()
        asyncio.run(fill_postgres(url, rows))
        print(f"PostgreSQL: {args.messages} messages, {len(rows.tickets)} tickets filled in "
              f"{time.perf_counter() - start:.1f} s (GIN index kept by the server); {args.repeat} runs per query")
        asyncio.run(measure(url, corpus, args.repeat))
    finally:
        asyncio.run(on_server(args.database_url, f'DROP DATABASE IF EXISTS "{name}"'))


if __name__ == "__main__":
    main()
