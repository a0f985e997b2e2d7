"""Search over tickets for agents: words in subjects and bodies, sender, company, status, number.

``search_tickets`` is what the panel's search page calls, and what the REST API will call: it
takes the text an agent typed and returns plain ``SearchHit`` values. The syntax is in
docs/search.md. Words go to the engine's full-text index (SQLite FTS5 over ``message_fts``,
PostgreSQL's GIN index on the stored ``message.search_vector``; migrations 0008 and 0011), each term quoted, so
nothing typed can change the meaning of the query or make it fail.

A hit is a ticket. Words must all occur in one of its messages (subject or body, internal notes
included: only agents search). Tickets merged into another are left out: their mail moved to the
target, where it is found; asking for a merged ticket's number shows the target.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections

from mailhelpdesk.store.models import INT4_MAX
from mailhelpdesk.store.sql import Sql, from_db_datetime, to_json
from mailhelpdesk.store.transactions import transaction

MAX_QUERY_CHARS = 500  # an agent's query, not a document: the rest is ignored
MAX_TERMS = 12  # each word is one more lookup in the index
MAX_LIMIT = 200
MIN_PREFIX = 2  # "a*" would read a good part of the index
SNIPPET_CHARS = 240
FILTERS = ("from", "company", "status")
_MERGE_HOPS = 10  # a merge chain longer than this is a loop made by hand: stop following it
# A term counts only if it has a letter or digit: "***" or "-" alone finds nothing.
_WORDLIKE = re.compile(r"[^\W_]")
_TOKEN = re.compile(r'"([^"]*)"?|([^\s"]+)(?:"([^"]*)"?)?')
_MARK_START, _MARK_END = "\x02", "\x03"  # around matches in the engines' snippets
_MARKS = re.compile(f"{_MARK_START}(.*?){_MARK_END}", re.S)
# The text the stored vector is made of (migration 0011), for the snippets.
_PG_DOCUMENT = """left(coalesce(m."subject", '') || ' ' || coalesce(m."text", ''), 100000)"""
POSTGRES_VECTOR = 'm."search_vector"'  # indexed (GIN), computed by the database from _PG_DOCUMENT
# The domain of message s's sender, as migration 0008 indexed it (from:acme.com).
SQLITE_SENDER_DOMAIN = """substr(s."from_addr", instr(s."from_addr", '@') + 1)"""
POSTGRES_SENDER_DOMAIN = """substr(s."from_addr", strpos(s."from_addr", '@') + 1)"""
_PG_HEADLINE_OPTIONS = (f'StartSel="{_MARK_START}", StopSel="{_MARK_END}", MaxWords=30, MinWords=12, '
                        'MaxFragments=2, FragmentDelimiter=" … "')


@dataclass(frozen=True, slots=True)
class SearchHit:
    number: int
    subject: str
    status: str
    urgency: str
    requester_email: str
    company_name: str | None
    updated_at: datetime
    snippet: str  # plain text: the matching passage, or the start of the latest mail
    # The snippet in pieces, True where a searched word matched (for highlighting).
    snippet_parts: tuple[tuple[str, bool], ...] = ()
    merged_from: int | None = None  # the number asked for, when this ticket is the one it was merged into


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What an agent's text asks for; the words are as typed (a quoted phrase is one word)."""

    words: tuple[str, ...] = ()
    prefix: bool = False  # the last word may be the start of a longer one
    tickets: tuple[int, ...] = ()  # numbers asked for: these tickets come first
    senders: tuple[str, ...] = ()  # addresses or domains, lower case
    companies: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    @property
    def has_filters(self) -> bool:
        return bool(self.words or self.senders or self.companies or self.statuses)


@dataclass(slots=True)
class _Parsed:
    words: list[tuple[str, bool]] = field(default_factory=list)  # (text, quoted)
    tickets: list[int] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in FILTERS})


def parse_query(text: str) -> SearchQuery:
    """``printer "error E42" from:acme.com company:Acme status:open #1042`` → a ``SearchQuery``."""
    parsed = _Parsed()
    for match in list(_TOKEN.finditer(text[:MAX_QUERY_CHARS]))[:MAX_TERMS]:
        quoted, bare, tail = match.groups()
        if bare is not None and tail is not None and bare.endswith(":") and bare[:-1].lower() in FILTERS:
            _add_filter(parsed, bare[:-1], tail)  # company:"Acme Corp"
            continue
        if bare is not None:
            _add_term(parsed, bare)
        phrase = quoted if quoted is not None else tail
        if phrase is not None and phrase.strip():
            parsed.words.append((phrase, True))
    words = [(w, q) for w, q in parsed.words if _WORDLIKE.search(w)]
    if not parsed.tickets and len(words) == 1 and not any(parsed.filters.values()):
        number = _ticket_number(words[0][0])  # a number alone is probably a ticket's
        parsed.tickets.extend([number] if number is not None else [])
    last, quoted = words[-1] if words else ("", True)
    return SearchQuery(
        words=tuple(w for w, _ in words),
        prefix=not quoted and len(last) >= MIN_PREFIX and not last.isdigit(),
        tickets=tuple(dict.fromkeys(parsed.tickets)),
        senders=tuple(dict.fromkeys(s.lower().strip() for s in parsed.filters["from"])),
        companies=tuple(dict.fromkeys(parsed.filters["company"])),
        statuses=tuple(dict.fromkeys(s.lower() for s in parsed.filters["status"])),
    )


def _add_term(parsed: _Parsed, term: str) -> None:
    """An unquoted term: a filter (``key:value``), a ticket (``#N``) or a word."""
    key, colon, value = term.partition(":")
    if colon and key.lower() in FILTERS:
        _add_filter(parsed, key, value)
    elif term.startswith("#") and (number := _ticket_number(term[1:])) is not None:
        parsed.tickets.append(number)
    else:
        parsed.words.append((term, False))


def _add_filter(parsed: _Parsed, key: str, value: str) -> None:
    if value.strip():  # "from:" with nothing after it asks for nothing
        parsed.filters[key.lower()].append(value.strip())


def _ticket_number(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= INT4_MAX else None


def fts5_match(words: Sequence[str], prefix: bool) -> str:
    """An FTS5 MATCH string: every word a quoted string (``"`` doubled), all required."""
    terms = ['"' + word.replace('"', '""') + '"' for word in words]
    if prefix and terms:
        terms[-1] += "*"
    return " ".join(terms)


def tsquery(words: Sequence[str], prefix: bool) -> str:
    """A ``to_tsquery`` text: every word a quoted lexeme (``'`` doubled, ``\\`` escaped), joined by &."""
    terms = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words]
    if prefix and terms:
        terms[-1] += ":*"
    return " & ".join(terms)


@dataclass(frozen=True, slots=True)
class _Engine:
    """The SQL that differs between SQLite (FTS5) and PostgreSQL (tsvector)."""

    postgres: bool
    # (ticket id, message id) of the messages with every word below a message id, newest first,
    # of tickets meeting ``{conditions}``; parameters: the words, the id, the conditions', the limit.
    # None: the engine cannot read its matches newest first cheaply.
    matches: str | None
    # All at once: (ticket id, its newest matching message id) of the tickets meeting
    # ``{conditions}``, newest first; parameters: the conditions', the words, the limit.
    matches_within: str
    in_ids: str  # ``IN`` a list of ids passed as one parameter
    snippets: str  # (message id, passage with the matches marked) of some messages
    sender_domain: str

    def match(self, asked: SearchQuery) -> str:
        return (tsquery if self.postgres else fts5_match)(asked.words, asked.prefix)

    def ids(self, ids: Sequence[int]) -> Any:
        return list(ids) if self.postgres else to_json(list(ids))

    def snippet_params(self, match: str, message_ids: Sequence[int]) -> tuple[Any, ...]:
        if self.postgres:
            return match, _PG_HEADLINE_OPTIONS, self.ids(message_ids)
        return match, min(message_ids), max(message_ids), self.ids(message_ids)


_SQLITE = _Engine(
    postgres=False,
    matches='SELECT m."ticket_id", "message_fts".rowid FROM "message_fts" JOIN "message" m'
            ' ON m."id" = "message_fts".rowid JOIN "ticket" t ON t."id" = m."ticket_id"'
            ' WHERE "message_fts" MATCH ? AND "message_fts".rowid < ? AND {conditions}'
            ' ORDER BY "message_fts".rowid DESC LIMIT ?',
    # The matches are listed once and each message of the tickets looked up in the list ("+"
    # keeps SQLite from turning the list into one index probe per ticket and match instead).
    matches_within='SELECT m."ticket_id", max(m."id") AS "newest" FROM "ticket" t JOIN "message" m'
                   ' ON m."ticket_id" = t."id" WHERE {conditions} AND +m."id" IN'
                   ' (SELECT rowid FROM "message_fts" WHERE "message_fts" MATCH ?)'
                   ' GROUP BY m."ticket_id" ORDER BY "newest" DESC LIMIT ?',
    in_ids='IN (SELECT "value" FROM json_each(?))',
    # Asked for by rowid, FTS5 would load the words' whole lists once per row: read them once
    # over the range the messages span instead ("+" keeps the list from being asked by rowid),
    # and make a snippet only for the rows in the list.
    snippets='SELECT rowid, snippet("message_fts", -1, char(2), char(3), \'…\', 24) FROM "message_fts"'
             ' WHERE "message_fts" MATCH ? AND rowid BETWEEN ? AND ? AND +rowid IN (SELECT "value" FROM json_each(?))',
    sender_domain=SQLITE_SENDER_DOMAIN,
)
_POSTGRES = _Engine(
    postgres=True,
    # Newest first, PostgreSQL would walk the primary key and compute each message's vector
    # until enough match: fine for a word in every other mail, seconds for one in 1 of 100.
    # Through the index, the cost follows the number of matches instead.
    matches=None,
    matches_within=f'SELECT m."ticket_id", max(m."id") AS "newest" FROM "ticket" t JOIN "message" m'
                   f' ON m."ticket_id" = t."id" WHERE {{conditions}} AND {POSTGRES_VECTOR} @@ to_tsquery(\'simple\', ?)'
                   ' GROUP BY m."ticket_id" ORDER BY "newest" DESC LIMIT ?',
    in_ids="= ANY(?)",
    snippets=f'SELECT m."id", ts_headline(\'simple\', {_PG_DOCUMENT}, to_tsquery(\'simple\', ?), ?)'
             ' FROM "message" m WHERE m."id" = ANY(?)',
    sender_domain=POSTGRES_SENDER_DOMAIN,
)
_TICKET_COLUMNS = ('SELECT t."id", t."number", t."subject", t."status", t."urgency", c."email", co."name",'
                   ' t."updated_at", t."merged_into" FROM "ticket" t JOIN "contact" c ON c."id" = t."requester_id"'
                   ' LEFT JOIN "company" co ON co."id" = t."company_id"')
_LATEST = ('SELECT m."ticket_id", substr(coalesce(nullif(m."reply_text", \'\'), m."text"), 1, 1000) FROM "message" m'
           ' WHERE m."id" IN (SELECT max(s."id") FROM "message" s WHERE s."ticket_id" {in_ids} GROUP BY s."ticket_id")')
_NO_ID_ABOVE = 2**63 - 1
_MAX_BATCH = 5000
_PG_MESSAGES_ONLY = (f'SELECT m."ticket_id", max(m."id") AS "newest" FROM "message" m WHERE m."id" > ?'
                     f' AND {POSTGRES_VECTOR} @@ to_tsquery(\'simple\', ?) GROUP BY m."ticket_id"'
                     ' ORDER BY "newest" DESC LIMIT ?')
_FIRST_WINDOW = 5_000  # messages: PostgreSQL looks for a word among the newest this many first
_Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class _Found:
    row: _Row  # _TICKET_COLUMNS
    message_id: int | None = None  # its newest message with every word
    merged_from: int | None = None

    @property
    def ticket_id(self) -> int:
        return int(self.row[0])


def _engine() -> _Engine:
    return _POSTGRES if connections.get("default").capabilities.dialect == "postgres" else _SQLITE


async def search_tickets(query: str, limit: int = 50) -> list[SearchHit]:
    """The tickets ``query`` asks for: those asked for by number first; then, for words, the
    tickets whose matching mail is newest first, for filters alone the newest tickets first.

    Never raises for what an agent can type: a query with nothing to search for finds nothing.
    """
    asked, engine, limit = parse_query(query), _engine(), max(1, min(limit, MAX_LIMIT))
    if not engine.postgres:
        return await _search(Sql(), engine, asked, limit)
    async with transaction():
        # A prepared statement gets a generic plan after five runs, one made without knowing the
        # words: it may read every message's text instead of the index. Plan each search for its words.
        await Sql().execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await _search(Sql(), engine, asked, limit)


async def _search(sql: Sql, engine: _Engine, asked: SearchQuery, limit: int) -> list[SearchHit]:
    named = await _named_tickets(sql, asked.tickets)
    found = await _matching(sql, engine, asked, limit) if asked.has_filters else []
    by_words = {f.ticket_id: f.message_id for f in found}
    named = [_Found(f.row, by_words.get(f.ticket_id), f.merged_from) for f in named]
    seen = {f.ticket_id for f in named}
    hits = [*named, *(f for f in found if f.ticket_id not in seen)][:limit]
    snippets = await _snippets(sql, engine, asked, hits)
    return [_hit(f.row, snippets.get(f.ticket_id, ""), f.merged_from) for f in hits]


async def _named_tickets(sql: Sql, numbers: Sequence[int]) -> list[_Found]:
    """The tickets of these numbers; a merged one's target instead, with the number asked for."""
    found: list[_Found] = []
    for number in numbers:
        row = await sql.first(f'{_TICKET_COLUMNS} WHERE t."number" = ?', number)
        for _ in range(_MERGE_HOPS):
            if row is None or row[8] is None:
                break
            row = await sql.first(f'{_TICKET_COLUMNS} WHERE t."number" = ?', int(row[8]))
        if row is not None and row[8] is None:
            found.append(_Found(row, merged_from=number if int(row[1]) != number else None))
    return found


async def _matching(sql: Sql, engine: _Engine, asked: SearchQuery, limit: int) -> list[_Found]:
    where = await _conditions(sql, engine, asked)
    if where is None:
        return []
    conditions, params = where
    if not asked.words:
        rows = await sql.rows(f'{_TICKET_COLUMNS} WHERE {" AND ".join(conditions)}'
                              ' ORDER BY t."number" DESC LIMIT ?', *params, limit)
        return [_Found(row) for row in rows]
    where_all = " AND ".join(conditions)
    if engine.matches is not None and not (asked.senders or asked.companies):
        # Many tickets may pass: walk the matches newest first until enough of them do.
        newest = await _newest_matches(sql, engine, asked, engine.matches.format(conditions=where_all), params, limit)
    elif engine.postgres and not (asked.senders or asked.companies):
        newest = await _recent_matches(sql, engine, asked, where_all, params, limit)
    else:  # all matches at once (on SQLite for a sender's or a company's few tickets: their messages
        # are looked up among the matches, rather than every match checked against them)
        rows = await sql.rows(engine.matches_within.format(conditions=where_all), *params, engine.match(asked), limit)
        newest = {int(ticket): int(message) for ticket, message in rows}
    rows = await sql.rows(f'{_TICKET_COLUMNS} WHERE t."id" {engine.in_ids}', engine.ids(list(newest)))
    by_id = {int(row[0]): row for row in rows}
    return [_Found(by_id[ticket], message) for ticket, message in newest.items() if ticket in by_id]


async def _conditions(sql: Sql, engine: _Engine, asked: SearchQuery) -> tuple[list[str], list[Any]] | None:
    """The filters as conditions on ticket t, with their parameters; None if they cannot match."""
    conditions, params = ['t."merged_into" IS NULL'], list[Any]()
    if asked.statuses:
        conditions.append(f't."status" IN ({", ".join("?" * len(asked.statuses))})')
        params.extend(asked.statuses)
    if asked.companies:
        companies = await _company_ids(sql, asked.companies)
        if not companies:
            return None
        conditions.append(f't."company_id" {engine.in_ids}')
        params.append(engine.ids(companies))
    if asked.senders:
        tests = [_sender_test(engine, sender) for sender in asked.senders]
        conditions.append('t."id" IN (SELECT s."ticket_id" FROM "message" s WHERE '
                          + " OR ".join(test for test, _ in tests) + ")")
        params.extend(value for _, value in tests)
    return conditions, params


async def _newest_matches(sql: Sql, engine: _Engine, asked: SearchQuery, statement: str, params: Sequence[Any],
                          wanted: int) -> dict[int, int]:
    """Up to ``wanted`` tickets, each with its newest message that has every word, newest first.

    The matches are read newest first in growing batches and stop once enough tickets are
    found: a word in half of all mail reads a few hundred index entries, not half the index.
    """
    found: dict[int, int] = {}
    match, before, batch = engine.match(asked), _NO_ID_ABOVE, wanted * 2
    while len(found) < wanted:
        rows = await sql.rows(statement, match, before, *params, batch)
        for ticket_id, message_id in rows:
            found.setdefault(int(ticket_id), int(message_id))
        if len(rows) < batch:
            break
        before, batch = int(rows[-1][1]), min(batch * 4, _MAX_BATCH)
    return dict(list(found.items())[:wanted])


async def _recent_matches(sql: Sql, engine: _Engine, asked: SearchQuery, where_all: str, params: Sequence[Any],
                          wanted: int) -> dict[int, int]:
    """PostgreSQL: the matches among the newest messages first, in windows growing eightfold.

    Checking every match costs what the commonest word costs (seconds for a word in every tenth
    of a million mails); the newest window of a common word already holds enough tickets, and
    a ticket found there has its newest match there, so the answer is the same. A rare word
    ends up searching everything, which costs what its few matches cost.
    """
    top = await sql.first('SELECT max("id") FROM "message"')
    newest_id, window = int(top[0] or 0) if top else 0, _FIRST_WINDOW
    statement = engine.matches_within.format(conditions=f'{where_all} AND m."id" > ?')
    if not asked.statuses:
        # Words alone need no ticket column (a merged ticket's mail has moved to its target), and
        # the join would have PostgreSQL hash the whole ticket table for a few hundred matches.
        statement = _PG_MESSAGES_ONLY
        params = []
    while True:
        floor = max(0, newest_id - window)
        rows = await sql.rows(statement, *params, floor, engine.match(asked), wanted)
        if len(rows) >= wanted or floor == 0:
            return {int(ticket): int(message) for ticket, message in rows}
        window *= 8


async def _company_ids(sql: Sql, names: Sequence[str]) -> list[int]:
    """Companies whose name contains one of ``names``, in any case of any script (SQLite's
    ``lower`` and ``LIKE`` fold ASCII only, so the few company names are compared here)."""
    wanted = [name.casefold() for name in names]
    rows = await sql.rows('SELECT "id", "name" FROM "company"')
    return [int(row[0]) for row in rows if any(w in str(row[1]).casefold() for w in wanted)]


def _sender_test(engine: _Engine, sender: str) -> tuple[str, str]:
    """``ann@acme.com``: that address; ``acme.com`` or ``@acme.com``: any address at that domain.
    Both are indexed (migration 0008): addresses are stored in lower case."""
    if "@" in sender.lstrip("@"):
        return 's."from_addr" = ?', sender
    return f"{engine.sender_domain} = ?", sender.lstrip("@")


async def _snippets(sql: Sql, engine: _Engine, asked: SearchQuery, found: Sequence[_Found]) -> dict[int, str]:
    """Per ticket id, the passage of its newest message with every word (marked), or else the
    start of its latest mail."""
    snippets: dict[int, str] = {}
    ticket_of = {f.message_id: f.ticket_id for f in found if f.message_id is not None}
    if ticket_of:
        params = engine.snippet_params(engine.match(asked), list(ticket_of))
        for message_id, marked in await sql.rows(engine.snippets, *params):
            snippets[ticket_of[int(message_id)]] = str(marked or "")
    rest = [f.ticket_id for f in found if f.ticket_id not in snippets]  # by number, or by filters alone
    if rest:
        for ticket_id, text in await sql.rows(_LATEST.format(in_ids=engine.in_ids), engine.ids(rest)):
            snippets[int(ticket_id)] = str(text or "")
    return snippets


def _hit(row: _Row, marked: str, merged_from: int | None) -> SearchHit:
    parts = snippet_parts(marked)
    return SearchHit(
        number=int(row[1]), subject=str(row[2]), status=str(row[3]), urgency=str(row[4]),
        requester_email=str(row[5]), company_name=str(row[6]) if row[6] is not None else None,
        updated_at=from_db_datetime(row[7]), snippet="".join(text for text, _ in parts),
        snippet_parts=parts, merged_from=merged_from,
    )


def snippet_parts(marked: str) -> tuple[tuple[str, bool], ...]:
    """Text with matches between the engines' marks → (text, matched) pieces: whitespace folded,
    about ``SNIPPET_CHARS`` long, stray marks (they could come in a mail) dropped."""
    parts: list[tuple[str, bool]] = []
    room = SNIPPET_CHARS
    for index, piece in enumerate(_MARKS.split(" ".join(marked.split()))):
        text = piece.replace(_MARK_START, "").replace(_MARK_END, "")
        if not text or room <= 0:
            continue
        if len(text) > room:
            text = text[:room].rstrip() + "…"
        parts.append((text, index % 2 == 1))
        room -= len(text)
    return tuple(parts)
