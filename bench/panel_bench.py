"""Panel latency: p50/p95 of the queue list, the ticket page and search, beside the bare query.

A benchmark, not a test. It fills a database with N tickets (about 2.5 messages each) spread
over a year: those of the last 30 days are new, open, pending, resolved or closed (about 4 % of
all tickets are still open), older ones are done; urgencies, deadlines, assignees and teams
are mixed. It then times each page through the real web app in process (routing, login
check, the store, Jinja) against the same data read by the store alone (the floor: what the
database costs). Target: p95 < 100 ms.

    .venv/bin/python bench/panel_bench.py                          # 100,000 tickets on SQLite
    .venv/bin/python bench/panel_bench.py --tickets 1000000 --database-url postgres://USER@127.0.0.1:5432/postgres

On PostgreSQL the bench creates and drops a database of its own (the user needs CREATEDB).
"""

import argparse
import asyncio
import itertools
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailhelpdesk.app import running
from mailhelpdesk.config import load_settings
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.models import Message, Ticket
from mailhelpdesk.store.queues import Queues, Viewer
from mailhelpdesk.store.search import search_tickets
from mailhelpdesk.web.app import create_web_app

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AGENT = "anna@example.com"
RULES = ("teams:\n  dispatch: {line: 1}\n  network: {line: 2}\n"
         f"agents:\n  - {{email: {AGENT}, name: Anna, teams: [dispatch], role: admin}}\n"
         "  - {email: oleg@example.com, teams: [network]}\n")
WORDS = ("printer", "toner", "invoice", "vpn", "password", "mailbox", "backup", "server", "laptop", "license",
         "outage", "network", "принтер", "счёт", "пароль", "сервер", "доступ", "ошибка")
STATUSES = (("closed", 40), ("resolved", 15), ("open", 25), ("new", 8), ("pending", 12))
COMPANIES = 500


def rows(tickets: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Each ticket's row and its messages' rows."""
    rng = random.Random(seed)
    for i in range(1, tickets + 1):
        created = NOW - timedelta(minutes=rng.randint(10, 60 * 24 * 365))
        # A year of tickets: what came in the last month is still being worked, the rest is done.
        recent = NOW - created < timedelta(days=30)
        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0] if recent else \
            rng.choice(("closed", "closed", "closed", "resolved"))
        due = created + timedelta(hours=rng.choice((1, 4, 8, 24))) if status in ("new", "open") else None
        subject = " ".join(rng.choices(WORDS, k=3)).capitalize()
        assignee = rng.choice(("", "", AGENT, "oleg@example.com"))
        ticket = (i, 1000 + i, subject, subject.lower(), status, rng.choice(("low", "normal", "normal", "high",
                  "critical")), rng.choice((1, 1, 2, 3)), rng.choice(("dispatch", "network", "")), "support",
                  i % COMPANIES + 1, i % (tickets // 4 + 1) + 1, created, created + timedelta(hours=2), assignee,
                  "[]", "", due, due)
        messages = [(i, f"<m{i}.{n}@bench>", f"user{i % 997}@c{i % COMPANIES}.example", subject,
                     created + timedelta(minutes=n), _text(rng))
                    for n in range(rng.choice((1, 2, 2, 3, 4)))]
        yield ticket, messages


# Words of mail bodies: a few thousand made-up words, the first ones far more common (Zipf), as
# in real text; the subjects' words above are common ones.
VOCABULARY = [a + b + c for a in ("ka", "mo", "ri", "te", "su", "pa", "lo", "ne", "vi", "do") for b in
              ("rin", "tas", "mel", "dor", "kup", "sen", "val", "mir", "tol", "gar") for c in
              ("a", "o", "i", "en", "us", "er", "ik", "ov", "um", "el")]
CUMULATIVE = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))


def _text(rng: random.Random) -> str:
    return " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=40)) + " " + rng.choice(WORDS)


TICKET_COLUMNS = ("id", "number", "subject", "normalized_subject", "status", "urgency", "line", "team", "mailbox",
                  "company_id", "requester_id", "created_at", "updated_at", "assignee", "tags", "sla_policy",
                  "first_response_due", "next_due")
MESSAGE_COLUMNS = ("ticket_id", "message_id", "from_addr", "subject", "date", "text")
MESSAGE_FIXED = {"fingerprint": "", "in_reply_to": "[]", "references": "[]", "direction": "in",
                 "visibility": "public", "from_name": "", "to": "[]", "cc": "[]", "reply_text": "", "html": "",
                 "html_sanitized": "", "flags": "{}", "thread_signal": ""}


async def fill(url: str, tickets: int) -> float:
    """Migrate, then insert everything in bulk through the raw driver; seconds taken."""
    await open_database(url)
    await close_database()
    started = time.perf_counter()
    if url.startswith("sqlite://"):
        _fill_sqlite(url.removeprefix("sqlite://"), tickets)
    else:
        await _fill_postgres(url, tickets)
    return time.perf_counter() - started


def _people(tickets: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    companies = [(c, f"Company {c}", "standard", False, NOW) for c in range(1, COMPANIES + 1)]
    contacts = [(c, f"user{c}@c{c % COMPANIES}.example", f"User {c}", c % COMPANIES + 1, NOW)
                for c in range(1, tickets // 4 + 2)]
    return companies, contacts


def _fill_sqlite(path: str, tickets: int) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    companies, contacts = _people(tickets)
    db.executemany("INSERT INTO company (id, name, tier, auto_created, created_at) VALUES (?,?,?,?,?)",
                   [(*c[:4], c[4].isoformat(" ")) for c in companies])
    db.executemany("INSERT INTO contact (id, email, name, company_id, created_at) VALUES (?,?,?,?,?)",
                   [(*c[:4], c[4].isoformat(" ")) for c in contacts])
    fixed_names = ", ".join(f'"{n}"' for n in MESSAGE_FIXED)
    message_sql = (f'INSERT INTO message ({", ".join(MESSAGE_COLUMNS)}, {fixed_names}, created_at) VALUES '
                   f'({", ".join("?" * len(MESSAGE_COLUMNS))}, {", ".join("?" * len(MESSAGE_FIXED))}, ?)')
    ticket_sql = f'INSERT INTO ticket ({", ".join(TICKET_COLUMNS)}) VALUES ({", ".join("?" * len(TICKET_COLUMNS))})'
    for ticket, messages in rows(tickets, 1):
        db.execute(ticket_sql, [_sqlite(v) for v in ticket])
        db.executemany(message_sql, [[*map(_sqlite, m), *MESSAGE_FIXED.values(), _sqlite(m[4])] for m in messages])
    db.commit()
    db.close()


def _sqlite(value: Any) -> Any:
    return value.isoformat(" ") if isinstance(value, datetime) else value


async def _fill_postgres(url: str, tickets: int) -> None:
    import asyncpg

    db = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    companies, contacts = _people(tickets)
    await db.copy_records_to_table("company", records=companies,
                                   columns=["id", "name", "tier", "auto_created", "created_at"])
    await db.copy_records_to_table("contact", records=contacts,
                                   columns=["id", "email", "name", "company_id", "created_at"])
    batch_t: list[tuple[Any, ...]] = []
    batch_m: list[tuple[Any, ...]] = []
    for ticket, messages in rows(tickets, 1):
        batch_t.append(ticket)
        batch_m += [(*m, *MESSAGE_FIXED.values(), m[4]) for m in messages]
        if len(batch_t) >= 20_000:
            await _copy(db, batch_t, batch_m)
            batch_t, batch_m = [], []
    await _copy(db, batch_t, batch_m)
    for table in ("company", "contact", "ticket", "message"):
        await db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await db.execute(f"VACUUM ANALYZE {table}")  # as autovacuum leaves a table at rest
    await db.close()


async def _copy(db: Any, tickets: list[tuple[Any, ...]], messages: list[tuple[Any, ...]]) -> None:
    await db.copy_records_to_table("ticket", records=tickets, columns=list(TICKET_COLUMNS))
    await db.copy_records_to_table("message", records=messages,
                                   columns=[*MESSAGE_COLUMNS, *MESSAGE_FIXED, "created_at"])


async def timed(repeat: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    await call()  # warm: caches, prepared statements
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p(values: Sequence[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


async def measure(url: str, data_dir: Path, tickets: int, repeat: int) -> None:
    rules = data_dir / "rules.yaml"
    rules.write_text(RULES)
    settings = load_settings(overrides={"database_url": url, "data_dir": data_dir, "rules_file": rules},
                             environ={"MAILHELPDESK_SECRET_KEY": "bench-" + "k" * 40})
    async with running(settings) as rt:
        rt.rules.load()
        session = await AccountStore().open_session(AGENT, datetime.now(UTC))
        app = create_web_app(rt, clock=lambda: NOW)
        headers = {"cookie": f"mhd_session={session}", "host": "127.0.0.1"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            await _report(http, headers, tickets, repeat)


async def _report(http: httpx.AsyncClient, headers: dict[str, str], tickets: int, repeat: int) -> None:
    viewer, queues = Viewer(AGENT, ("dispatch",)), Queues()
    busiest = await Ticket.filter(status="open").order_by("-id").first()
    assert busiest is not None
    deep = (await queues.page("open", viewer, NOW, "due", size=2000)).next_cursor

    async def get(path: str) -> None:
        response = await http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])

    cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
        ("queue: all open, by due", lambda: get("/?queue=open"),
         lambda: _queue_floor(queues, viewer, "open", "due", "")),
        ("queue: page 41, by due", lambda: get(f"/?queue=open&after={deep}"),
         lambda: _queue_floor(queues, viewer, "open", "due", deep)),
        ("queue: mine, by urgency", lambda: get("/?queue=mine&sort=urgency"),
         lambda: _queue_floor(queues, viewer, "mine", "urgency", "")),
        ("queue: recently closed", lambda: get("/?queue=closed&sort=updated"),
         lambda: _queue_floor(queues, viewer, "closed", "updated", "")),
        ("ticket page", lambda: get(f"/tickets/{busiest.number}"),
         lambda: Message.filter(ticket_id=busiest.id).prefetch_related("attachments")),
        ("search: two words", lambda: get("/search?q=printer+toner"), lambda: search_tickets("printer toner")),
        ("search: from:", lambda: get("/search?q=from:user7@c7.example"),
         lambda: search_tickets("from:user7@c7.example")),
    ]
    print(f"{tickets:,} tickets; {repeat} requests each; milliseconds")
    print(f"{'page':28} {'p50':>8} {'p95':>8}   {'floor p50':>9} {'floor p95':>9}")
    for name, page, floor in cases:
        pages, floors = await timed(repeat, page), await timed(repeat, floor)
        print(f"{name:28} {p(pages, 50):8.1f} {p(pages, 95):8.1f}   {p(floors, 50):9.1f} {p(floors, 95):9.1f}")


async def _queue_floor(queues: Queues, viewer: Viewer, queue: str, sort: str, after: str) -> None:
    await queues.page(queue, viewer, NOW, sort, after=after)
    await queues.counts(viewer, NOW)


async def main() -> None:
    logging.disable(logging.INFO)  # the app logs every request
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (default: SQLite in a temp dir)")
    parser.add_argument("--keep", metavar="NAME", default="",
                        help="PostgreSQL: fill database NAME once and keep it; later runs measure it again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mhd-panel-bench-") as tmp:
        url = f"sqlite://{tmp}/bench.sqlite3"
        admin_url = args.database_url
        fresh = True
        if admin_url:
            import asyncpg

            name = args.keep or f"panel_bench_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
            fresh = not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if fresh:
                await admin.execute(f'CREATE DATABASE "{name}"')
            url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            if fresh:
                print(f"filled in {await fill(url, args.tickets):.0f} s")
            await measure(url, Path(tmp), args.tickets, args.repeat)
        finally:
            if admin_url:
                if not args.keep:
                    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
