"""The ``calendars:`` section: working hours, time zone and holidays, by name.

    calendars:
      office:
        timezone: Europe/Moscow
        hours:
          mon-fri: [09:00-13:00, 14:00-18:00]   # a lunch break is two ranges
          sat: [10:00-14:00]
        holidays:
          country: RU            # public holidays (the `holidays` package); optional `subdivision`
          dates: [2026-12-31]    # single days
          yearly: [01-01, 12-25] # every year
      around-the-clock:
        hours: 24x7
"""

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from mailhelpdesk.rules.source import Reader
from mailhelpdesk.sla.calendar import BusinessCalendar, Range

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_CALENDAR_FIELDS = ("timezone", "hours", "holidays")
_HOLIDAY_FIELDS = ("country", "subdivision", "dates", "yearly")


def read_calendars(reader: Reader, node: yaml.Node | None) -> dict[str, BusinessCalendar]:
    entries = reader.mapping(node, "calendars")
    calendars: dict[str, BusinessCalendar] = {}
    for name, value in (entries or {}).items():
        calendar = _calendar(reader, name, value)
        if calendar is not None:
            calendars[name] = calendar
    return calendars


def _calendar(reader: Reader, name: str, node: yaml.Node) -> BusinessCalendar | None:
    fields = reader.mapping(node, f"calendar {name!r}", _CALENDAR_FIELDS, required=("hours",))
    if fields is None:
        return None
    zone = _zone(reader, fields.get("timezone"), name)
    week = _week(reader, fields["hours"], name) if "hours" in fields else None
    holidays = _holidays(reader, fields.get("holidays"), name)
    if zone is None or week is None or holidays is None:
        return None
    calendar = BusinessCalendar(name, zone, week, holidays=holidays.dates, yearly=holidays.yearly,
                                country=holidays.country, subdivision=holidays.subdivision)
    for problem in calendar.validate():
        reader.error(node, f"calendar {name!r}: {problem}")
    return calendar


def _zone(reader: Reader, node: yaml.Node | None, name: str) -> ZoneInfo | None:
    if node is None:
        return ZoneInfo("UTC")
    text = reader.string(node, f"timezone of calendar {name!r}")
    try:
        return ZoneInfo(text) if text else None
    except (ZoneInfoNotFoundError, ValueError):
        reader.error(node, f"unknown time zone {text!r} (use a name such as Europe/Moscow or UTC)")
        return None


def _week(reader: Reader, node: yaml.Node, name: str) -> tuple[tuple[Range, ...], ...] | None:
    if isinstance(node, yaml.ScalarNode) and str(node.value).strip().lower() == "24x7":
        return tuple(((0, 1440),) for _ in DAYS)
    entries = reader.mapping(node, f"hours of calendar {name!r}")
    if entries is None:
        return None
    days: dict[int, tuple[Range, ...]] = {}
    for key, value in entries.items():
        ranges = _ranges(reader, value, f"{key} in calendar {name!r}")
        for day in _day_spec(reader, key, node):
            if day in days:
                reader.error(value, f"{DAYS[day]} is given twice in calendar {name!r}")
            days[day] = ranges
    return tuple(days.get(day, ()) for day in range(7))


def _day_spec(reader: Reader, key: str, node: yaml.Node) -> list[int]:
    """``mon``, ``mon-fri``, ``sat,sun`` as weekday numbers (Monday 0)."""
    found: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            reader.error(node, f"unknown day {part!r}: use mon … sun, a range such as mon-fri, or a list sat,sun")
            continue
        start, end = DAYS.index(first), DAYS.index(last or first)
        found.extend(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    return found


def _ranges(reader: Reader, node: yaml.Node, what: str) -> tuple[Range, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    ranges: list[Range] = []
    for item in items:
        match = _RANGE.fullmatch(str(getattr(item, "value", "")).strip())
        if match is None:
            reader.error(item, f"{what}: expected a time range such as 09:00-18:00")
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or not 0 <= start < end <= 1440:
            reader.error(item, f"{what}: {item.value!r} is not a range within one day (00:00-24:00)")
            continue
        ranges.append((start, end))
    return tuple(sorted(ranges))


@dataclass(frozen=True, slots=True)
class _Holidays:
    dates: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()
    country: str | None = None
    subdivision: str | None = None


def _holidays(reader: Reader, node: yaml.Node | None, name: str) -> _Holidays | None:
    if node is None:
        return _Holidays()
    fields = reader.mapping(node, f"holidays of calendar {name!r}", _HOLIDAY_FIELDS)
    if fields is None:
        return None
    country = reader.string(fields["country"], "country") if "country" in fields else None
    subdivision = reader.string(fields["subdivision"], "subdivision") if "subdivision" in fields else None
    return _Holidays(frozenset(_dates(reader, fields.get("dates"))), frozenset(_yearly(reader, fields.get("yearly"))),
                     country.upper() if country else None, subdivision)


def _dates(reader: Reader, node: yaml.Node | None) -> list[date]:
    found = []
    for item in reader.sequence(node, "dates") if node is not None else []:
        try:
            found.append(date.fromisoformat(str(item.value).strip()))
        except (ValueError, AttributeError):
            reader.error(item, f"expected a date such as 2026-12-31, not {getattr(item, 'value', '')!r}")
    return found


def _yearly(reader: Reader, node: yaml.Node | None) -> list[tuple[int, int]]:
    found = []
    for item in reader.sequence(node, "yearly") if node is not None else []:
        match = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(getattr(item, "value", "")).strip())
        try:
            if match is None:
                raise ValueError
            month, day = int(match.group(1)), int(match.group(2))
            date(2024, month, day)  # a leap year, so 02-29 is allowed
            found.append((month, day))
        except ValueError:
            reader.error(item, f"expected a month and day such as 12-25, not {getattr(item, 'value', '')!r}")
    return found
