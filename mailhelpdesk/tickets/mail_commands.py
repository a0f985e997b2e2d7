"""The commands an agent writes at the top of an emailed reply, such as ``#status pending``.

    #status pending
    #assign me
    #tag +vpn -new

    Hello Maria, the tunnel is back up…

Pure: no database and no I/O. ``parse_agent_reply`` returns the typed commands, one error per
line it could not accept, and the body that is left for the ticket.

The command block
    The leading lines that start with ``#``, after optional blank lines and leading whitespace. It
    ends at the first blank line or the first line read as text; everything from there on is the
    body, verbatim, so ``#1042 is the same problem`` further down stays text. A known command
    right after the blank line that ended the block is an error (it stays in the body): HTML
    mailers that put every line in its own paragraph turn one block into many, and a command
    that is silently mailed to the customer is worse than one the agent has to send again.

Which ``#`` lines are commands
    The first word is ``#`` and a name. A known name (any case) is a command. An unknown name
    made only of letters (``#stauts``), or one that starts with a known name (``#line2``), is an
    error that names the known commands and the closest one: a typo must not reach the
    customer as text. Anything else is text and ends the block: ``#`` and a space
    (``# Heading``), ``#`` and a digit (``#1042``), ``#hashtag-ish``.

What mail clients add, and is ignored
    Invisible characters (zero-width and bidi marks, soft hyphens, BOMs), NFKC compatibility
    forms (non-breaking spaces, full-width ``＃``), surrounding whitespace, a colon after the
    name (``#status: pending``), trailing sentence punctuation (``.`` from a phone's double
    space, ``,``, ``;``, ``!``) and ``*…*`` or ``**…**`` around the whole line (bold turned into
    text). Values are case-insensitive; team names come back as declared.

Values
    Arguments are split on whitespace, commas and semicolons. ``#note`` takes none (text on its
    line would be lost). ``#team`` takes the rest of the line, so team names may have spaces.
    ``#merge`` also takes ``#1042`` and ``[#1042]``, as ticket numbers appear in subjects.
    Addresses may be written ``<a@x.com>``, ``mailto:a@x.com`` or, as Outlook's plain text has
    it, ``a@x.com<mailto:a@x.com>``; ``#cc`` accepts an address the outbound mail can carry
    (plain ASCII) with a dotted domain. A tag starts with a letter or digit. A line that fails
    any check yields no command at all.

Conflicts and limits
    A second ``#status``, ``#urgency``, ``#line``, ``#team``, ``#assign`` or ``#merge`` with a
    different value is an error; the same value again is dropped, as is a second ``#note``. A
    tag both added and removed is an error on the later line. The 21st command line is an error
    and ends the block; lines after it are body. Only the first ``MAX_LINE`` characters of a
    line are looked at, a longer command line is an error, and the rest of the text is never
    read beyond finding where the body starts.

Left to the caller, which knows the ticket: a merge into the ticket itself or into one that does
not exist, and whether the sender may make the change at all. Whether a reply with errors is
still applied is the caller's decision too.
"""

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from mailhelpdesk.outbound.compose import usable_address

COMMAND_NAMES = ("note", "status", "urgency", "line", "team", "assign", "tag", "cc", "merge")
MAX_COMMANDS = 20
MAX_LINE = 1000
MAX_TAG = 50
LINES = range(1, 5)

Value: TypeAlias = str | int | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    teams: frozenset[str]  # declared team names
    agents: frozenset[str]  # declared agents' addresses, lower case
    statuses: tuple[str, ...] = ("open", "pending", "resolved", "closed")
    urgencies: tuple[str, ...] = ("low", "normal", "high", "critical")


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of COMMAND_NAMES
    # line, merge: int; assign: the resolved address; tag: ("+x", "-y"); cc: addresses; note: None
    value: Value
    line: int  # 1-based line number in the text
    source: str  # the line as written


@dataclass(frozen=True, slots=True)
class CommandError:
    line: int
    source: str
    reason: str  # short, for a human


@dataclass(frozen=True, slots=True)
class AgentReply:
    commands: tuple[Command, ...]
    errors: tuple[CommandError, ...]
    body: str  # the text after the command block, leading blank lines removed


# Format characters mail clients and editors slip in; none of them means anything in a command.
_INVISIBLE = "\u00ad\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
_DELETE_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))
_BREAK_PATTERN = r"\r\n|[\r\n\u2028\u2029]"
_BREAK = re.compile(_BREAK_PATTERN)
_SPACE = rf"(?:[^\S\r\n\u2028\u2029]|[{_INVISIBLE}])"
_BLANK_LINE = re.compile(rf"{_SPACE}*")
_BLANK_LINES = re.compile(rf"(?:{_SPACE}*(?:{_BREAK_PATTERN}|\Z))*")
_WRAPPED = re.compile(r"(\*{1,2})\s*(#.*?)\s*\1")
_HEAD = re.compile(r"#([^\s:]*)\s*:?(.*)", re.DOTALL)  # "#status: x", and "#status : x" as French typography has it
_SEPARATORS = re.compile(r"[\s,;]+")
_TRAILING = ".,;!。"
_MAILTO = re.compile(r"<?(?:mailto:)?([^<>]*?)>?(?:<mailto:[^<>]*>)?", re.IGNORECASE)
_NUMBER = re.compile(r"\[?#?([0-9]{1,12})\]?")
_SINGLE = frozenset(("status", "urgency", "line", "team", "assign", "merge"))
_ONCE = _SINGLE | {"note"}  # a repeat with the same value adds nothing


class _Invalid(Exception):
    """A command line that cannot be accepted; the message is the reason shown to the agent."""


@dataclass(frozen=True, slots=True)
class _Context:
    sender: str
    vocabulary: Vocabulary


# --- reading lines -----------------------------------------------------------------------------


def _lines(text: str, start: int, number: int) -> Iterator[tuple[int, str, int]]:
    """(line number, line, where the next line starts) from ``start`` on, read lazily."""
    while start < len(text):
        found = _BREAK.search(text, start)
        end, after = (found.start(), found.end()) if found else (len(text), len(text))
        yield number, text[start:end], after
        start, number = after, number + 1


def _skip_blank_lines(text: str, start: int, number: int) -> tuple[int, int]:
    """Where the first non-blank line from ``start`` begins, and its number; one regex, however many."""
    end = _BLANK_LINES.match(text, start)
    stop = end.end() if end else start
    return stop, number + len(_BREAK.findall(text, start, stop))


def _normalise(source: str) -> str:
    text = unicodedata.normalize("NFKC", source[:MAX_LINE].translate(_DELETE_INVISIBLE)).strip()
    if wrapped := _WRAPPED.fullmatch(text.rstrip(_TRAILING)):
        text = wrapped.group(2)
    return text.rstrip(_TRAILING).rstrip()


def _command_word(text: str) -> tuple[str, str] | None:
    """The command word as written and its arguments, or None when the (normalised) line is text."""
    head = _HEAD.match(text)
    if head is None:
        return None
    word = head.group(1)
    looks_like_command = word.isalpha() or word.lower().startswith(COMMAND_NAMES)
    return (word, head.group(2)) if looks_like_command else None


# --- values ------------------------------------------------------------------------------------


def _closest(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1)
    return close[0] if close else None


def _hint(word: str, options: list[str]) -> str:
    close = _closest(word, options)
    return f"; did you mean {close!r}?" if close else ""


def _one(args: tuple[str, ...], name: str, wanted: str) -> str:
    if not args:
        raise _Invalid(f"#{name} needs {wanted}")
    if len(args) > 1:
        extra = "one command per line" if any(a.startswith("#") for a in args[1:]) else f"#{name} takes one value"
        raise _Invalid(f"{extra}, not {' '.join(args)!r}")
    return args[0].lower()


def _choice(args: tuple[str, ...], name: str, options: tuple[str, ...]) -> str:
    listed = ", ".join(options)
    value = _one(args, name, f"one of: {listed}")
    if value in options:
        return value
    if name == "status" and value == "new":  # a ticket is new until someone works on it; no one can make it new again
        raise _Invalid(f"status 'new' cannot be set ({listed})")
    raise _Invalid(f"unknown {name} {value!r} ({listed}){_hint(value, list(options))}")


def _address(token: str) -> str:
    """The address in ``token``, lower case, without the ``<…>`` and ``mailto:`` that clients add."""
    written = _MAILTO.fullmatch(token)
    return (written.group(1) if written else token).lower()


def _sendable(address: str) -> bool:
    domain = address.rpartition("@")[2]
    return usable_address(address) and "." in domain and all(domain.split("."))


def _note(args: tuple[str, ...], context: _Context) -> Value:
    if args:
        raise _Invalid("#note takes no value: write the note below the commands")
    return None


def _status(args: tuple[str, ...], context: _Context) -> Value:
    return _choice(args, "status", context.vocabulary.statuses)


def _urgency(args: tuple[str, ...], context: _Context) -> Value:
    return _choice(args, "urgency", context.vocabulary.urgencies)


def _line(args: tuple[str, ...], context: _Context) -> Value:
    value = _one(args, "line", "a support line, 1 to 4")
    if not (value.isascii() and value.isdigit() and int(value) in LINES):
        raise _Invalid(f"support lines are numbered 1 to 4, not {value!r}")
    return int(value)


def _team(args: tuple[str, ...], context: _Context) -> Value:
    declared = {team.casefold(): team for team in context.vocabulary.teams}
    listed = ", ".join(sorted(context.vocabulary.teams)) or "none are declared"
    name = " ".join(args)
    if not name:
        raise _Invalid(f"#team needs a team name (teams: {listed})")
    if name.casefold() in declared:
        return declared[name.casefold()]
    raise _Invalid(f"unknown team {name!r} (teams: {listed}){_hint(name, sorted(context.vocabulary.teams))}")


def _assign(args: tuple[str, ...], context: _Context) -> Value:
    agents = context.vocabulary.agents
    value = _one(args, "assign", "an agent's address or 'me'")
    if value == "me":
        if context.sender not in agents:
            raise _Invalid(f"'me' is {context.sender!r}, who is not a declared agent")
        return context.sender
    address = _address(value)
    if address not in agents:
        raise _Invalid(f"{address!r} is not a declared agent{_hint(address, sorted(agents))}")
    return address


def _valid_tag(name: str) -> bool:
    # Letters, digits and combining marks of any script (Devanagari vowel signs are marks), and - _ . :
    allowed = all(unicodedata.category(c)[0] in "LMN" or c in "-_.:" for c in name)
    return 0 < len(name) <= MAX_TAG and allowed and unicodedata.category(name[0])[0] in "LN"


def _tag(args: tuple[str, ...], context: _Context) -> Value:
    if not args:
        raise _Invalid("#tag needs at least one tag, such as +vip or -spam")
    signed: dict[str, str] = {}
    for token in args:
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+", token)
        name = name.lower()
        if not _valid_tag(name):
            raise _Invalid(f"invalid tag {token!r}: letters, digits, - _ . : and at most {MAX_TAG} characters")
        if signed.setdefault(name, sign) != sign:
            raise _Invalid(f"tag {name!r} is both added and removed")
    return tuple(sign + name for name, sign in signed.items())


def _cc(args: tuple[str, ...], context: _Context) -> Value:
    if not args:
        raise _Invalid("#cc needs at least one address")
    addresses = [_address(token) for token in args]
    invalid = [address for address in addresses if not _sendable(address)]
    if invalid:
        raise _Invalid(f"not a valid address: {', '.join(map(repr, invalid))}")
    return tuple(dict.fromkeys(addresses))


def _merge(args: tuple[str, ...], context: _Context) -> Value:
    value = _one(args, "merge", "a ticket number")
    number = _NUMBER.fullmatch(value)
    if number is None or int(number.group(1)) == 0:
        raise _Invalid(f"#merge needs a ticket number (1 or more), not {value!r}")
    return int(number.group(1))


_PARSERS: dict[str, Callable[[tuple[str, ...], _Context], Value]] = {
    "note": _note, "status": _status, "urgency": _urgency, "line": _line, "team": _team,
    "assign": _assign, "tag": _tag, "cc": _cc, "merge": _merge,
}


# --- the block -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    context: _Context
    commands: list[Command] = field(default_factory=list)
    errors: list[CommandError] = field(default_factory=list)
    tags: dict[str, Command] = field(default_factory=dict)  # tag name -> the command that set its sign

    def error(self, number: int, source: str, reason: str) -> None:
        self.errors.append(CommandError(number, source[:MAX_LINE], reason))

    def take(self, number: int, source: str, word: str, rest: str) -> None:
        name = word.lower()
        parser = _PARSERS.get(name)
        if parser is None:
            known = ", ".join(f"#{n}" for n in COMMAND_NAMES)
            prefix = next((n for n in COMMAND_NAMES if name.startswith(n)), None)  # "#line2", "#notes"
            close = prefix or _closest(name, list(COMMAND_NAMES))
            hint = f"; did you mean #{close}?" if close else ""
            self.error(number, source, f"unknown command {'#' + word!r}{hint} (known: {known})")
        elif len(source) > MAX_LINE:
            self.error(number, source, f"command line too long (at most {MAX_LINE} characters)")
        else:
            try:
                value = parser(tuple(a for a in _SEPARATORS.split(rest) if a), self.context)
            except _Invalid as invalid:
                self.error(number, source, str(invalid))
            else:
                self.add(Command(name, value, number, source))

    def add(self, command: Command) -> None:
        earlier = next((c for c in self.commands if c.name == command.name), None)
        if command.name in _SINGLE and earlier is not None and earlier.value != command.value:
            name = f"#{command.name}"
            reason = f"{name} {command.value} conflicts with {name} {earlier.value} on line {earlier.line}"
            self.error(command.line, command.source, reason)
        elif command.name == "tag" and (clash := self._tag_clash(command)):
            self.error(command.line, command.source, clash)
        elif earlier is None or command.name not in _ONCE:
            self.commands.append(command)
            if command.name == "tag":
                self.tags.update((tag[1:], command) for tag in _items(command.value))

    def _tag_clash(self, command: Command) -> str:
        for tag in _items(command.value):
            earlier = self.tags.get(tag[1:])
            if earlier is not None and tag not in _items(earlier.value):
                return f"tag {tag[1:]!r} is both added and removed (line {earlier.line})"
        return ""


def _items(value: Value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ()


def _read_block(text: str, start: int, number: int, block: _Block) -> tuple[int, int, bool]:
    """Reads the command lines: where the rest begins, its line number, and whether a blank line ended them."""
    lines = _lines(text, start, number)
    for count, (number, source, after) in enumerate(lines, start=1):
        if _BLANK_LINE.fullmatch(source):
            return start, number, True
        parsed = _command_word(_normalise(source))
        if parsed is None:
            return start, number, False
        start = after
        if count > MAX_COMMANDS:
            block.error(number, source, f"too many commands (at most {MAX_COMMANDS} lines are read)")
            return start, number + 1, False
        block.take(number, source, *parsed)
    return len(text), number, False


def _stray_command(text: str, start: int, number: int, block: _Block) -> None:
    """A known command right below the blank line that ended the block: kept as text, but flagged."""
    first = next(_lines(text, start, number), None)
    parsed = _command_word(_normalise(first[1])) if first else None
    if first and parsed and parsed[0].lower() in _PARSERS:
        reason = f"'#{parsed[0].lower()}' is not read: a blank line ended the commands, so it stays in the text"
        block.error(first[0], first[1], reason)


def parse_agent_reply(text: str, sender: str, vocabulary: Vocabulary) -> AgentReply:
    """The commands at the top of an agent's reply, the errors in them, and the body below them."""
    block = _Block(_Context(sender.strip().lower(), vocabulary))
    start, number = _skip_blank_lines(text, 0, 1)
    start, number, ended_by_blank = _read_block(text, start, number, block)
    start, number = _skip_blank_lines(text, start, number)
    if ended_by_blank:
        _stray_command(text, start, number, block)
    return AgentReply(tuple(block.commands), tuple(block.errors), text[start:])
