"""Small pieces of outbound mail: refused addresses, dates for people, working days, retry delays."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailhelpdesk.outbound.guard import refused_address
from mailhelpdesk.outbound.locale import (
    deadline_label,
    describe_hours,
    format_date,
    format_datetime,
    format_duration,
)
from mailhelpdesk.outbound.sender import retry_delay
from mailhelpdesk.sla.calendar import BusinessCalendar
from mailhelpdesk.sla.days import after_business_days

OURS = frozenset({"support@example.com", "billing@example.com"})
MOSCOW = ZoneInfo("Europe/Moscow")
NINE_TO_SIX = ((9 * 60, 18 * 60),)
LUNCH_BREAK = ((9 * 60, 13 * 60), (14 * 60, 18 * 60))


def weekdays(ranges: tuple[tuple[int, int], ...], zone: str = "Europe/Moscow",
             holidays: frozenset[date] = frozenset()) -> BusinessCalendar:
    calendar = BusinessCalendar("office", ZoneInfo(zone), (ranges,) * 5 + ((),) * 2, holidays=holidays)
    assert calendar.validate() == []
    return calendar


# --- addresses no automatic mail may go to ---------------------------------------------------


@pytest.mark.parametrize("address", [
    "noreply@shop.example", "no-reply@shop.example", "No_Reply@shop.example", "do-not-reply@shop.example",
    "mailer-daemon@mx.example", "MAILER-DAEMON@mx.example", "postmaster@mx.example", "bounces+x@lists.example",
    "bounce@lists.example", "noreply+tracking@shop.example", "autoresponder@shop.example",
])
def test_machine_addresses_are_refused(address: str) -> None:
    assert refused_address(address, OURS) == f"{address} is a machine address that reads no mail"


@pytest.mark.parametrize("address", [
    "support@example.com", "SUPPORT@Example.COM", "support+1042.abcdefgh@example.com", "billing+x@example.com"])
def test_our_own_addresses_are_refused(address: str) -> None:
    assert refused_address(address, OURS) == f"{address} is one of our own addresses"


@pytest.mark.parametrize("address", [
    "anna@customer.example\r\nBcc: victim@example.org",  # header injection
    "anna@customer.example\n",
    "anna@customer.example\r",
    "ánna@customer.example",  # non-ASCII local part
    "anna@пример.рф",  # non-ASCII domain
    "anna petrova@customer.example",
    "Anna <anna@customer.example>",
    "anna@localhost",  # no domain to route to
    "anna",
    "",
    "a@b@customer.example",
    "=?utf-8?q?anna?=@customer.example",
])
def test_addresses_we_cannot_send_to_are_refused(address: str) -> None:
    assert refused_address(address, OURS) == f"not an address we can send to: {address!r}"


@pytest.mark.parametrize("address", [
    "anna@customer.example", "Anna.Petrova@Customer.Example", "anna+tickets@customer.example",
    "noreplyfan@customer.example",  # only the machine names themselves, not words that start with them
    "support@customer.example",  # someone else's support desk is a person to us
    "supporter@example.com",  # not ours: only the exact address and its plus forms are
])
def test_ordinary_addresses_are_accepted(address: str) -> None:
    assert refused_address(address, OURS) == ""


# --- dates and hours -------------------------------------------------------------------------

MORNING = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)  # a Monday; 13:15 in Moscow
LATE = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # already Tuesday 01:30 in Moscow


@pytest.mark.parametrize(("moment", "zone", "language", "expected"), [
    (MORNING, UTC, "en", "23 November 2026, 10:15"),
    (MORNING, UTC, "ru", "23 ноября 2026, 10:15"),
    (MORNING, MOSCOW, "en", "23 November 2026, 13:15"),
    (LATE, MOSCOW, "en", "24 November 2026, 01:30"),
    (LATE, MOSCOW, "ru", "24 ноября 2026, 01:30"),
    (datetime(2026, 1, 5, 9, 0, tzinfo=UTC), UTC, "ru", "5 января 2026, 09:00"),
    (datetime(2026, 5, 1, 0, 0, tzinfo=UTC), UTC, "en", "1 May 2026, 00:00"),
    (LATE, MOSCOW, "de", "2026-11-24, 01:30"),  # no written-out months: ISO-like numbers
    (MORNING, UTC, "", "2026-11-23, 10:15"),
])
def test_format_datetime(moment: datetime, zone: ZoneInfo, language: str, expected: str) -> None:
    assert format_datetime(moment, zone, language) == expected
    assert format_date(moment, zone, language) == expected.rpartition(", ")[0]


def test_format_date_uses_the_local_day() -> None:
    assert format_date(LATE, UTC, "en") == "23 November 2026"
    assert format_date(LATE, MOSCOW, "en") == "24 November 2026"
    assert format_date(LATE, ZoneInfo("America/New_York"), "ru") == "23 ноября 2026"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Mon–Fri 09:00–13:00, 14:00–18:00"),
    ("ru", "Пн–Пт 09:00–13:00, 14:00–18:00"),
    ("de", "Mon–Fri 09:00–13:00, 14:00–18:00"),  # other languages: English day names
])
def test_describe_hours_of_a_working_week_with_a_lunch_break(language: str, expected: str) -> None:
    assert describe_hours(weekdays(LUNCH_BREAK), language) == expected


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "around the clock"), ("ru", "круглосуточно"), ("de", "around the clock")])
def test_describe_hours_around_the_clock(language: str, expected: str) -> None:
    assert describe_hours(BusinessCalendar.always_open(), language) == expected


def test_describe_hours_groups_only_neighbouring_days_with_the_same_hours() -> None:
    week = (NINE_TO_SIX, (), NINE_TO_SIX, NINE_TO_SIX, ((9 * 60, 16 * 60),), ((10 * 60, 14 * 60),), ())
    calendar = BusinessCalendar("odd", MOSCOW, week)
    assert calendar.validate() == []
    assert describe_hours(calendar, "en") == \
        "Mon 09:00–18:00; Wed–Thu 09:00–18:00; Fri 09:00–16:00; Sat 10:00–14:00"
    assert describe_hours(calendar, "ru") == "Пн 09:00–18:00; Ср–Чт 09:00–18:00; Пт 09:00–16:00; Сб 10:00–14:00"


def test_describe_hours_of_a_day_until_midnight() -> None:
    calendar = BusinessCalendar("late", MOSCOW, (((18 * 60, 1440),),) * 7)
    assert describe_hours(calendar, "en") == "Mon–Sun 18:00–24:00"



# --- durations and deadlines -----------------------------------------------------------------


@pytest.mark.parametrize(("span", "english", "russian"), [
    (timedelta(0), "0m", "0 мин"),
    (timedelta(seconds=59), "0m", "0 мин"),  # whole minutes, cut: never more time left than there is
    (timedelta(minutes=59, seconds=59), "59m", "59 мин"),
    (timedelta(hours=1), "1h", "1 ч"),
    (timedelta(hours=2, minutes=10), "2h 10m", "2 ч 10 мин"),
    (timedelta(hours=23, minutes=59), "23h 59m", "23 ч 59 мин"),
    (timedelta(days=1), "1d", "1 д"),
    (timedelta(days=3, hours=4, minutes=25), "3d 4h", "3 д 4 ч"),  # two units are enough
    (timedelta(days=3, minutes=25), "3d", "3 д"),
    (timedelta(days=40, hours=1), "40d 1h", "40 д 1 ч"),
    (-timedelta(minutes=25), "25m", "25 мин"),  # overdue: how late, without a sign
    (-timedelta(days=3, hours=4, seconds=1), "3d 4h", "3 д 4 ч"),
])
def test_format_duration(span: timedelta, english: str, russian: str) -> None:
    assert format_duration(span, "en") == english
    assert format_duration(span, "ru") == russian
    assert format_duration(span, "de") == english  # other languages: English units


@pytest.mark.parametrize(("target", "english", "russian"), [
    ("first_response", "first response", "первый ответ"),
    ("next_response", "next response", "следующий ответ"),
    ("update_every", "customer update", "обновление для клиента"),
    ("resolution", "resolution", "решение"),
    ("something_new", "something_new", "something_new"),
])
def test_deadline_label(target: str, english: str, russian: str) -> None:
    assert deadline_label(target, "en") == english
    assert deadline_label(target, "ru") == russian
    assert deadline_label(target, "de") == english


# --- whole working days ----------------------------------------------------------------------


def moscow(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MOSCOW)


def test_friday_plus_three_working_days_is_wednesdays_close_of_business() -> None:
    friday = moscow(20, 15)
    assert friday.weekday() == 4
    result = after_business_days(weekdays(LUNCH_BREAK), friday, 3)
    assert result == moscow(25, 18)  # Wednesday 18:00, not the 13:00 lunch break
    assert result is not None and result.weekday() == 2 and result.tzinfo is not None


@pytest.mark.parametrize(("days", "expected"), [(1, moscow(23, 18)), (2, moscow(24, 18)), (5, moscow(27, 18)),
                                                (6, moscow(30, 18))])
def test_working_days_are_counted_from_the_next_day(days: int, expected: datetime) -> None:
    assert after_business_days(weekdays(NINE_TO_SIX), moscow(20, 8), days) == expected  # before Friday opens


def test_a_holiday_is_not_a_working_day() -> None:
    calendar = weekdays(NINE_TO_SIX, holidays=frozenset({date(2026, 11, 24)}))  # Tuesday
    assert after_business_days(calendar, moscow(20, 15), 3) == moscow(26, 18)  # Thursday


def test_the_day_of_the_start_is_the_calendars_local_day() -> None:
    # Thursday 22:30 UTC is already Friday 01:30 in Moscow: one working day later is Monday, not Friday
    start = datetime(2026, 11, 19, 22, 30, tzinfo=UTC)
    assert after_business_days(weekdays(NINE_TO_SIX), start, 1) == moscow(23, 18)


def test_the_close_of_business_is_local_across_a_clock_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # summer time ends on Sunday 2026-10-25
    friday = datetime(2026, 10, 23, 12, 0, tzinfo=berlin)
    result = after_business_days(weekdays(NINE_TO_SIX, "Europe/Berlin"), friday, 3)
    assert result == datetime(2026, 10, 28, 18, 0, tzinfo=berlin)
    assert result == datetime(2026, 10, 28, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("days", [0, -1])
def test_zero_days_means_never(days: int) -> None:
    assert after_business_days(weekdays(NINE_TO_SIX), moscow(20, 15), days) is None


def test_a_calendar_without_working_days_never_closes() -> None:
    closed = BusinessCalendar("closed", MOSCOW, ((),) * 7)
    assert after_business_days(closed, moscow(20, 15), 1) is None


def test_around_the_clock_a_working_day_ends_at_midnight() -> None:
    calendar = BusinessCalendar.always_open(timezone="Europe/Moscow")
    assert after_business_days(calendar, moscow(21, 15), 2) == moscow(24, 0)  # Sunday, Monday → Tuesday 00:00


# --- retrying -------------------------------------------------------------------------------


@pytest.mark.parametrize(("attempts", "minutes"), [
    (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (8, 60), (10, 60), (1000, 60), (0, 1)])
def test_retry_delay_doubles_up_to_an_hour(attempts: int, minutes: int) -> None:
    assert retry_delay(attempts) == timedelta(minutes=minutes)


def test_retry_delays_never_shrink() -> None:
    delays = [retry_delay(n) for n in range(0, 50)]
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=1)
