"""What conditions look at for a mail and its ticket: the ``Facts`` of conditions.py."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailhelpdesk.companies.domains import domain_of
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.mail.parse import ParsedMail
from mailhelpdesk.rules.calendars import DAYS
from mailhelpdesk.rules.conditions import fold
from mailhelpdesk.sla.calendar import BusinessCalendar


@dataclass(frozen=True, slots=True)
class MailFacts:
    mail: ParsedMail
    mailbox: str
    company: str
    company_tier: str
    state: TicketState
    at: datetime  # when the event happened
    calendar: BusinessCalendar | None = None  # for time_of_day, weekday, business_hours
    created_at: datetime | None = None
    customer_messages: int = 1
    # Values computed on first use: a rules file asks for the same few fields (body, language,
    # reply_text…) in many rules, and some cost far more than a rule's test. The mail's values
    # are shared with the copies ``with_state`` makes; the ticket's are kept per copy.
    _memo: dict[tuple[str, str, bool | None], Any] = field(default_factory=dict, init=False, repr=False,
                                                          compare=False)
    _state_memo: dict[tuple[str, str, bool | None], Any] = field(default_factory=dict, init=False, repr=False,
                                                                compare=False)

    def value(self, field: str, argument: str) -> Any:
        """The field's value; lists are shared between calls, so callers must not change them."""
        memo, key = self._state_memo if field in _STATE_VALUES else self._memo, (field, argument, None)
        found = memo.get(key, _UNSET)
        if found is _UNSET:
            found = memo[key] = self._compute(field, argument)
        return found

    def folded(self, field: str, argument: str, is_list: bool) -> tuple[str, ...]:
        """``fold`` of the value, for the text matchers of conditions.py; memoised like ``value``."""
        memo, key = self._state_memo if field in _STATE_VALUES else self._memo, (field, argument, is_list)
        found = memo.get(key, _UNSET)
        if found is _UNSET:
            found = memo[key] = fold(self.value(field, argument), is_list)
        return found  # type: ignore[no-any-return]

    def present(self, field: str, argument: str) -> bool:
        """``bool(value(field, argument))``; headers are not decoded for it."""
        if field == "headers":
            return bool(self.mail.raw_headers.get(argument.lower()))
        return bool(self.value(field, argument))

    def _compute(self, field: str, argument: str) -> Any:
        state_value = _STATE_VALUES.get(field)
        return state_value(self.state) if state_value is not None else _VALUES[field](self, argument)

    def with_state(self, state: TicketState) -> "MailFacts":
        if state is self.state:
            return self
        changed = MailFacts(self.mail, self.mailbox, self.company, self.company_tier, state, self.at, self.calendar,
                            self.created_at, self.customer_messages)
        object.__setattr__(changed, "_memo", self._memo)  # nothing in it depends on the state
        return changed

    def local_time(self) -> datetime:
        return self.at.astimezone(self.calendar.timezone if self.calendar else UTC)


_UNSET = object()


def _sender(f: MailFacts) -> str:
    return f.mail.sender[1] if f.mail.sender else ""


# The mail's fields; one that depends on the ticket's state belongs in _STATE_VALUES.
_VALUES: dict[str, Callable[[MailFacts, str], Any]] = {
    "mailbox": lambda f, _: f.mailbox,
    "sender": lambda f, _: _sender(f),
    "sender_name": lambda f, _: f.mail.sender[0] if f.mail.sender else "",
    "sender_domain": lambda f, _: domain_of(_sender(f)) if _sender(f) else "",
    "company": lambda f, _: f.company,
    "company_tier": lambda f, _: f.company_tier,
    "to": lambda f, _: [a for _, a in f.mail.to],
    "cc": lambda f, _: [a for _, a in f.mail.cc],
    "subject": lambda f, _: f.mail.subject,
    "body": lambda f, _: f.mail.text,
    "reply_text": lambda f, _: f.mail.reply_text,
    "headers": lambda f, name: f.mail.header_all(name),
    "attachment_names": lambda f, _: [a.filename for a in f.mail.attachments],
    "attachment_types": lambda f, _: [a.content_type for a in f.mail.attachments],
    "language": lambda f, _: guess_language(f"{f.mail.subject}\n{f.mail.text}"),
    "time_of_day": lambda f, _: f.local_time().strftime("%H:%M"),
    "weekday": lambda f, _: DAYS[f.local_time().weekday()],
    "business_hours": lambda f, _: f.calendar.is_open(f.at) if f.calendar else True,
    "age": lambda f, _: f.at - (f.created_at or f.at),
    "messages": lambda f, _: f.customer_messages,
}

# The ticket's fields: earlier rules change them, so they are memoised per copy of the facts.
_STATE_VALUES: dict[str, Callable[[TicketState], Any]] = {
    "urgency": lambda s: s.urgency,
    "line": lambda s: s.line,
    "team": lambda s: s.team,
    "status": lambda s: s.status,
    "tags": lambda s: sorted(s.tags),
}


def guess_language(text: str, sample: int = 2000) -> str:
    """A rough guess from the script of the letters: ru, uk, ja, zh, ko, el, en, de, fr, es, or ''."""
    ascii_letters, wide = _letters(text[:sample])
    total = ascii_letters + len(wide)
    if total < 3:
        return ""
    scripts = _script_counts(ascii_letters, wide)
    script, count = max(scripts.items(), key=lambda item: item[1])
    if count * 2 < total:
        return ""
    if script == "cyrillic":
        return "uk" if any(c in wide for c in "іїєґІЇЄҐ") else "ru"
    if script == "latin":
        return _latin_language(text[:sample].lower())
    return script


# Letters are counted with bytes operations rather than a loop over the characters: this runs
# for every mail, and such a loop costs a few hundred µs. In UTF-8 every byte of a non-ASCII
# character is >= 0x80, so dropping the ASCII bytes leaves the other characters; in UTF-16 the
# high byte of a character is its block of 256 code points.
_ASCII = bytes(range(0x80))
_NOT_ASCII_LETTERS = bytes(b for b in range(0x100) if not chr(b).isascii() or not chr(b).isalpha())


def _letters(text: str) -> tuple[int, str]:
    """How many ASCII letters ``text`` has, and its other letters (``str.isalpha``)."""
    raw = text.encode("utf-8", "surrogatepass")
    wide = raw.translate(None, _ASCII).decode("utf-8", "surrogatepass")
    if not wide.isalpha():  # punctuation such as «» or 。: rarely more than a few characters
        wide = "".join(filter(str.isalpha, wide))
    return len(raw.translate(None, _NOT_ASCII_LETTERS)), wide


@dataclass(frozen=True, slots=True)
class _Script:
    blocks: bytes  # the 256-code-point blocks that are wholly the script's, by high byte
    shared: int = -1  # a block it shares with others (its start or end lies inside)
    part: re.Pattern[str] | None = None  # the script's part of that block


# latin < 0x250, cyrillic 0x400-0x52F, ja 0x3040-0x30FF, zh 0x4E00-0x9FFF, ko 0xAC00-0xD7AF, el 0x370-0x3FF
_SCRIPTS = {
    "latin": _Script(b"\x00\x01", 0x02, re.compile("[\u0200-\u024f]")),
    "cyrillic": _Script(b"\x04", 0x05, re.compile("[\u0500-\u052f]")),
    "ja": _Script(b"", 0x30, re.compile("[\u3040-\u30ff]")),
    "zh": _Script(bytes(range(0x4E, 0xA0))),
    "ko": _Script(bytes(range(0xAC, 0xD7)), 0xD7, re.compile("[\ud700-\ud7af]")),
    "el": _Script(b"\x03"),  # no letters in 0x300-0x36F, only combining marks
}


def _script_counts(ascii_letters: int, wide: str) -> dict[str, int]:
    """Letters per script; ``wide`` holds letters only, none of them ASCII."""
    high = wide.encode("utf-16-le", "surrogatepass")[1::2]
    counts = {name: _count(wide, high, script) for name, script in _SCRIPTS.items()}
    counts["latin"] += ascii_letters
    if counts["ja"]:  # Japanese mixes kana with the same ideographs as Chinese
        counts["ja"] += counts["zh"]
    return counts


def _count(wide: str, high: bytes, script: _Script) -> int:
    found = len(high) - len(high.translate(None, script.blocks)) if script.blocks else 0
    if script.part is not None and script.shared in high:
        found += len(script.part.findall(wide))
    return found


_MARKERS = {
    "de": (" der ", " die ", " und ", " nicht ", " ist ", "ß", " ich "),
    "fr": (" le ", " les ", " est ", " pas ", " vous ", " une ", "ç"),
    "es": (" el ", " los ", " por ", " usted ", " una ", "ñ", " está "),
    "en": (" the ", " and ", " is ", " not ", " you ", " please ", " we "),
}


def _latin_language(text: str) -> str:
    """The language whose markers are most frequent, counted as ``str.count`` counts them in the
    text with its whitespace made single spaces and a space at both ends, but in one pass over
    the words: a marker " w " takes a space from the next word, so in a run of "w w w" only every
    other "w" counts."""
    scores = dict.fromkeys(_MARKERS, 0)
    for marker, language in _MARKER_TEXTS:
        scores[language] += text.count(marker)
    previous, counted = "", False
    for word in text.split():
        languages = _MARKER_WORDS.get(word)
        counted = languages is not None and not (counted and word == previous)
        if counted:
            for language in languages or ():
                scores[language] += 1
        previous = word
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] else ""


def _split_markers() -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Markers " w " as the languages each w marks; the others, which have no whitespace, as they are."""
    words: dict[str, tuple[str, ...]] = {}
    texts: list[tuple[str, str]] = []
    for language, markers in _MARKERS.items():
        for marker in markers:
            word = marker.strip()
            if marker == f" {word} " and len(marker.split()) == 1:
                words[word] = (*words.get(word, ()), language)
            elif not any(c.isspace() for c in marker):
                texts.append((marker, language))
            else:
                raise ValueError(f"a language marker is a word between spaces or has no spaces: {marker!r}")
    return words, texts


_MARKER_WORDS, _MARKER_TEXTS = _split_markers()
