"""Whole business days: "closes automatically after 3 working days" counts days, not hours."""

from datetime import datetime, time, timedelta

from mailhelpdesk.sla.calendar import BusinessCalendar

_SEARCH_DAYS = 3660  # a calendar with no working day in ten years never closes anything


def after_business_days(calendar: BusinessCalendar, start: datetime, days: int) -> datetime | None:
    """The end of the ``days``-th working day after the day of ``start`` (local to the calendar).

    A ticket resolved on Friday with ``days=3`` in a Mon–Fri calendar closes at the close of
    business on Wednesday. None when ``days`` is 0 (never) or no working day comes.
    """
    if days <= 0:
        return None
    zone = calendar.timezone
    day, counted = start.astimezone(zone).date(), 0
    for _ in range(_SEARCH_DAYS):
        day += timedelta(days=1)
        opening = datetime.combine(day, time(), zone)
        spans = list(calendar.open_intervals(opening, datetime.combine(day + timedelta(days=1), time(), zone)))
        if spans:
            counted += 1
            if counted == days:
                return spans[-1][1]
    return None
