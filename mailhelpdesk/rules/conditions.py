"""Conditions of a rule's ``when``: fields of the mail and ticket, matchers, and all/any/not.

    when:
      company_tier: vip                          # a value: equals
      mailbox: [support, billing]                # a list: one of
      subject: {contains: [outage, "не работает"]}
      body: {regex: "order (?P<order>\\d{6})"}   # named groups are kept for the explanation
      headers.x-priority: {in: ["1", "2"]}       # any header, by name
      any:
        - sender_domain: {ends_with: .gov}
        - not: {company_tier: standard}

Text matching ignores case (regular expressions too). A condition on a list field (to, cc,
tags, attachment names…) holds when any element matches. Fields and matchers are registered
by name in ``FIELDS`` and ``MATCHERS``; a rule file can only use registered ones.
"""

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import yaml

from mailhelpdesk.rules.regex_search import Search, compile_search
from mailhelpdesk.rules.source import Reader, parse_duration


class Facts(Protocol):
    """What a condition can look at; the engine provides it for a message or a ticket."""

    def value(self, field: str, argument: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Hit:
    """One condition that held, with the value it saw: the raw material of ``explain``."""

    field: str
    matcher: str
    expected: str
    seen: str
    captures: tuple[tuple[str, str], ...] = ()


class Condition(Protocol):
    def test(self, facts: Facts) -> list[Hit] | None:
        """The hits when the condition holds, None when it does not."""
        ...

    def describe(self) -> str:
        """The condition as an admin wrote it, roughly: for explanations of near misses."""
        ...


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # text, list, number, duration, bool
    doc: str
    takes_argument: bool = False  # headers.NAME


FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    FieldSpec("mailbox", "text", "the mailbox the mail arrived in"),
    FieldSpec("sender", "text", "the sender's address"),
    FieldSpec("sender_name", "text", "the sender's display name"),
    FieldSpec("sender_domain", "text", "the domain of the sender's address"),
    FieldSpec("company", "text", "the company's name ('' for none)"),
    FieldSpec("company_tier", "text", "the company's tier ('' for none)"),
    FieldSpec("to", "list", "addresses in To"),
    FieldSpec("cc", "list", "addresses in Cc"),
    FieldSpec("subject", "text", "the subject, as decoded"),
    FieldSpec("body", "text", "the plain text of the mail (HTML mail: its text)"),
    FieldSpec("reply_text", "text", "the new part of a reply, without quoted history"),
    FieldSpec("headers", "list", "values of one header: headers.x-priority", takes_argument=True),
    FieldSpec("attachment_names", "list", "file names of attachments"),
    FieldSpec("attachment_types", "list", "content types of attachments, e.g. application/pdf"),
    FieldSpec("language", "text", "the language of the text: en, ru, de … ('' if unsure)"),
    FieldSpec("time_of_day", "text", "local time HH:MM in the SLA calendar when the event happened"),
    FieldSpec("weekday", "text", "mon … sun in the SLA calendar"),
    FieldSpec("business_hours", "bool", "whether the SLA calendar is open at that moment"),
    FieldSpec("urgency", "text", "the ticket's urgency: low, normal, high, critical"),
    FieldSpec("line", "number", "the ticket's support line, 1 to 4"),
    FieldSpec("team", "text", "the ticket's team"),
    FieldSpec("status", "text", "the ticket's status"),
    FieldSpec("tags", "list", "the ticket's tags"),
    FieldSpec("age", "duration", "time since the ticket was created"),
    FieldSpec("messages", "number", "number of customer messages on the ticket"),
)}


@dataclass(frozen=True, slots=True)
class _Match:
    """A compiled matcher: ``check(seen)`` returns named captures (maybe empty) or None.

    Text matchers also have ``holds``, the same test on a value already folded (``fold``): facts
    that memoise folded values (MailFacts) then spare every rule the folding of a long body.
    """

    name: str
    expected: str
    check: "Check"
    holds: Callable[[str], bool] | None = None
    search: Search | None = None  # regex: also given the folded value, it searches less


def _text(value: Any) -> str:
    return "" if value is None else str(value).casefold()


def fold(value: Any, is_list: bool) -> tuple[str, ...]:
    """A field's values as the text matchers compare them: case folded; one for a text field."""
    return tuple(_text(v) for v in value or ()) if is_list else (_text(value),)


def _captures(match: re.Match[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in match.groupdict().items() if v is not None)


Check = Callable[[Any], tuple[tuple[str, str], ...] | None]


def _contains(words: tuple[str, ...]) -> Callable[[str], bool]:
    if len(words) == 1:
        word = words[0]
        return lambda seen: word in seen
    return lambda seen: any(map(seen.__contains__, words))  # no generator: it would cost more than the search


# How each text matcher compares the folded value with the folded words (any word may match),
# prepared once per condition: a test runs for every message.
_TEXT_TESTS: dict[str, Callable[[tuple[str, ...]], Callable[[str], bool]]] = {
    "equals": lambda words: frozenset(words).__contains__,
    "in": lambda words: frozenset(words).__contains__,
    "contains": _contains,
    "starts_with": lambda words: lambda seen: seen.startswith(words),
    "ends_with": lambda words: lambda seen: seen.endswith(words),
}


def _text_match(name: str, wanted: list[str]) -> _Match:
    holds = _TEXT_TESTS[name](tuple(w.casefold() for w in wanted))
    return _Match(name, ", ".join(wanted), lambda seen: () if holds(_text(seen)) else None, holds)


def _regex_match(pattern: re.Pattern[str]) -> _Match:
    search = compile_search(pattern)

    def check(seen: Any) -> tuple[tuple[str, str], ...] | None:
        found = search.find("" if seen is None else str(seen))
        return None if found is None else _captures(found)

    return _Match("regex", pattern.pattern, check, search=search)


def _compare(op: str, limit: float | timedelta) -> Check:
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    }
    test = tests[op]

    def check(seen: Any) -> tuple[tuple[str, str], ...] | None:
        try:
            return () if seen is not None and test(seen, limit) else None
        except TypeError:
            return None

    return check


MATCHERS = ("equals", "in", "contains", "regex", "starts_with", "ends_with", "gt", "ge", "lt", "le", "exists")


def _label(field: str, argument: str) -> str:
    """``headers.x-priority`` for a field with an argument, else the field's name."""
    return f"{field}.{argument}" if argument else field


@dataclass(frozen=True, slots=True)
class FieldCondition:
    field: str
    argument: str
    is_list: bool
    match: _Match

    @property
    def label(self) -> str:
        return _label(self.field, self.argument)

    def describe(self) -> str:
        return f"{self.label} {self.match.name} {self.match.expected}"

    def test(self, facts: Facts) -> list[Hit] | None:
        match = self.match
        holds = match.holds
        if holds is not None:  # inline, not a method of its own: this runs for most rules and mails
            folded = self._folded(facts)
            if not self.is_list:
                return [self._hit(facts, 0, ())] if holds(folded[0]) else None
            for index, value in enumerate(folded):
                if holds(value):
                    return [self._hit(facts, index, ())]
            return None
        seen = facts.value(self.field, self.argument)
        values: Sequence[Any] = (seen or ()) if self.is_list else (seen,)
        if match.search is not None:
            return self._search(facts, match.search, values)
        for index, value in enumerate(values):
            captures = match.check(value)
            if captures is not None:
                return [self._hit(facts, index, captures)]
        return None

    def _search(self, facts: Facts, search: Search, values: Sequence[Any]) -> list[Hit] | None:
        folded = self._folded(facts)
        for index, value in enumerate(values):
            found = search.find("" if value is None else str(value), folded[index])
            if found is not None:
                return [self._hit(facts, index, _captures(found))]
        return None

    def _folded(self, facts: Facts) -> tuple[str, ...]:
        folding = getattr(facts, "folded", None)  # MailFacts folds each value once per message
        if folding is not None:
            return folding(self.field, self.argument, self.is_list)  # type: ignore[no-any-return]
        return fold(facts.value(self.field, self.argument), self.is_list)

    def _hit(self, facts: Facts, index: int, captures: tuple[tuple[str, str], ...]) -> Hit:
        value = facts.value(self.field, self.argument)  # as it was, not folded: for explanations
        if self.is_list:
            value = value[index]
        return Hit(self.label, self.match.name, self.match.expected, str(value)[:200], captures)


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    argument: str
    wanted: bool

    def describe(self) -> str:
        return f"{_label(self.field, self.argument)} exists {str(self.wanted).lower()}"

    def test(self, facts: Facts) -> list[Hit] | None:
        present_in = getattr(facts, "present", None)  # MailFacts knows without decoding every header
        present = present_in(self.field, self.argument) if present_in else bool(facts.value(self.field, self.argument))
        if present != self.wanted:
            return None
        return [Hit(_label(self.field, self.argument), "exists", str(self.wanted).lower(), str(present).lower())]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Condition, ...]

    def describe(self) -> str:
        return " and ".join(p.describe() for p in self.parts) or "always"

    def test(self, facts: Facts) -> list[Hit] | None:
        hits: list[Hit] = []
        for part in self.parts:
            found = part.test(facts)
            if found is None:
                return None
            hits.extend(found)
        return hits


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def describe(self) -> str:
        return "any of (" + "; ".join(p.describe() for p in self.parts) + ")" if self.parts else "never"

    def test(self, facts: Facts) -> list[Hit] | None:
        for part in self.parts:
            found = part.test(facts)
            if found is not None:
                return found
        return None


@dataclass(frozen=True, slots=True)
class NotOf:
    part: Condition

    def describe(self) -> str:
        return f"not ({self.part.describe()})"

    def test(self, facts: Facts) -> list[Hit] | None:
        return [Hit("not", "not", "", "")] if self.part.test(facts) is None else None


def read_when(reader: Reader, node: yaml.Node | None, what: str) -> Condition:
    """A rule's ``when`` (absent: always true); problems are recorded, bad parts never match."""
    if node is None:
        return AllOf(())
    entries = reader.mapping(node, what)
    if entries is None:
        return AnyOf(())
    return AllOf(tuple(_entry(reader, key, value, what) for key, value in entries.items()))


def _entry(reader: Reader, key: str, node: yaml.Node, what: str) -> Condition:
    if key in ("all", "any"):
        items = [read_when(reader, item, f"{key} in {what}") for item in reader.sequence(node, f"{key!r}")]
        return AllOf(tuple(items)) if key == "all" else AnyOf(tuple(items))
    if key == "not":
        return NotOf(read_when(reader, node, f"not in {what}"))
    field, _, argument = key.partition(".")
    spec = FIELDS.get(field)
    if spec is None or bool(argument) != spec.takes_argument:
        reader.error(reader.key_of(node), f"unknown condition {key!r}{_field_hint(key)}")
        return AnyOf(())
    return _field_condition(reader, spec, argument.lower(), node)


def _field_hint(key: str) -> str:
    close = difflib.get_close_matches(key.partition(".")[0], list(FIELDS), n=1, cutoff=0.75)
    if close and FIELDS[close[0]].takes_argument:
        return f" (did you mean {close[0]}.NAME?)"
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_condition(reader: Reader, spec: FieldSpec, argument: str, node: yaml.Node) -> Condition:
    if isinstance(node, yaml.MappingNode):
        if len(node.value) != 1:
            reader.error(node, f"a condition on {spec.name} takes exactly one of: {', '.join(MATCHERS)}")
            return AnyOf(())
        entries = reader.mapping(node, f"condition on {spec.name}", MATCHERS)
        if not entries:
            return AnyOf(())
        (name, value), = entries.items()
    else:
        name, value = ("in" if isinstance(node, yaml.SequenceNode) else "equals"), node
    if name == "exists":
        wanted = reader.boolean(value, "exists")
        return Exists(spec.name, argument, bool(wanted)) if wanted is not None else AnyOf(())
    match = _matcher(reader, spec, name, value)
    return FieldCondition(spec.name, argument, spec.kind == "list", match) if match else AnyOf(())


def _matcher(reader: Reader, spec: FieldSpec, name: str, node: yaml.Node) -> _Match | None:
    if name in ("gt", "ge", "lt", "le"):
        limit = _limit(reader, spec, node)
        return _Match(name, str(node.value), _compare(name, limit)) if limit is not None else None
    if name == "regex":
        pattern = _pattern(reader, node)
        return _regex_match(pattern) if pattern else None
    words = _words(reader, node, f"{name} on {spec.name}")
    return _text_match(name, words) if words else None


def _words(reader: Reader, node: yaml.Node, what: str) -> list[str]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    found = []
    for item in items:
        if not isinstance(item, yaml.ScalarNode):
            reader.error(item, f"{what}: expected a value or a list of values")
            continue
        found.append(str(item.value))
    return found


def _pattern(reader: Reader, node: yaml.Node) -> re.Pattern[str] | None:
    text = str(getattr(node, "value", ""))
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        reader.error(node, f"bad regular expression {text!r}: {exc}")
        return None


def _limit(reader: Reader, spec: FieldSpec, node: yaml.Node) -> float | timedelta | None:
    text = str(getattr(node, "value", "")).strip().lower()
    if spec.kind == "duration":
        value = parse_duration(text)
        if value is None:
            reader.error(node, f"{spec.name} compares with a duration such as 4h or 2d, not {text!r}")
        return value
    if spec.kind != "number":
        reader.error(node, f"{spec.name} is not a number or a duration; use equals, contains or regex")
        return None
    try:
        return float(text)
    except ValueError:
        reader.error(node, f"expected a number, not {text!r}")
        return None
