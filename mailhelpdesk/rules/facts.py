"""What conditions look at for a mail and its ticket: the ``Facts`` of conditions.py."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from mailhelpdesk.companies.domains import domain_of
from mailhelpdesk.pipeline.parse import ParsedMail
from mailhelpdesk.pipeline.reply_text import reply_text
from mailhelpdesk.rules.calendars import DAYS
from mailhelpdesk.rules.engine import TicketState
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

    def value(self, field: str, argument: str) -> Any:
        return _VALUES[field](self, argument)

    def with_state(self, state: TicketState) -> "MailFacts":
        return self if state is self.state else replace(self, state=state)

    def local_time(self) -> datetime:
        return self.at.astimezone(self.calendar.timezone if self.calendar else UTC)


def _sender(f: MailFacts) -> str:
    return f.mail.sender[1] if f.mail.sender else ""


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
    "reply_text": lambda f, _: reply_text(f.mail.text),
    "headers": lambda f, name: f.mail.header_all(name),
    "attachment_names": lambda f, _: [a.filename for a in f.mail.attachments],
    "attachment_types": lambda f, _: [a.content_type for a in f.mail.attachments],
    "language": lambda f, _: guess_language(f"{f.mail.subject}\n{f.mail.text}"),
    "time_of_day": lambda f, _: f.local_time().strftime("%H:%M"),
    "weekday": lambda f, _: DAYS[f.local_time().weekday()],
    "business_hours": lambda f, _: f.calendar.is_open(f.at) if f.calendar else True,
    "urgency": lambda f, _: f.state.urgency,
    "line": lambda f, _: f.state.line,
    "team": lambda f, _: f.state.team,
    "status": lambda f, _: f.state.status,
    "tags": lambda f, _: sorted(f.state.tags),
    "age": lambda f, _: f.at - (f.created_at or f.at),
    "messages": lambda f, _: f.customer_messages,
}


def guess_language(text: str, sample: int = 2000) -> str:
    """A rough guess from the script of the letters: ru, uk, ja, zh, ko, el, en, de, fr, es, or ''."""
    letters = [c for c in text[:sample] if c.isalpha()]
    if len(letters) < 3:
        return ""
    scripts = _script_counts(letters)
    script, count = max(scripts.items(), key=lambda item: item[1])
    if count * 2 < len(letters):
        return ""
    if script == "cyrillic":
        return "uk" if any(c in "іїєґІЇЄҐ" for c in letters) else "ru"
    if script == "latin":
        return _latin_language(text[:sample].lower())
    return script


def _script_counts(letters: list[str]) -> dict[str, int]:
    counts = {"latin": 0, "cyrillic": 0, "ja": 0, "zh": 0, "ko": 0, "el": 0}
    for c in letters:
        code = ord(c)
        if code < 0x250:
            counts["latin"] += 1
        elif 0x400 <= code < 0x530:
            counts["cyrillic"] += 1
        elif 0x3040 <= code < 0x3100:
            counts["ja"] += 1
        elif 0x4E00 <= code < 0xA000:
            counts["zh"] += 1
        elif 0xAC00 <= code < 0xD7B0:
            counts["ko"] += 1
        elif 0x370 <= code < 0x400:
            counts["el"] += 1
    if counts["ja"]:  # Japanese mixes kana with the same ideographs as Chinese
        counts["ja"] += counts["zh"]
    return counts


_MARKERS = {
    "de": (" der ", " die ", " und ", " nicht ", " ist ", "ß", " ich "),
    "fr": (" le ", " les ", " est ", " pas ", " vous ", " une ", "ç"),
    "es": (" el ", " los ", " por ", " usted ", " una ", "ñ", " está "),
    "en": (" the ", " and ", " is ", " not ", " you ", " please ", " we "),
}


def _latin_language(text: str) -> str:
    padded = f" {' '.join(text.split())} "
    scores = {lang: sum(padded.count(m) for m in markers) for lang, markers in _MARKERS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] else ""
