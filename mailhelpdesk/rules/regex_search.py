"""Searching a condition's regular expression: most mail need not be searched.

With IGNORECASE, Python's regex engine cannot skip ahead to where a match may start: it tries
the pattern at every position of a text, tens of µs per body. So each pattern's parse tree is
read once for (1) the literal strings every match contains, and (2) how every match starts.
A text whose folding (``fold``) lacks (1) is not searched; otherwise the pattern is tried only
where (2) is found, by a case-sensitive search that can skip ahead. Both can only err towards
searching: every pair of characters the engine takes as equal ignoring case has the same case
folding (a unit test checks all of Unicode), except for the Turkish dotted and dotless i, so
text with either is searched the ordinary way.
"""

import importlib
import re
from dataclasses import dataclass
from typing import Any

Needs = tuple[tuple[str, ...], ...]
_FOLDS_APART = frozenset("\u0130\u0131")  # İ and ı
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
_ZERO_WIDTH = ("AT", "ASSERT", "ASSERT_NOT")  # \b, ^, lookarounds: a match starts at what follows
_CASELESS = {"CATEGORY_DIGIT": r"\d", "CATEGORY_SPACE": r"\s", "CATEGORY_WORD": r"\w"}  # same with any flags
_UNFOLDED = {"CATEGORY_DIGIT": r"\d", "CATEGORY_SPACE": r"\s"}  # and case folding leaves them as they are
_SHORT = 80  # characters: a text this short is searched at once, faster than anything else
_TRIES, _SPACING = 4, 24  # after 4 places tried, fewer than 24 characters apart: search the rest at once
_parser: Any
try:
    _parser = importlib.import_module("re._parser")  # the standard library's own pattern parser
except ImportError:  # another Python: nothing is known of patterns, every text is searched
    _parser = None


@dataclass(frozen=True, slots=True)
class Search:
    """A condition's regular expression, and what its parse tree tells of its matches."""

    pattern: re.Pattern[str]
    needs: Needs = ()  # one string of each tuple is in the folding of every match
    starts: re.Pattern[str] | None = None  # finds where a match may start: in the folding, or
    starts_folded: bool = True  # in the text itself (classes such as \d, which case does not affect)

    def find(self, text: str, folded: str | None = None) -> re.Match[str] | None:
        """``pattern.search(text)``; given ``text.casefold()``, most texts need no search."""
        if folded is None or len(text) < _SHORT or "\u0131" in folded or "\u0307" in folded:  # ı, İ: see above
            return self.pattern.search(text)
        for options in self.needs:
            if not any(map(folded.__contains__, options)):
                return None
        if self.starts is None:
            return self.pattern.search(text)
        if not self.starts_folded:
            return self._from_starts(self.starts, text, text)
        if len(folded) != len(text):  # some character folded to several: positions differ
            return self.pattern.search(text)
        return self._from_starts(self.starts, text, folded)

    def _from_starts(self, starts: re.Pattern[str], text: str, where: str) -> re.Match[str] | None:
        """The first match at a place where one may start, as ``search`` finds it."""
        position = tries = 0
        while (start := starts.search(where, position)) is not None:
            found = self.pattern.match(text, start.start())
            if found is not None:
                return found
            position, tries = start.start() + 1, tries + 1
            if tries >= _TRIES and position < _SPACING * tries:  # false starts everywhere
                return self.pattern.search(text, position)
        return None


def compile_search(pattern: re.Pattern[str]) -> Search:
    if _parser is None:
        return Search(pattern)
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        needs, leading, exact = tuple(_required(parsed)), _leading(parsed), _exact_start(parsed)
    except (re.error, AttributeError, TypeError, ValueError, IndexError):  # a parser that changed shape
        return Search(pattern)
    if exact is not None:  # the start and the class after it: rarer than the start alone
        return Search(pattern, needs, re.compile("(?:" + "|".join(map(re.escape, exact[0])) + ")" + exact[1]))
    if isinstance(leading, tuple):
        return Search(pattern, needs, re.compile("|".join(map(re.escape, leading))))
    return Search(pattern, needs, re.compile(leading) if leading else None, starts_folded=False)


def _required(items: Any) -> list[tuple[str, ...]]:
    """What every match of a parsed sequence contains: its literal runs, and what its parts need."""
    found: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, argument in items:
        name = getattr(op, "name", "")
        if name == "LITERAL" and chr(argument) not in _FOLDS_APART:
            run.append(chr(argument))
            continue
        if run:
            found.append(("".join(run).casefold(),))
            run = []
        found.extend(_required_in(name, argument))
    if run:
        found.append(("".join(run).casefold(),))
    return found


def _required_in(name: str, argument: Any) -> list[tuple[str, ...]]:
    if name == "SUBPATTERN":  # (group, added flags, removed flags, items)
        return _required(argument[3])
    if name == "ATOMIC_GROUP":
        return _required(argument)
    if name in _REPEATS and argument[0] >= 1:  # (min, max, items): present at least once
        return _required(argument[2])
    if name == "BRANCH":  # (None, alternatives)
        return _either([_required(alternative) for alternative in argument[1]])
    return []  # classes, anchors, lookarounds, optional parts: nothing certain


def _either(alternatives: list[list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """One requirement from each alternative, any of which will do; none if one needs nothing."""
    if not alternatives or not all(alternatives):
        return []
    picked = [max(needs, key=lambda options: min(len(s) for s in options)) for needs in alternatives]
    return [tuple(dict.fromkeys(s for options in picked for s in options))]


def _leading(items: Any) -> tuple[str, ...] | str | None:
    """How every match of a parsed sequence starts: with one of some strings (folded), with a
    character of a class case does not affect (as a pattern), or None when it is not known."""
    run: list[str] = []
    for op, argument in items:
        name = getattr(op, "name", "")
        if name == "LITERAL" and chr(argument) not in _FOLDS_APART:
            run.append(chr(argument))
        elif run:
            break
        elif name not in _ZERO_WIDTH:
            return _leading_in(name, argument)
    return ("".join(run).casefold(),) if run else None


def _leading_in(name: str, argument: Any) -> tuple[str, ...] | str | None:
    if name == "SUBPATTERN":
        return _leading(argument[3])
    if name == "ATOMIC_GROUP":
        return _leading(argument)
    if name in _REPEATS and argument[0] >= 1:
        return _leading(argument[2])
    if name == "BRANCH":
        starts = [_leading(alternative) for alternative in argument[1]]
        if all(isinstance(s, tuple) for s in starts):
            return tuple(dict.fromkeys(s for options in starts if isinstance(options, tuple) for s in options))
        return None
    return _caseless_class(argument) if name == "IN" else None


def _caseless_class(items: Any, allowed: dict[str, str] = _CASELESS) -> str | None:
    """A class of only \\d, \\s and \\w (or those ``allowed``) as a pattern, else None."""
    names = [(getattr(op, "name", ""), getattr(category, "name", "")) for op, category in items]
    if not names or any(op != "CATEGORY" or category not in allowed for op, category in names):
        return None
    return "[" + "".join(allowed[category] for _, category in names) + "]"


def _exact_start(items: Any) -> tuple[tuple[str, ...], str] | None:
    """When every match starts with a part that matches only some strings (literals and
    alternatives of them) and then a character of \\d or \\s: those strings, folded, and the
    class as a pattern. Folding changes no digit or space, so the class holds in the folding too."""
    parts = [(getattr(op, "name", ""), argument) for op, argument in items]
    index = next((i for i, (name, _) in enumerate(parts) if name not in _ZERO_WIDTH), len(parts))
    end = index + 1
    if index < len(parts) and parts[index][0] == "LITERAL":  # a run of literals is one part
        while end < len(parts) and parts[end][0] == "LITERAL":
            end += 1
    strings = _exact(items[index:end]) if index < len(parts) else None
    while end < len(parts) and parts[end][0] in _ZERO_WIDTH:
        end += 1
    if not strings or not all(strings) or end >= len(parts):
        return None
    name, argument = parts[end]
    if name in _REPEATS and argument[0] >= 1 and len(argument[2]) == 1:
        name, argument = getattr(argument[2][0][0], "name", ""), argument[2][0][1]
    follow = _caseless_class(argument, _UNFOLDED) if name == "IN" else None
    return (strings, follow) if follow else None


def _exact(items: Any) -> tuple[str, ...] | None:
    """The strings, folded, that a parsed sequence of literals, groups and alternatives matches."""
    found: tuple[str, ...] = ("",)
    for op, argument in items:
        name = getattr(op, "name", "")
        options: tuple[str, ...] | None = None
        if name == "LITERAL" and chr(argument) not in _FOLDS_APART:
            options = (chr(argument).casefold(),)
        elif name == "SUBPATTERN":
            options = _exact(argument[3])
        elif name == "BRANCH":
            alternatives = [_exact(alternative) for alternative in argument[1]]
            if all(a is not None for a in alternatives):
                options = tuple(dict.fromkeys(s for a in alternatives if a is not None for s in a))
        if options is None or len(found) * len(options) > 64:
            return None
        found = tuple(a + b for a in found for b in options)
    return found
