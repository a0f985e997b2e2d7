"""Business-time calendars: working hours, holidays and time zones, for SLA deadlines.

A calendar is a week of local working hours in one time zone, minus closed days. It answers
"is the desk open now?", "when does it open?", "when have N working hours elapsed?" and
"how much working time lies between two instants?".

Semantics:
- Every datetime in and out is timezone-aware (naive ones raise ``ValueError``); results are UTC.
- Working hours are local wall-clock minutes. Each local day's ranges become real instants:
  a wall time that does not exist (spring-forward gap) maps to the first instant after the gap,
  an ambiguous one (autumn fold) to its first occurrence, minute 1440 to the next local midnight.
  Working time is real elapsed time, so a 01:00-04:00 range on a spring-forward night is 2 hours.
- A range ending at 24:00 and the next day's range starting at 00:00 form one interval.
- A holiday (exact date, yearly month/day, or a public holiday of ``country``) closes the whole
  local day. A yearly (2, 29) closes February 29 of leap years and nothing in other years.
- ``add(start, 0)`` is ``start`` itself, even in closed time: a zero deadline means "now".
  For a positive duration the result lies inside a working interval or exactly at its end.
- Instants are handled as integer microseconds, so all arithmetic is exact.
- Supported local dates: years 3 to 9996 (the zone tables keep a year of margin on each side).

Speed: instead of walking minute by minute, the calendar walks whole local weeks. A week with no
UTC offset change is the weekly template shifted in time, minus its closed days, so a year is
about 52 steps of integer arithmetic. UTC offset changes are found once per zone and year by
sampling the offset every 48 hours and bisecting to the second; a zone changing its offset and
back within 48 hours would be missed (the tz database has no such pair between 1900 and 2100:
the closest two changes are about 96 hours apart).
"""

from bisect import bisect_left, bisect_right
from calendar import isleap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import chain
from zoneinfo import ZoneInfo

Range = tuple[int, int]  # minutes from local midnight, start < end, 0 <= start, end <= 1440
WeekHours = tuple[tuple[Range, ...], ...]  # exactly 7 entries, Monday..Sunday; each sorted, non-overlapping

_Span = tuple[int, int]  # microseconds, half-open
# A stretch of local days: (start, end, base, spans relative to base, working microseconds).
_Block = tuple[int, int, int, tuple[_Span, ...], int]

_US = timedelta(microseconds=1)
_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_DAY = 1440 * _MINUTE
_WEEK = 7 * _DAY
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SAMPLE_SECONDS = 2 * 86_400
_FIRST_YEAR, _LAST_YEAR = 3, 9996
_MIN_ORDINAL = date(_FIRST_YEAR, 1, 1).toordinal()
_MAX_ORDINAL = date(_LAST_YEAR + 1, 1, 1).toordinal()
_LATEST = (_MAX_ORDINAL - _EPOCH_ORDINAL - 1) * _DAY  # a day of margin for the time zone offset
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class _Lazy:
    """Mutable holder inside the frozen calendar: the engine is built once, on first use."""

    __slots__ = ("engine",)

    def __init__(self) -> None:
        self.engine: _Engine | None = None


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Local working hours of a desk, closed on holidays. Check ``validate()`` before use."""

    name: str
    timezone: ZoneInfo
    week: WeekHours
    holidays: frozenset[date] = frozenset()  # exact local dates closed all day
    yearly: frozenset[tuple[int, int]] = frozenset()  # (month, day) closed every year
    country: str | None = None  # public holidays from the `holidays` package, e.g. "RU", "DE", "US"
    subdivision: str | None = None  # e.g. "BY" (Bavaria) with country "DE"
    # Built on first use, not in __init__: the constructor must accept invalid input silently.
    _lazy: _Lazy = field(default_factory=_Lazy, init=False, repr=False, compare=False)

    @classmethod
    def always_open(cls, name: str = "24x7", timezone: str = "UTC") -> "BusinessCalendar":
        """Open around the clock, no holidays. Raises ``ZoneInfoNotFoundError`` for an unknown zone."""
        return cls(name=name, timezone=ZoneInfo(timezone), week=(((0, 1440),),) * 7)

    def validate(self) -> list[str]:
        """Human-readable problems with this calendar; empty when it is usable."""
        problems: list[str] = []
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append("name must be a non-empty string")
        if not isinstance(self.timezone, ZoneInfo):
            problems.append(f"timezone must be a zoneinfo.ZoneInfo, got {type(self.timezone).__name__}")
        problems += _week_problems(self.week)
        problems += _closed_day_problems(self.holidays, self.yearly)
        problems += _country_problems(self.country, self.subdivision)
        return problems

    def is_open(self, at: datetime) -> bool:
        return self._engine().is_open(_to_us(at, "at"))

    def next_open(self, at: datetime) -> datetime | None:
        """``at`` itself (in UTC) if open, else the next opening; None if there are no working hours."""
        moment, engine = _to_us(at, "at"), self._engine()
        if not engine.shape.week_work:
            return None
        return _from_us(engine.next_open(moment))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has elapsed after ``start``."""
        moment = _to_us(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        engine = self._engine()
        if not duration:
            return _from_us(moment)
        if not engine.shape.week_work:
            raise ValueError(f"calendar {self.name!r} has no working hours, so no deadline can be reached")
        left = duration // _US
        if moment + left >= _LATEST:  # the result is never earlier: fail now, not after a long walk
            raise OverflowError(f"{start} + {duration} is beyond the supported years")
        return _from_us(engine.add(moment, left))

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in [start, end); zero when ``end <= start``."""
        low, high = _to_us(start, "start"), _to_us(end, "end")
        engine = self._engine()
        if high <= low or not engine.shape.week_work:
            return timedelta(0)
        return timedelta(microseconds=engine.between(low, high))

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals clipped to [start, end), in order; touching intervals come out merged."""
        low, high = _to_us(start, "start"), _to_us(end, "end")
        engine = self._engine()  # validated here, not on first next(), so errors surface at the call
        if high <= low or not engine.shape.week_work:
            return iter(())
        return ((_from_us(a), _from_us(b)) for a, b in engine.intervals(low, high))

    def _engine(self) -> "_Engine":
        engine = self._lazy.engine
        if engine is None:
            problems = self.validate()
            if problems:
                raise ValueError(f"invalid business calendar {self.name!r}: " + "; ".join(problems))
            engine = self._lazy.engine = _Engine(self)
        return engine


# --- validation ------------------------------------------------------------------------------


def _hhmm(minutes: object) -> str:
    if isinstance(minutes, int) and minutes >= 0:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return repr(minutes)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _week_problems(week: object) -> list[str]:
    if not isinstance(week, tuple | list) or len(week) != 7:
        got = f"{len(week)} entries" if isinstance(week, tuple | list) else type(week).__name__
        return [f"week must have 7 entries (Monday..Sunday), got {got}"]
    problems: list[str] = []
    for day_name, ranges in zip(_DAY_NAMES, week, strict=True):
        if not isinstance(ranges, tuple | list):
            problems.append(f"{day_name}: expected a sequence of (start, end) ranges, got {type(ranges).__name__}")
            continue
        problems += _day_problems(day_name, ranges)
    return problems


def _day_problems(day_name: str, ranges: Iterable[object]) -> list[str]:
    problems: list[str] = []
    previous: tuple[int, int] | None = None
    for item in ranges:
        if not (isinstance(item, tuple | list) and len(item) == 2 and all(_is_int(v) for v in item)):
            problems.append(f"{day_name}: {item!r} is not a (start, end) pair of integer minutes")
            continue
        start, end = item
        shown = f"{_hhmm(start)}-{_hhmm(end)}"
        if not 0 <= start < end <= 1440:
            problems.append(f"{day_name}: range {shown} must satisfy 0 <= start < end <= 1440 (minutes)")
            continue
        if previous is not None:
            earlier = f"{_hhmm(previous[0])}-{_hhmm(previous[1])}"
            if start < previous[0]:
                problems.append(f"{day_name}: ranges are not sorted ({shown} comes after {earlier})")
            elif start < previous[1]:
                problems.append(f"{day_name}: ranges {earlier} and {shown} overlap")
        previous = (start, end)
    return problems


def _closed_day_problems(holidays: object, yearly: object) -> list[str]:
    if not isinstance(holidays, frozenset | set) or not isinstance(yearly, frozenset | set):
        return ["holidays and yearly must be sets (frozenset) of dates and of (month, day) pairs"]
    problems: list[str] = []
    for day in holidays:
        if isinstance(day, datetime) or not isinstance(day, date):
            problems.append(f"holidays: {day!r} is not a date")
    for item in yearly:
        if not (isinstance(item, tuple) and len(item) == 2 and all(_is_int(v) for v in item)):
            problems.append(f"yearly: {item!r} is not a (month, day) pair")
            continue
        try:
            date(2000, *item)  # a leap year, so (2, 29) is accepted
        except ValueError:
            problems.append(f"yearly: month {item[0]}, day {item[1]} is not a date")
    return problems


def _country_problems(country: object, subdivision: object) -> list[str]:
    if country is None:
        return [] if subdivision is None else [f"subdivision {subdivision!r} given without a country"]
    if not isinstance(country, str) or not (subdivision is None or isinstance(subdivision, str)):
        return [f"country and subdivision must be strings, got {country!r} and {subdivision!r}"]
    problem = _country_problem(country, subdivision)
    return [] if problem is None else [problem]


@lru_cache(maxsize=256)
def _country_problem(country: str, subdivision: str | None) -> str | None:
    """Why the holidays package cannot serve this place, or None; cached: building its object costs ~1 ms."""
    import holidays as holidays_lib  # deferred: a large package, needed only by calendars with a country

    try:
        holidays_lib.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        place = country if subdivision is None else f"{country}/{subdivision}"
        return f"no public holidays known for {place!r}: {exc}"
    return None


# --- conversions -----------------------------------------------------------------------------


def _to_us(moment: datetime, what: str) -> int:
    """Microseconds since the Unix epoch; exact, unlike ``timestamp()``."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware, got naive datetime {moment.isoformat()}")
    days = moment.toordinal() - _EPOCH_ORDINAL
    wall = ((days * 24 + moment.hour) * 60 + moment.minute) * _MINUTE + moment.second * _SECOND
    return wall + moment.microsecond - offset // _US


def _from_us(moment: int) -> datetime:
    return _EPOCH + timedelta(microseconds=moment)


def _offset_at(zone: tzinfo, seconds: int) -> int:
    offset = datetime.fromtimestamp(seconds, zone).utcoffset()
    if offset is None:
        raise ValueError(f"time zone {zone} has no UTC offset")
    return offset // _US


def _year_start(year: int) -> int:
    """Seconds since the epoch at 00:00 UTC on 1 January."""
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86_400


@lru_cache(maxsize=4096)
def _zone_year(zone: tzinfo, year: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """The UTC offset at the start of ``year`` (UTC) and its changes in the year, as (instant, new offset).

    Everything in microseconds. zoneinfo exposes no transition list, so it is found by sampling.
    """
    low, high = _year_start(year), _year_start(year + 1)
    current = first = _offset_at(zone, low)
    changes: list[tuple[int, int]] = []
    while low < high:
        step_end = min(low + _SAMPLE_SECONDS, high)
        while _offset_at(zone, step_end) != current:
            low = _first_change(zone, low, step_end, current)
            current = _offset_at(zone, low)
            changes.append((low * _SECOND, current))
        low = step_end
    return first, tuple(changes)


def _first_change(zone: tzinfo, low: int, high: int, offset: int) -> int:
    """The first second in (low, high] whose offset differs from ``offset``, given one change there."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, middle) == offset:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=1024)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays as holidays_lib  # deferred, see _country_problem

    found = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(day for day in found if day.year == year)


# --- the engine ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """The weekly template in microseconds from local midnight (days) or Monday 00:00 (week)."""

    day_spans: tuple[tuple[_Span, ...], ...]  # per weekday, touching ranges merged
    day_work: tuple[int, ...]
    week_day_spans: tuple[tuple[_Span, ...], ...]  # day_spans shifted by the weekday
    week_spans: tuple[_Span, ...]
    week_work: int

    @classmethod
    def build(cls, week: WeekHours) -> "_Shape":
        day_spans = tuple(tuple((a * _MINUTE, b * _MINUTE) for a, b in _merge_touching(day)) for day in week)
        day_work = tuple(sum(b - a for a, b in day) for day in day_spans)
        week_day_spans = tuple(
            tuple((a + i * _DAY, b + i * _DAY) for a, b in day) for i, day in enumerate(day_spans)
        )
        week_spans = tuple(chain.from_iterable(week_day_spans))
        return cls(day_spans, day_work, week_day_spans, week_spans, sum(day_work))


def _merge_touching(ranges: Iterable[Range]) -> tuple[Range, ...]:
    merged: list[Range] = []
    for start, end in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class _Window:
    """Zone offsets and closed days loaded for the local years first..last."""

    first: int
    last: int
    lowest: int  # first ordinal covered
    highest: int  # first ordinal not covered
    changes: tuple[int, ...]  # instants of UTC offset changes
    offsets: tuple[int, ...]  # offsets[i] holds before changes[i]; offsets[-1] after the last change
    wall_ends: tuple[int, ...]  # changes[i] + offsets[i]: local wall time at which segment i ends
    closed: tuple[int, ...]  # sorted ordinals of closed days


class _Engine:
    """Walks the timeline of one validated calendar; instants are microseconds since the epoch."""

    __slots__ = ("_closed_years", "_country", "_exact", "_subdivision", "_window", "_yearly", "_zone", "shape")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._zone = calendar.timezone
        self.shape = _Shape.build(calendar.week)
        self._exact: dict[int, set[int]] = {}
        for day in calendar.holidays:
            self._exact.setdefault(day.year, set()).add(day.toordinal())
        self._yearly = tuple(sorted(calendar.yearly))
        self._country, self._subdivision = calendar.country, calendar.subdivision
        self._closed_years: dict[int, frozenset[int]] = {}
        self._window: _Window | None = None

    # -- loading

    def window(self, lowest: int, highest: int) -> _Window:
        """The loaded window, grown if needed so that it covers the ordinals [lowest, highest)."""
        window = self._window
        if window is not None and window.lowest <= lowest and highest <= window.highest:
            return window
        if lowest < _MIN_ORDINAL or highest > _MAX_ORDINAL:
            raise OverflowError(f"business time is supported for years {_FIRST_YEAR} to {_LAST_YEAR} only")
        first, last = date.fromordinal(lowest).year, date.fromordinal(highest - 1).year
        if window is not None:
            # Grow ahead by half the loaded span so that a long walk does not reload every year.
            ahead = window.last + (window.last - window.first) // 2 + 1 if last > window.last else last
            first, last = min(first, window.first), min(max(last, window.last, ahead), _LAST_YEAR)
        window = self._window = self._load(first, last)
        return window

    def _load(self, first: int, last: int) -> _Window:
        start_offset, _ = _zone_year(self._zone, first - 1)
        changes: list[int] = []
        offsets = [start_offset]
        for year in range(first - 1, last + 2):
            for instant, offset in _zone_year(self._zone, year)[1]:
                changes.append(instant)
                offsets.append(offset)
        wall_ends = tuple(instant + offset for instant, offset in zip(changes, offsets, strict=False))
        closed = sorted(chain.from_iterable(self._closed_year(year) for year in range(first, last + 1)))
        lowest, highest = date(first, 1, 1).toordinal(), date(last + 1, 1, 1).toordinal()
        return _Window(first, last, lowest, highest, tuple(changes), tuple(offsets), wall_ends, tuple(closed))

    def _closed_year(self, year: int) -> frozenset[int]:
        closed = self._closed_years.get(year)
        if closed is None:
            days = set(self._exact.get(year, ()))
            days.update(
                date(year, month, day).toordinal()
                for month, day in self._yearly
                if (month, day) != (2, 29) or isleap(year)
            )
            if self._country is not None:
                days.update(day.toordinal() for day in _public_holidays(self._country, self._subdivision, year))
            closed = self._closed_years[year] = frozenset(days)
        return closed

    # -- the timeline

    def local_ordinal(self, moment: int) -> int:
        """The local date (as an ordinal) of an instant."""
        ordinal = moment // _DAY + _EPOCH_ORDINAL
        window = self.window(ordinal - 1, ordinal + 2)
        offset = window.offsets[bisect_right(window.changes, moment)]
        return (moment + offset) // _DAY + _EPOCH_ORDINAL

    def blocks(self, ordinal: int) -> Iterator[_Block]:
        """Consecutive blocks from local day ``ordinal`` on, forever: whole weeks where possible."""
        while True:
            window = self.window(ordinal, ordinal + 7)
            if (ordinal - 1) % 7 == 0:  # a Monday: ordinal 1 is Monday, 1 January of year 1
                start = _steady_start(window, ordinal, 7)
                if start is not None:
                    yield self._week_block(window, ordinal, start)
                    ordinal += 7
                    continue
            yield self._day_block(window, ordinal)
            ordinal += 1

    def _week_block(self, window: _Window, monday: int, start: int) -> _Block:
        shape = self.shape
        low = bisect_left(window.closed, monday)
        high = bisect_left(window.closed, monday + 7, low)
        if low == high:
            return start, start + _WEEK, start, shape.week_spans, shape.week_work
        shut = {day - monday for day in window.closed[low:high]}
        spans = tuple(chain.from_iterable(shape.week_day_spans[d] for d in range(7) if d not in shut))
        work = shape.week_work - sum(shape.day_work[d] for d in shut)
        return start, start + _WEEK, start, spans, work

    def _day_block(self, window: _Window, ordinal: int) -> _Block:
        weekday, wall = (ordinal - 1) % 7, (ordinal - _EPOCH_ORDINAL) * _DAY
        closed = _contains(window.closed, ordinal)
        start = _steady_start(window, ordinal, 1)
        if start is not None:
            if closed:
                return start, start + _DAY, start, (), 0
            return start, start + _DAY, start, self.shape.day_spans[weekday], self.shape.day_work[weekday]
        # The UTC offset changes today: convert each boundary on its own.
        start, end = _wall_to_utc(window, wall), _wall_to_utc(window, wall + _DAY)
        if closed:
            return start, end, start, (), 0
        spans: list[_Span] = []
        for a, b in self.shape.day_spans[weekday]:
            low, high = _wall_to_utc(window, wall + a), _wall_to_utc(window, wall + b)
            if high > low:  # a range inside the spring-forward gap vanishes
                spans.append((low - start, high - start))
        return start, end, start, tuple(spans), sum(b - a for a, b in spans)

    # -- queries; the callers have ruled out a calendar without working hours where it matters

    def is_open(self, moment: int) -> bool:
        for _, end, base, spans, _ in self.blocks(self.local_ordinal(moment)):
            if end > moment:
                return any(base + a <= moment < base + b for a, b in spans)
        raise AssertionError("blocks() never ends")

    def next_open(self, moment: int) -> int:
        for _, end, base, spans, work in self.blocks(self.local_ordinal(moment)):
            if end <= moment or not work:
                continue
            for a, b in spans:
                if base + b > moment:
                    return max(base + a, moment)
        raise AssertionError("blocks() never ends")

    def add(self, moment: int, left: int) -> int:
        for start, end, base, spans, work in self.blocks(self.local_ordinal(moment)):
            if end <= moment:
                continue
            if start >= moment and left > work:
                left -= work  # the whole block elapses; ">" so that an exact fit ends inside it
                continue
            for a, b in spans:
                low, high = max(base + a, moment), base + b
                if high > low:
                    if left <= high - low:
                        return low + left
                    left -= high - low
        raise AssertionError("blocks() never ends")

    def between(self, low: int, high: int) -> int:
        total = 0
        for start, end, base, spans, work in self.blocks(self.local_ordinal(low)):
            if start >= high:
                return total
            if end <= low or not work:
                continue
            if low <= start and end <= high:
                total += work
                continue
            for a, b in spans:
                total += max(0, min(base + b, high) - max(base + a, low))
        raise AssertionError("blocks() never ends")

    def intervals(self, low: int, high: int) -> Iterator[_Span]:
        pending: _Span | None = None
        for start, _, base, spans, _ in self.blocks(self.local_ordinal(low)):
            if start >= high:
                break
            for a, b in spans:
                clip_low, clip_high = max(base + a, low), min(base + b, high)
                if clip_high <= clip_low:
                    continue
                if pending is not None and pending[1] == clip_low:
                    pending = (pending[0], clip_high)  # 24:00 of one day touching 00:00 of the next
                    continue
                if pending is not None:
                    yield pending
                pending = (clip_low, clip_high)
        if pending is not None:
            yield pending


def _wall_to_utc(window: _Window, wall: int) -> int:
    """The first instant whose local wall time is at least ``wall`` (naive microseconds).

    That is the instant itself for an ordinary time, the first occurrence of an ambiguous one
    and the end of the gap for a time skipped by a spring-forward change.
    """
    segment = bisect_right(window.wall_ends, wall)  # the first segment whose wall clock passes ``wall``
    moment = wall - window.offsets[segment]
    if segment and moment < window.changes[segment - 1]:
        return window.changes[segment - 1]
    return moment


def _steady_start(window: _Window, ordinal: int, days: int) -> int | None:
    """The start of local day ``ordinal`` if the UTC offset holds still for ``days`` days from its midnight."""
    wall = (ordinal - _EPOCH_ORDINAL) * _DAY
    start = _wall_to_utc(window, wall)
    segment = bisect_right(window.changes, start)
    if start + window.offsets[segment] != wall:  # midnight itself fell into a gap
        return None
    if segment < len(window.changes) and window.changes[segment] <= start + days * _DAY:
        return None
    return start


def _contains(ordered: tuple[int, ...], value: int) -> bool:
    index = bisect_left(ordered, value)
    return index < len(ordered) and ordered[index] == value
