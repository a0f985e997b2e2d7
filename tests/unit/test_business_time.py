"""Business-time calendars: working hours, holidays, DST, and the algebra of add/between."""

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mailhelpdesk.sla.calendar import BusinessCalendar, Range, WeekHours

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
US = timedelta(microseconds=1)
H = timedelta(hours=1)

LUNCH_BREAK: tuple[Range, ...] = ((9 * 60, 13 * 60), (14 * 60, 18 * 60))
OFFICE: WeekHours = (LUNCH_BREAK,) * 5 + ((), ())
NINE_TO_FIVE: WeekHours = (((9 * 60, 17 * 60),),) * 5 + ((), ())
NOTHING: WeekHours = ((),) * 7
ALL_DAY: WeekHours = (((0, 1440),),) * 7


def one_day(weekday: int, *ranges: Any) -> WeekHours:
    """A week open only on ``weekday`` (0 = Monday), with these ranges (bad ones too, for validate())."""
    return tuple(ranges if day == weekday else () for day in range(7))


def only_sunday(*ranges: Range) -> WeekHours:
    return one_day(6, *ranges)


def at(zone: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def desk(**changes: Any) -> BusinessCalendar:
    """Mon-Fri 09:00-13:00 + 14:00-18:00 in Moscow."""
    return replace(BusinessCalendar("desk", MSK, OFFICE), **changes)


# --- a Moscow office with a lunch break -------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(MSK, 2026, 2, 6, 17), 2, at(MSK, 2026, 2, 9, 10)),  # Friday evening -> Monday morning
        (at(MSK, 2026, 2, 9, 12, 30), 1, at(MSK, 2026, 2, 9, 14, 30)),  # lunch skipped
        (at(MSK, 2026, 2, 9, 12), 1, at(MSK, 2026, 2, 9, 13)),  # an exact fit ends at the break
        (at(MSK, 2026, 2, 9, 13, 30), 1, at(MSK, 2026, 2, 9, 15)),  # start inside the break
        (at(MSK, 2026, 2, 7, 11), 4, at(MSK, 2026, 2, 9, 13)),  # Saturday: counting starts Monday
        (at(MSK, 2026, 2, 9, 6), 8, at(MSK, 2026, 2, 9, 18)),  # before opening: a full day
        (at(MSK, 2026, 2, 9, 18), 8, at(MSK, 2026, 2, 10, 18)),
        (at(MSK, 2026, 2, 9, 9), 40, at(MSK, 2026, 2, 13, 18)),  # a whole working week
        (at(MSK, 2026, 2, 9, 9), 41, at(MSK, 2026, 2, 16, 10)),
        (at(UTC, 2026, 2, 6, 14), 2, at(MSK, 2026, 2, 9, 10)),  # input in another zone
    ],
)
def test_office_add(start: datetime, hours: int, expected: datetime) -> None:
    calendar = desk()
    result = calendar.add(start, timedelta(hours=hours))
    assert result == expected
    assert result.tzinfo is UTC
    assert calendar.between(start, result) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("moment", "is_open", "next_open"),
    [
        (at(MSK, 2026, 2, 9, 9), True, at(MSK, 2026, 2, 9, 9)),
        (at(MSK, 2026, 2, 9, 8, 59), False, at(MSK, 2026, 2, 9, 9)),
        (at(MSK, 2026, 2, 9, 12, 59), True, at(MSK, 2026, 2, 9, 12, 59)),
        (at(MSK, 2026, 2, 9, 13), False, at(MSK, 2026, 2, 9, 14)),
        (at(MSK, 2026, 2, 9, 18) - US, True, at(MSK, 2026, 2, 9, 18) - US),
        (at(MSK, 2026, 2, 9, 18), False, at(MSK, 2026, 2, 10, 9)),
        (at(MSK, 2026, 2, 6, 18), False, at(MSK, 2026, 2, 9, 9)),
        (at(MSK, 2026, 2, 8, 23, 59), False, at(MSK, 2026, 2, 9, 9)),
    ],
)
def test_office_is_open_and_next_open(moment: datetime, is_open: bool, next_open: datetime) -> None:
    calendar = desk()
    assert calendar.is_open(moment) is is_open
    assert calendar.next_open(moment) == next_open


def test_office_between_and_intervals() -> None:
    calendar = desk()
    start, end = at(MSK, 2026, 2, 6, 17), at(MSK, 2026, 2, 9, 15)
    assert calendar.between(start, end) == 6 * H
    assert list(calendar.open_intervals(start, end)) == [
        (at(MSK, 2026, 2, 6, 17), at(MSK, 2026, 2, 6, 18)),
        (at(MSK, 2026, 2, 9, 9), at(MSK, 2026, 2, 9, 13)),
        (at(MSK, 2026, 2, 9, 14), at(MSK, 2026, 2, 9, 15)),
    ]
    assert calendar.between(end, start) == timedelta(0)
    assert list(calendar.open_intervals(end, start)) == []
    # A year of Mondays to Fridays, 8 hours each, minus nothing: 2026-02-09 .. 2027-02-08 is 52 weeks.
    assert calendar.between(at(MSK, 2026, 2, 9), at(MSK, 2027, 2, 8)) == 52 * 40 * H


def test_touching_ranges_within_a_day_behave_as_one() -> None:
    split = desk(week=(((540, 780), (780, 1080)),) * 5 + ((), ()))
    start, end = at(MSK, 2026, 2, 9), at(MSK, 2026, 2, 10)
    assert split.validate() == []
    assert list(split.open_intervals(start, end)) == [(at(MSK, 2026, 2, 9, 9), at(MSK, 2026, 2, 9, 18))]
    assert split.add(at(MSK, 2026, 2, 9, 12), 2 * H) == at(MSK, 2026, 2, 9, 14)


# --- holidays ---------------------------------------------------------------------------------


def test_yearly_holiday() -> None:
    calendar = desk(yearly=frozenset({(1, 1)}))
    # 2027-01-01 is a Friday: Thursday 17:00 + 2 h skips Friday and the weekend.
    assert calendar.add(at(MSK, 2026, 12, 31, 17), 2 * H) == at(MSK, 2027, 1, 4, 10)
    assert not calendar.is_open(at(MSK, 2027, 1, 1, 10))
    assert not calendar.is_open(at(MSK, 2031, 1, 1, 10))  # every year (a Wednesday)
    assert calendar.is_open(at(MSK, 2031, 1, 2, 10))


def test_exact_holiday_closes_only_that_date() -> None:
    calendar = desk(holidays=frozenset({date(2026, 2, 9)}))
    assert calendar.add(at(MSK, 2026, 2, 6, 17), 2 * H) == at(MSK, 2026, 2, 10, 10)
    assert calendar.next_open(at(MSK, 2026, 2, 9, 10)) == at(MSK, 2026, 2, 10, 9)
    assert calendar.is_open(at(MSK, 2027, 2, 9, 10))  # not every year
    assert calendar.between(at(MSK, 2026, 2, 9), at(MSK, 2026, 2, 16)) == 32 * H


def test_february_29_closes_leap_years_only() -> None:
    calendar = desk(yearly=frozenset({(2, 29)}))
    assert calendar.validate() == []
    assert not calendar.is_open(at(MSK, 2028, 2, 29, 10))
    assert calendar.is_open(at(MSK, 2027, 3, 1, 10))


@pytest.mark.parametrize(
    "closed",
    [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 8), date(2026, 1, 9),
     date(2026, 2, 23), date(2026, 3, 9), date(2026, 5, 1), date(2026, 5, 11), date(2026, 6, 12),
     date(2026, 11, 4), date(2026, 12, 31)],
)
def test_russian_public_holidays_2026(closed: date) -> None:
    noon = datetime.combine(closed, time(12), MSK)
    assert closed.weekday() < 5  # each of these would be a working day
    assert not desk(country="RU").is_open(noon)
    assert desk().is_open(noon)


def test_russian_new_year_break() -> None:
    calendar = desk(country="RU")
    # 31 December 2025 and 1-9 January 2026 are days off (7 January is Orthodox Christmas);
    # work resumes on Monday the 12th.
    assert not calendar.is_open(at(MSK, 2025, 12, 31, 10))
    assert calendar.add(at(MSK, 2025, 12, 30, 17), 2 * H) == at(MSK, 2026, 1, 12, 10)
    assert calendar.next_open(at(MSK, 2026, 1, 7, 10)) == at(MSK, 2026, 1, 12, 9)


def test_country_calendar_agrees_with_the_holidays_package_for_a_year() -> None:
    calendar = desk(country="RU")
    public = holidays_lib.country_holidays("RU", years=2026)
    day = date(2026, 1, 1)
    while day.year == 2026:
        expected = day.weekday() < 5 and day not in public
        assert calendar.is_open(datetime.combine(day, time(10), MSK)) is expected, day
        day += timedelta(days=1)
    working_days = sum(1 for n in range(365) if (d := date(2026, 1, 1) + timedelta(n)).weekday() < 5
                       and d not in public)
    assert calendar.between(at(MSK, 2026, 1, 1), at(MSK, 2027, 1, 1)) == working_days * 8 * H


def test_subdivision_holidays() -> None:
    bavaria = BusinessCalendar("munich", BERLIN, OFFICE, country="DE", subdivision="BY")
    berlin = replace(bavaria, subdivision="BE")
    epiphany = at(BERLIN, 2026, 1, 6, 10)  # a Tuesday; a holiday in Bavaria only
    assert not bavaria.is_open(epiphany)
    assert berlin.is_open(epiphany)
    for closed in (date(2026, 5, 14), date(2026, 12, 25)):  # Ascension Day, Christmas: everywhere
        assert not berlin.is_open(datetime.combine(closed, time(10), BERLIN))
        assert not bavaria.is_open(datetime.combine(closed, time(10), BERLIN))


def test_observed_us_holiday() -> None:
    calendar = BusinessCalendar("nyc", NEW_YORK, NINE_TO_FIVE, country="US")
    # 4 July 2026 is a Saturday; the public holiday is observed on Friday the 3rd.
    assert not calendar.is_open(at(NEW_YORK, 2026, 7, 3, 10))
    assert calendar.add(at(NEW_YORK, 2026, 7, 2, 16), 2 * H) == at(NEW_YORK, 2026, 7, 6, 10)


def test_answer_within_24_hours_holidays_excepted() -> None:
    calendar = replace(
        BusinessCalendar.always_open("24h", "Europe/Moscow"), yearly=frozenset({(1, 1), (1, 7)})
    )
    assert calendar.validate() == []
    day = timedelta(hours=24)
    assert calendar.add(at(MSK, 2026, 12, 31, 12), day) == at(MSK, 2027, 1, 2, 12)
    assert calendar.add(at(MSK, 2027, 1, 6, 12), day) == at(MSK, 2027, 1, 8, 12)
    assert calendar.add(at(MSK, 2027, 3, 1, 12), day) == at(MSK, 2027, 3, 2, 12)
    assert calendar.add(at(MSK, 2027, 1, 1, 5), day) == at(MSK, 2027, 1, 3)  # received on the holiday
    assert calendar.between(at(MSK, 2026, 12, 31), at(MSK, 2027, 1, 3)) == 2 * day


# --- daylight saving time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "ranges", "expected"),
    [
        (BERLIN, date(2026, 3, 29), ((60, 240),), 2 * H),  # 01:00-04:00, clocks go 02:00 -> 03:00
        (BERLIN, date(2026, 10, 25), ((60, 240),), 4 * H),  # clocks go 03:00 -> 02:00
        (BERLIN, date(2026, 3, 22), ((60, 240),), 3 * H),  # an ordinary Sunday
        (BERLIN, date(2026, 3, 29), ((150, 240),), 1 * H),  # starts in the gap: counts from 03:00
        (BERLIN, date(2026, 3, 29), ((120, 150),), timedelta(0)),  # entirely in the gap
        (BERLIN, date(2026, 10, 25), ((150, 240),), 2.5 * H),  # 02:30 is its first occurrence
        (BERLIN, date(2026, 3, 29), ((0, 1440),), 23 * H),
        (BERLIN, date(2026, 10, 25), ((0, 1440),), 25 * H),
        (NEW_YORK, date(2026, 3, 8), ((0, 1440),), 23 * H),
        (NEW_YORK, date(2026, 11, 1), ((60, 180),), 3 * H),  # 01:00 (first) .. 03:00 EST
        (LORD_HOWE, date(2026, 10, 4), ((0, 1440),), 23.5 * H),  # half-hour DST
        (LORD_HOWE, date(2026, 4, 5), ((0, 1440),), 24.5 * H),
        (SANTIAGO, date(2026, 9, 6), ((0, 120),), 1 * H),  # midnight does not exist: opens 01:00
        (SANTIAGO, date(2026, 4, 5), ((0, 1440),), 24 * H),  # 23:00-24:00 repeats on the 4th instead
    ],
)
def test_dst_days(zone: ZoneInfo, day: date, ranges: tuple[Range, ...], expected: timedelta) -> None:
    calendar = BusinessCalendar("sunday", zone, only_sunday(*ranges))
    assert day.weekday() == 6
    week_start = datetime.combine(day - timedelta(days=6), time(), zone)
    assert calendar.between(week_start, week_start + timedelta(days=8)) == expected
    intervals = list(calendar.open_intervals(week_start, week_start + timedelta(days=8)))
    assert sum((b - a for a, b in intervals), timedelta(0)) == expected
    assert len(intervals) == (1 if expected else 0)


def test_dst_instants() -> None:
    sunday = BusinessCalendar("sunday", BERLIN, only_sunday((150, 240)))
    spring = at(BERLIN, 2026, 3, 29)
    assert sunday.next_open(spring) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST, the gap's end
    autumn = at(BERLIN, 2026, 10, 25)
    assert sunday.next_open(autumn) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, first one
    assert sunday.add(autumn, 2.5 * H) == datetime(2026, 10, 25, 3, tzinfo=UTC)  # 04:00 CET
    midnight_gap = BusinessCalendar("sunday", SANTIAGO, only_sunday((0, 120)))
    assert midnight_gap.next_open(at(SANTIAGO, 2026, 9, 5, 23)) == datetime(2026, 9, 6, 4, tzinfo=UTC)


def test_new_york_office_across_spring_forward() -> None:
    calendar = BusinessCalendar("nyc", NEW_YORK, NINE_TO_FIVE)
    friday = at(NEW_YORK, 2026, 3, 6, 16)  # EST, UTC-5
    monday = calendar.add(friday, 2 * H)
    assert monday == at(NEW_YORK, 2026, 3, 9, 10) == datetime(2026, 3, 9, 14, tzinfo=UTC)  # EDT, UTC-4
    assert calendar.between(friday, monday) == 2 * H
    autumn = at(NEW_YORK, 2026, 10, 30, 16)
    assert calendar.add(autumn, 2 * H) == at(NEW_YORK, 2026, 11, 2, 10) == datetime(2026, 11, 2, 15, tzinfo=UTC)


# --- midnight, 24x7, nothing at all -----------------------------------------------------------


def test_range_to_midnight_touches_next_days_range() -> None:
    night: WeekHours = (((20 * 60, 1440),), ((0, 4 * 60),)) + ((),) * 5
    calendar = BusinessCalendar("night", BERLIN, night)
    monday = at(BERLIN, 2026, 2, 9)
    assert list(calendar.open_intervals(monday, monday + timedelta(days=2))) == [
        (at(BERLIN, 2026, 2, 9, 20), at(BERLIN, 2026, 2, 10, 4)),
    ]
    assert calendar.add(at(BERLIN, 2026, 2, 9, 23), 2 * H) == at(BERLIN, 2026, 2, 10, 1)
    assert calendar.add(at(BERLIN, 2026, 2, 9, 20), 4 * H) == at(BERLIN, 2026, 2, 10)
    assert calendar.is_open(at(BERLIN, 2026, 2, 10))
    assert calendar.next_open(at(BERLIN, 2026, 2, 10)) == at(BERLIN, 2026, 2, 10)
    assert calendar.add(at(BERLIN, 2026, 2, 10, 3), 2 * H) == at(BERLIN, 2026, 2, 16, 21)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_always_open_is_plain_arithmetic(zone: str) -> None:
    calendar = BusinessCalendar.always_open(timezone=zone)
    assert calendar.name == "24x7"
    assert calendar.validate() == []
    start = datetime(2026, 1, 1, 12, 34, 56, 789, tzinfo=UTC)
    for duration in (timedelta(0), US, 4 * H, timedelta(days=200, seconds=7), timedelta(days=800)):
        assert calendar.add(start, duration) == start + duration
        assert calendar.between(start, start + duration) == duration
    assert list(calendar.open_intervals(start, start + timedelta(days=400))) == [
        (start, start + timedelta(days=400)),
    ]
    assert calendar.next_open(start) == start


def test_calendar_without_hours() -> None:
    calendar = BusinessCalendar("closed", MSK, NOTHING, yearly=frozenset({(1, 1)}))
    start = at(MSK, 2026, 2, 9, 10)
    assert calendar.validate() == []
    assert calendar.next_open(start) is None
    assert not calendar.is_open(start)
    assert calendar.between(start, start + timedelta(days=3000)) == timedelta(0)
    assert list(calendar.open_intervals(start, start + timedelta(days=3000))) == []
    assert calendar.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="no working hours"):
        calendar.add(start, US)


def test_zero_duration_is_now_even_when_closed() -> None:
    saturday = at(MSK, 2026, 2, 7, 11)
    result = desk().add(saturday, timedelta(0))
    assert result == saturday
    assert result.tzinfo is UTC


def test_naive_datetimes_are_rejected() -> None:
    calendar = desk()
    naive, aware = datetime(2026, 2, 9, 10), at(MSK, 2026, 2, 9, 10)
    calls: list[Callable[[], object]] = [
        lambda: calendar.is_open(naive),
        lambda: calendar.next_open(naive),
        lambda: calendar.add(naive, H),
        lambda: calendar.between(naive, aware),
        lambda: calendar.between(aware, naive),
        lambda: calendar.open_intervals(aware, naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="must be timezone-aware"):
            call()


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        desk().add(at(MSK, 2026, 2, 9, 10), -US)


def test_beyond_the_supported_years() -> None:
    with pytest.raises(OverflowError):
        desk().add(at(MSK, 2026, 2, 9, 10), timedelta(days=3_000_000))
    with pytest.raises(OverflowError):
        desk().is_open(datetime(9999, 1, 1, tzinfo=UTC))


def test_results_do_not_depend_on_the_order_of_queries() -> None:
    early, late = at(MSK, 2025, 3, 3, 10), at(MSK, 2028, 11, 3, 10)
    fresh = desk(country="RU").add(early, 300 * H)
    used = desk(country="RU")
    assert used.add(late, 300 * H) == desk(country="RU").add(late, 300 * H)
    assert used.add(early, 300 * H) == fresh  # a window loaded for 2028 grows back to 2025
    assert used.between(early, late) == desk(country="RU").between(early, late)


def test_calendars_are_values() -> None:
    assert desk() == desk()
    assert hash(desk()) == hash(desk())
    assert desk() != desk(country="RU")
    used = desk()
    used.is_open(at(MSK, 2026, 2, 9, 10))  # a built engine is not part of the value
    assert used == desk()
    assert "_lazy" not in repr(used)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"week": OFFICE[:6]}, "week must have 7 entries (Monday..Sunday), got 6 entries"),
        ({"week": None}, "week must have 7 entries (Monday..Sunday), got NoneType"),
        ({"week": one_day(0, (780, 540))}, "Monday: range 13:00-09:00 must satisfy 0 <= start < end <= 1440"),
        ({"week": one_day(1, (-5, 60))}, "Tuesday: range -5-01:00 must satisfy"),
        ({"week": one_day(2, (1000, 1500))}, "Wednesday: range 16:40-25:00 must satisfy"),
        ({"week": one_day(3, (60, 60))}, "Thursday: range 01:00-01:00 must satisfy"),
        ({"week": one_day(4, (840, 1080), (540, 780))},
         "Friday: ranges are not sorted (09:00-13:00 comes after 14:00-18:00)"),
        ({"week": one_day(5, (540, 780), (720, 840))},
         "Saturday: ranges 09:00-13:00 and 12:00-14:00 overlap"),
        ({"week": one_day(6, (540, "18:00"))}, "Sunday: (540, '18:00') is not a (start, end) pair"),
        ({"week": one_day(6, 540, 1080)}, "Sunday: 540 is not a (start, end) pair"),
        ({"week": one_day(6, (True, 60))}, "Sunday: (True, 60) is not a (start, end) pair"),
        ({"yearly": frozenset({(2, 30)})}, "yearly: month 2, day 30 is not a date"),
        ({"yearly": frozenset({(13, 1)})}, "yearly: month 13, day 1 is not a date"),
        ({"yearly": frozenset({"01-01"})}, "yearly: '01-01' is not a (month, day) pair"),
        ({"holidays": frozenset({datetime(2026, 1, 1)})},
         "holidays: datetime.datetime(2026, 1, 1, 0, 0) is not a date"),
        ({"holidays": [date(2026, 1, 1)]}, "holidays and yearly must be sets"),
        ({"country": "XX"}, "no public holidays known for 'XX'"),
        ({"country": "DE", "subdivision": "ZZ"}, "no public holidays known for 'DE/ZZ'"),
        ({"subdivision": "BY"}, "subdivision 'BY' given without a country"),
        ({"timezone": "Europe/Moscow"}, "timezone must be a zoneinfo.ZoneInfo, got str"),
        ({"name": " "}, "name must be a non-empty string"),
    ],
)
def test_validate_reports_problems(changes: dict[str, object], message: str) -> None:
    calendar = desk(**changes)  # the constructor accepts anything
    problems = calendar.validate()
    assert any(message in problem for problem in problems), problems
    with pytest.raises(ValueError, match="invalid business calendar"):
        calendar.is_open(at(MSK, 2026, 2, 9, 10))


def test_validate_accepts_good_calendars() -> None:
    assert desk().validate() == []
    assert desk(country="RU", yearly=frozenset({(12, 31)}), holidays=frozenset({date(2026, 6, 1)})).validate() == []
    assert BusinessCalendar("bavaria", BERLIN, OFFICE, country="DE", subdivision="BY").validate() == []
    edges: WeekHours = (((0, 1440),), ((0, 1), (1439, 1440)), (), (), (), (), ())
    assert BusinessCalendar("midnight", BERLIN, edges).validate() == []


def test_validate_lists_every_problem() -> None:
    week = one_day(0, (780, 540), (1000, 1500))
    problems = desk(week=week, country="XX").validate()
    assert len(problems) == 3, problems


# --- properties -------------------------------------------------------------------------------

ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "America/New_York", "Europe/Moscow", "Australia/Lord_Howe",
                                "America/Santiago", "America/Havana", "Asia/Kolkata")]
INPUT_ZONES = [UTC, BERLIN, NEW_YORK, timezone(timedelta(hours=-3, minutes=-30))]
BOUNDARIES = st.one_of(
    st.sampled_from([0, 30, 60, 90, 120, 150, 180, 210, 240, 540, 780, 840, 1080, 1380, 1410, 1440]),
    st.integers(0, 1440),
)
# Sundays and Saturdays with clock changes in the zones above, to land near them often.
CHANGE_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8), date(2026, 11, 1), date(2026, 4, 5),
               date(2026, 4, 4), date(2026, 9, 6), date(2026, 10, 4), date(2027, 3, 28), date(2027, 10, 31)]
SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[Range, ...]:
    points = sorted(draw(st.sets(BOUNDARIES, max_size=6)))
    pieces = list(pairwise(points))
    keep = draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    return tuple(piece for piece, kept in zip(pieces, keep, strict=True) if kept)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    week = tuple(draw(day_ranges()) for _ in range(7))
    assume(any(week))
    country = draw(st.sampled_from([None, None, None, "RU", "US", "DE"]))
    return BusinessCalendar(
        name="random",
        timezone=draw(st.sampled_from(ZONES)),
        week=week,
        holidays=draw(st.frozensets(st.dates(date(2025, 1, 1), date(2029, 12, 31)), max_size=20)),
        yearly=draw(st.frozensets(st.tuples(st.integers(1, 12), st.integers(1, 28)), max_size=3)),
        country=country,
        subdivision="BY" if country == "DE" else None,
    )


moments = st.one_of(
    st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.sampled_from(INPUT_ZONES)),
    st.builds(
        lambda day, shift: datetime.combine(day, time(), UTC) + shift,
        st.sampled_from(CHANGE_DAYS),
        st.timedeltas(timedelta(days=-3), timedelta(days=3)),
    ),
)


def utc(moment: datetime) -> datetime:
    """Aware datetimes sharing a tzinfo subtract and compare as wall clocks; instants need UTC."""
    return moment.astimezone(UTC)


def week_work(calendar: BusinessCalendar) -> int:
    """Microseconds of working time in an ordinary week."""
    return sum(end - start for day in calendar.week for start, end in day) * 60_000_000


@st.composite
def durations(draw: st.DrawFn, calendar: BusinessCalendar) -> timedelta:
    """Up to about 20 weeks of this calendar's working time, to the microsecond."""
    return timedelta(microseconds=draw(st.integers(0, 20 * week_work(calendar))))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime, timedelta, timedelta]:
    calendar = draw(calendars())
    return calendar, draw(moments), draw(durations(calendar)), draw(durations(calendar))


@SETTINGS
@given(scenarios())
def test_add_composes(scenario: tuple[BusinessCalendar, datetime, timedelta, timedelta]) -> None:
    calendar, start, first, second = scenario
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)


@SETTINGS
@given(scenarios())
def test_between_inverts_add(scenario: tuple[BusinessCalendar, datetime, timedelta, timedelta]) -> None:
    calendar, start, duration, _ = scenario
    end = calendar.add(start, duration)
    assert calendar.between(start, end) == duration
    assert end - utc(start) >= duration
    if duration:
        assert calendar.is_open(end - US)  # the deadline never falls inside closed time
        assert calendar.between(start, end - US) == duration - US


@SETTINGS
@given(scenarios())
def test_add_is_monotonic(scenario: tuple[BusinessCalendar, datetime, timedelta, timedelta]) -> None:
    calendar, start, first, second = scenario
    low, high = sorted((first, second))
    assert calendar.add(start, low) <= calendar.add(start, high)


@SETTINGS
@given(calendars(), st.lists(moments, min_size=3, max_size=3))
def test_between_is_additive(calendar: BusinessCalendar, points: list[datetime]) -> None:
    a, b, c = sorted(points, key=utc)
    whole = calendar.between(a, c)
    assert whole == calendar.between(a, b) + calendar.between(b, c)
    assert timedelta(0) <= whole <= utc(c) - utc(a)
    assert calendar.between(c, a) == timedelta(0)


@SETTINGS
@given(calendars(), st.lists(moments, min_size=2, max_size=2))
def test_intervals_sum_to_between(calendar: BusinessCalendar, points: list[datetime]) -> None:
    start, end = sorted(points, key=utc)
    intervals = list(calendar.open_intervals(start, end))
    assert sum((b - a for a, b in intervals), timedelta(0)) == calendar.between(start, end)
    for index, (a, b) in enumerate(intervals):
        assert utc(start) <= a < b <= utc(end)
        assert calendar.is_open(a)
        assert calendar.is_open(b - US)
        if index + 1 < len(intervals):
            assert b < intervals[index + 1][0]  # touching intervals are merged
            assert not calendar.is_open(b)


@SETTINGS
@given(calendars(), moments)
def test_next_open(calendar: BusinessCalendar, moment: datetime) -> None:
    opening = calendar.next_open(moment)
    assert opening is not None
    assert opening >= utc(moment)
    assert calendar.is_open(opening)
    assert calendar.between(moment, opening) == timedelta(0)
    assert (opening == utc(moment)) is calendar.is_open(moment)  # == across zones fails in a DST gap
    assert calendar.add(moment, US) == opening + US


@SETTINGS
@given(st.sampled_from(ZONES), moments, st.timedeltas(timedelta(0), timedelta(days=3000)))
def test_always_open_matches_timedelta(zone: ZoneInfo, start: datetime, duration: timedelta) -> None:
    calendar = BusinessCalendar.always_open(timezone=zone.key)
    assert calendar.add(start, duration) == utc(start) + duration
    assert calendar.between(start, utc(start) + duration) == duration


# --- a slow, obvious model to compare with ------------------------------------------------------


def _exists(zone: ZoneInfo, wall: datetime) -> bool:
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _model_instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """Wall clock to instant: skip forward out of a gap minute by minute; fold=0 for ambiguous times."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    while not _exists(zone, wall):
        wall += timedelta(minutes=1)
    return wall.replace(tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=64)
def _public(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))


def _model_closed(calendar: BusinessCalendar, day: date) -> bool:
    if day in calendar.holidays or (day.month, day.day) in calendar.yearly:
        return True
    return calendar.country is not None and day in _public(calendar.country, calendar.subdivision, day.year)


def _model_intervals(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    zone = calendar.timezone
    pieces: list[tuple[datetime, datetime]] = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        if not _model_closed(calendar, day):
            for low, high in calendar.week[day.weekday()]:
                a, b = max(_model_instant(zone, day, low), start), min(_model_instant(zone, day, high), end)
                if a < b:
                    pieces.append((a, b))
        day += timedelta(days=1)
    return _merge(pieces)


def _merge(pieces: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in pieces:
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


@SETTINGS
@given(calendars(), moments, st.timedeltas(timedelta(0), timedelta(days=12)))
def test_matches_the_day_by_day_model(calendar: BusinessCalendar, start: datetime, span: timedelta) -> None:
    start = utc(start)
    end = start + span
    expected = _model_intervals(calendar, start, end)
    assert list(calendar.open_intervals(start, end)) == expected
    assert calendar.between(start, end) == sum((b - a for a, b in expected), timedelta(0))
    probes = [start, end, *(a for a, _ in expected), *(b for _, b in expected), *(b - US for _, b in expected)]
    for probe in probes:
        assert calendar.is_open(probe) is any(a <= probe < b for a, b in expected) or probe >= end, probe
