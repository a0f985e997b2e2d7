"""Dates, durations and working hours written for people, in the languages templates ship in.

Other languages get ISO-like numbers and English words, which every reader understands.
"""

from datetime import datetime, timedelta, tzinfo

from mailhelpdesk.sla.calendar import BusinessCalendar

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "ru": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"),
}
_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
}
_ALWAYS = {"en": "around the clock", "ru": "круглосуточно"}
# Compact units (days, hours, minutes): a duration sits in a line of a mail beside a date.
_UNITS = {"en": ("{}d", "{}h", "{}m"), "ru": ("{} д", "{} ч", "{} мин")}
_DEADLINES = {
    "en": {"first_response": "first response", "next_response": "next response", "update_every": "customer update",
           "resolution": "resolution"},
    "ru": {"first_response": "первый ответ", "next_response": "следующий ответ",
           "update_every": "обновление для клиента", "resolution": "решение"},
}


def format_date(moment: datetime, zone: tzinfo, language: str) -> str:
    local = moment.astimezone(zone)
    months = _MONTHS.get(language)
    return f"{local.day} {months[local.month - 1]} {local.year}" if months else local.strftime("%Y-%m-%d")


def format_datetime(moment: datetime, zone: tzinfo, language: str) -> str:
    return f"{format_date(moment, zone, language)}, {moment.astimezone(zone):%H:%M}"


def format_duration(span: timedelta, language: str) -> str:
    """``2h 10m``, ``3d 4h``, ``59m``, ``0m``: the two largest units; the sign is ignored.

    Minutes are cut, not rounded, so the time left is never promised longer than it is.
    """
    days, rest = divmod(int(abs(span).total_seconds()) // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    day, hour, minute = _UNITS.get(language, _UNITS["en"])
    if days:
        shown = ((days, day), (hours, hour))
    elif hours:
        shown = ((hours, hour), (minutes, minute))
    else:
        return minute.format(minutes)
    return " ".join(unit.format(count) for count, unit in shown if count)


def deadline_label(target: str, language: str) -> str:
    """An SLA target (``first_response`` …) in words: ``first response``, ``первый ответ``."""
    return _DEADLINES.get(language, _DEADLINES["en"]).get(target, target)


def describe_hours(calendar: BusinessCalendar, language: str) -> str:
    """``Mon–Fri 09:00–13:00, 14:00–18:00``: days with the same hours grouped."""
    names = _DAYS.get(language, _DAYS["en"])
    if all(day == ((0, 1440),) for day in calendar.week):
        return _ALWAYS.get(language, _ALWAYS["en"])
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for index, ranges in enumerate(calendar.week):
        if groups and groups[-1][2] == tuple(ranges) and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index, groups[-1][2])
        else:
            groups.append((index, index, tuple(ranges)))
    return "; ".join(f"{_days(names, first, last)} {', '.join(_range(r) for r in ranges)}"
                     for first, last, ranges in groups if ranges)


def _days(names: tuple[str, ...], first: int, last: int) -> str:
    return names[first] if first == last else f"{names[first]}–{names[last]}"


def _range(span: tuple[int, int]) -> str:
    return f"{_hhmm(span[0])}–{_hhmm(span[1])}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
