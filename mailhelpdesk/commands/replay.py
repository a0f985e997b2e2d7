"""``mailhelpdesk replay --rules NEW.yaml``: what a new rules file would change, shown on the stored mail.

Every stored inbound message (duplicates aside) is run through the real pipeline twice, in
its original order and at its original acceptance time: once with the configured rules file,
once with the new one, each into a fresh scratch SQLite database. The tickets of the two
runs are matched by the Message-ID of their first mail and their ruled fields compared.

Tortoise keeps one global connection, so the databases are opened one at a time: the real
one is only read (raw mail spooled to a file, companies copied), then each scratch one.
"""

import json
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from mailhelpdesk.app import build_runtime
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.commands.ingest import PARSE_AHEAD_MIN_MESSAGES
from mailhelpdesk.commands.progress import Progress
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.intake import IngestBatch, IntakeTally
from mailhelpdesk.rules.ruleset import load_rules
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.models import Company, Inbound, Ticket
from mailhelpdesk.store.sql import Sql

# The ticket fields rules decide, compared between the two runs.
COMPARED = ("urgency", "line", "team", "assignee", "status", "tags", "sla_policy", *DUE_COLUMNS.values())
SCRATCH_NAMES = {"current": "current.sqlite3", "new": "new.sqlite3"}

_PAGE = 500  # inbound summaries per query while spooling
_CHUNK_BYTES = 16 * 1024 * 1024  # raw bytes per query: a page of big mails must not fill memory
_LOOKAHEAD = 32  # messages handed to the parse workers before their turn...
_LOOKAHEAD_BYTES = 64 * 1024 * 1024  # ...and at most this many bytes of them
_LOOKUP = 200  # Message-IDs per IN (...) query


@dataclass(frozen=True, slots=True)
class Spooled:
    """One stored message, its bytes in the spool file at ``offset``."""

    inbound_id: int
    mailbox: str
    accepted_at: datetime
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Source:
    """What is read from the real database: the mail to replay and the companies it knows."""

    spool: Path
    items: list[Spooled]
    companies: list[tuple[str, str, bool, list[str]]]  # name, tier, auto-created, domains


@dataclass(frozen=True, slots=True)
class TicketView:
    number: int  # in its run, for ordering
    subject: str
    fields: dict[str, Any]  # COMPARED, as JSON values


@dataclass(slots=True)
class Run:
    """One replay: its tickets by the Message-ID of their first mail, and what intake did."""

    rules_file: Path | None
    database: Path
    tickets: dict[str, TicketView] = field(default_factory=dict)
    tally: IntakeTally = field(default_factory=IntakeTally)


@dataclass(frozen=True, slots=True)
class Entry:
    """A ticket in the report; ``fate`` says what the other rules did with its first mail."""

    message_id: str
    view: TicketView
    number: int | None = None  # the ticket holding this mail in the real database
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    fate: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    current: Run
    new: Run
    messages: int
    seconds: float
    changed: list[Entry]
    unchanged: int
    only_current: list[Entry]
    only_new: list[Entry]


class ReplayClock:
    """The pipeline's clock during a replay: each message's original acceptance time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def replay_command(settings: Settings, new_rules: Path, output: str, keep: Path | None,
                         out: TextIO, err: TextIO) -> int:
    """Print what ``new_rules`` would change; 1 if a rules file has problems. The real database is only read."""
    if not new_rules.is_file():
        raise ConfigError(f"replay: {new_rules}: no such rules file")
    if not all([_rules_ok(settings.rules_file, err), _rules_ok(new_rules, err)]):
        return 1
    started = time.monotonic()
    with _workdir(keep) as work:
        report = await _replay_both(settings, new_rules, work, err, started)
    out.write(json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n" if output == "json"
              else "\n".join(report_lines(report)) + "\n")
    return 0


def _rules_ok(path: Path | None, err: TextIO) -> bool:
    """Check a rules file before any work, printing its problems as ``file:line:column: message``."""
    if path is None:
        return True  # no rules file configured: the current run applies no rules
    problems = load_rules(path).problems
    for problem in problems:
        err.write(f"{problem}\n")
    if problems:
        err.write(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing replayed\n")
    return not problems


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    """A temporary directory, or ``keep`` (its scratch databases stay; the spool goes)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="mailhelpdesk-replay-") as temp:
            yield Path(temp)
        return
    taken = [keep / name for name in SCRATCH_NAMES.values() if (keep / name).exists()]
    if taken:
        raise ConfigError(f"replay: {taken[0]} exists; --keep needs a directory without earlier scratch databases")
    try:
        keep.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"replay: cannot create {keep}: {exc.strerror}") from exc
    try:
        yield keep.resolve()
    finally:
        (keep / "inbound.spool").unlink(missing_ok=True)


async def _replay_both(settings: Settings, new_rules: Path, work: Path, err: TextIO, started: float) -> Report:
    async with _opened(settings.database_url):
        source = Source(work / "inbound.spool", await _spool_inbound(work / "inbound.spool"),
                        await _read_companies())
    current = Run(settings.rules_file, work / SCRATCH_NAMES["current"])
    new = Run(new_rules, work / SCRATCH_NAMES["new"])
    for run in (current, new):
        await _replay(settings, source, run, err)
    report = await _compare(current, new, len(source.items), started)
    return await _with_real_numbers(settings.database_url, report)


@asynccontextmanager
async def _opened(database_url: str) -> AsyncIterator[None]:
    await open_database(database_url)
    try:
        yield
    finally:
        await close_database()


def _scratch_url(path: Path) -> str:
    return f"sqlite://{path}"


# --- reading the real database --------------------------------------------------------------


async def _spool_inbound(path: Path) -> list[Spooled]:
    """Copy the raw mail to replay into one file, in inbound order, a bounded chunk at a time."""
    items: list[Spooled] = []
    last = 0
    with path.open("wb") as handle:
        while page := await _inbound_page(last):
            for ids in _chunks(page):
                rows = await (Inbound.filter(id__in=ids).order_by("id")
                              .values("id", "mailbox", "raw_message", "accepted_at"))
                items += [_append(handle, row) for row in rows]
            last = page[-1][0]
    return items


async def _inbound_page(after: int) -> list[tuple[int, int]]:
    """Ids and sizes of the next stored messages; duplicates are left out (they added nothing)."""
    rows = await (Inbound.filter(id__gt=after).exclude(state=InboundState.DUPLICATE.value)
                  .order_by("id").limit(_PAGE).values_list("id", "size"))
    return [(int(r[0]), int(r[1])) for r in rows]


def _chunks(page: list[tuple[int, int]]) -> Iterator[list[int]]:
    chunk: list[int] = []
    size = 0
    for inbound_id, length in page:
        if chunk and size + length > _CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(inbound_id)
        size += length
    if chunk:
        yield chunk


def _append(handle: BinaryIO, row: dict[str, Any]) -> Spooled:
    raw = bytes(row["raw_message"])
    offset = handle.tell()
    handle.write(raw)
    return Spooled(int(row["id"]), str(row["mailbox"]), row["accepted_at"], offset, len(raw))


async def _read_companies() -> list[tuple[str, str, bool, list[str]]]:
    """Every company with its domains: seeded from other files or auto-created, they decide company matches."""
    rows = await Company.all().order_by("id").prefetch_related("domains")
    return [(c.name, c.tier, c.auto_created, sorted(d.domain for d in c.domains)) for c in rows]


# --- one replay ----------------------------------------------------------------------------


async def _replay(settings: Settings, source: Source, run: Run, err: TextIO) -> None:
    """The stored mail through the real pipeline with ``run.rules_file``, into a fresh scratch database."""
    scratch = replace(settings, database_url=_scratch_url(run.database), rules_file=run.rules_file)
    clock = ReplayClock()
    async with _opened(scratch.database_url):
        runtime = build_runtime(scratch, clock)
        runtime.rules.load()
        for name, tier, auto, domains in source.companies:
            await runtime.repo.create_company(name, domains, tier, auto)
        if run.rules_file is not None:  # after the copies, as ingest seeds over what the database has
            await seed_companies(runtime, run.rules_file)
        workers = settings.parse_worker_count() if len(source.items) >= PARSE_AHEAD_MIN_MESSAGES else 0
        progress = Progress(len(source.items), err)
        async with runtime.intake.batch(parse_workers=workers,
                                        max_message_bytes=settings.max_message_bytes) as batch:
            await _feed(batch, source, clock, run.tally, progress)
        progress.close()
        run.tickets = await _ticket_views()


async def _feed(batch: IngestBatch, source: Source, clock: ReplayClock, tally: IntakeTally,
                progress: Progress) -> None:
    """Receive every spooled message in order, announcing the next few to the parse workers first."""
    window: deque[tuple[Spooled, bytes]] = deque()
    ahead = 0
    with source.spool.open("rb") as handle:
        for item in source.items:
            handle.seek(item.offset)
            raw = handle.read(item.size)
            batch.parse_ahead(raw)
            window.append((item, raw))
            ahead += item.size
            while window and (len(window) > _LOOKAHEAD or ahead > _LOOKAHEAD_BYTES):
                ahead -= await _receive(batch, clock, tally, *window.popleft())
                progress.step()
    while window:
        await _receive(batch, clock, tally, *window.popleft())
        progress.step()


async def _receive(batch: IngestBatch, clock: ReplayClock, tally: IntakeTally, item: Spooled, raw: bytes) -> int:
    clock.now = item.accepted_at  # deadlines and dates as they were computed when the mail came in
    _, result = await batch.receive_tracked(item.mailbox, raw, f"replay of inbound {item.inbound_id}")
    tally.add(result)
    return item.size


async def _ticket_views() -> dict[str, TicketView]:
    """Every ticket of the open database by the Message-ID of its first mail; fields read by name."""
    first = {int(r[0]): str(r[1]) for r in await Sql().rows(
        'SELECT "ticket_id", "message_id" FROM "message" WHERE "id" IN'
        ' (SELECT MIN("id") FROM "message" WHERE "direction" = \'in\' GROUP BY "ticket_id")')}
    views: dict[str, TicketView] = {}
    last = 0
    while rows := await (Ticket.filter(id__gt=last).order_by("id").limit(_PAGE)
                         .values("id", "number", "subject", *COMPARED)):
        for row in rows:
            if row["id"] in first:
                views[first[row["id"]]] = TicketView(int(row["number"]), str(row["subject"]),
                                                     {name: _plain(row[name]) for name in COMPARED})
        last = int(rows[-1]["id"])
    return views


def _plain(value: Any) -> Any:
    """A field as a JSON value: times in ISO 8601 UTC, lists (tags) sorted."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        return sorted(value)
    return value


# --- comparing -----------------------------------------------------------------------------


async def _compare(current: Run, new: Run, messages: int, started: float) -> Report:
    changed: list[Entry] = []
    unchanged = 0
    for message_id, old in sorted(current.tickets.items(), key=lambda kv: kv[1].number):
        other = new.tickets.get(message_id)
        if other is None:
            continue
        changes = {n: (old.fields[n], other.fields[n]) for n in COMPARED if old.fields[n] != other.fields[n]}
        if changes:
            changed.append(Entry(message_id, old, changes=changes))
        else:
            unchanged += 1
    only_current = await _one_sided(current, new)
    only_new = await _one_sided(new, current)
    return Report(current, new, messages, time.monotonic() - started, changed, unchanged, only_current, only_new)


async def _one_sided(run: Run, other: Run) -> list[Entry]:
    """Tickets of ``run`` that ``other`` does not have, each with what ``other`` did with the mail."""
    missing = sorted((mid for mid in run.tickets if mid not in other.tickets), key=lambda m: run.tickets[m].number)
    if not missing:
        return []
    async with _opened(_scratch_url(other.database)):
        return [Entry(mid, run.tickets[mid], fate=await _fate(mid)) for mid in missing]


async def _fate(message_id: str) -> str:
    """What the open scratch database did with this mail: ignored (and why), quarantined, or threaded."""
    row = await Sql().first('SELECT "state", "reason", "step" FROM "inbound" WHERE "message_id" = ?'
                            ' ORDER BY "id" LIMIT 1', message_id)
    if row is None:
        return "not seen (its Message-ID was replaced, or the mail was not readable)"
    state, reason, step = (str(v) for v in row)
    if state != InboundState.INGESTED.value:
        return f"{state} ({reason or step})"
    first = await Sql().first(
        'SELECT f."message_id" FROM "message" m JOIN "message" f ON f."ticket_id" = m."ticket_id"'
        ' WHERE m."message_id" = ? AND f."direction" = \'in\' ORDER BY f."id" LIMIT 1', message_id)
    return f"threaded into the ticket of <{first[0]}>" if first else "ingested"


async def _with_real_numbers(database_url: str, report: Report) -> Report:
    """Name changed and vanishing tickets by their number in the real database (the one users know)."""
    wanted = [e.message_id for e in (*report.changed, *report.only_current)]
    if not wanted:
        return report
    numbers: dict[str, int] = {}
    async with _opened(database_url):
        for start in range(0, len(wanted), _LOOKUP):
            ids = wanted[start:start + _LOOKUP]
            numbers.update((str(r[0]), int(r[1])) for r in await Sql().rows(
                'SELECT m."message_id", t."number" FROM "message" m JOIN "ticket" t ON t."id" = m."ticket_id"'
                f' WHERE m."message_id" IN ({", ".join("?" * len(ids))})', *ids))
    return replace(report, changed=_numbered(report.changed, numbers),
                   only_current=_numbered(report.only_current, numbers))


def _numbered(entries: Sequence[Entry], numbers: dict[str, int]) -> list[Entry]:
    return [replace(e, number=numbers.get(e.message_id)) for e in entries]


# --- output --------------------------------------------------------------------------------


def report_lines(report: Report) -> list[str]:
    lines: list[str] = []
    for entry in report.changed:
        lines.append(_heading(entry))
        lines += [f"  {name}: {_shown(old)} → {_shown(new)}" for name, (old, new) in entry.changes.items()]
    for title, entries, other in (("only with the current rules", report.only_current, "the new rules"),
                                  ("only with the new rules", report.only_new, "the current rules")):
        lines += ["", f"{title}:"] if entries else []
        for entry in entries:
            lines += [_heading(entry), f"  with {other}: {entry.fate}"]
    return [*lines, *([""] if lines else []), *_summary(report)]


def _heading(entry: Entry) -> str:
    where = f"#{entry.number}" if entry.number is not None else f"<{entry.message_id}>"
    return f"{where} {entry.view.subject}"


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]"
    return str(value) if value != "" else "-"


def _summary(report: Report) -> list[str]:
    def rules(run: Run) -> str:
        return str(run.rules_file) if run.rules_file is not None else "none"

    return [f"tickets compared: {len(report.changed) + report.unchanged}",
            f"changed: {len(report.changed)}",
            f"unchanged: {report.unchanged}",
            f"only with the current rules: {len(report.only_current)}",
            f"only with the new rules: {len(report.only_new)}",
            f"current rules: {rules(report.current)}; new rules: {rules(report.new)}",
            *(f"intake with the {name} rules: {_tally(run.tally)}"
              for name, run in (("current", report.current), ("new", report.new))),
            f"messages replayed: {report.messages}, twice, in {report.seconds:.2f} s"]


def _tally(tally: IntakeTally) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {count}" for key, count in sorted(tally.counts.items())) or "nothing"


def report_json(report: Report) -> dict[str, Any]:
    def entry(e: Entry) -> dict[str, Any]:
        data: dict[str, Any] = {"number": e.number, "message_id": e.message_id, "subject": e.view.subject}
        if e.changes:
            data["changes"] = {name: {"old": old, "new": new} for name, (old, new) in e.changes.items()}
        else:
            data |= {"fields": e.view.fields, "other_rules": e.fate}
        return data

    return {
        "current_rules": str(report.current.rules_file) if report.current.rules_file is not None else None,
        "new_rules": str(report.new.rules_file),
        "messages": report.messages,
        "seconds": round(report.seconds, 3),
        "counts": {"compared": len(report.changed) + report.unchanged, "changed": len(report.changed),
                   "unchanged": report.unchanged, "only_current": len(report.only_current),
                   "only_new": len(report.only_new)},
        "changed": [entry(e) for e in report.changed],
        "only_current": [entry(e) for e in report.only_current],
        "only_new": [entry(e) for e in report.only_new],
        "intake": {"current": dict(report.current.tally.counts), "new": dict(report.new.tally.counts)},
    }
