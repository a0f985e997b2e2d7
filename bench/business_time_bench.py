"""Business-time benchmark: is a year of SLA arithmetic under a millisecond?

    .venv/bin/python bench/business_time_bench.py [--runs 300]

Two calendars: an office (Mon-Fri 09:00-13:00 and 14:00-18:00, Europe/Moscow, Russian public
holidays) and 24x7 (UTC). For each it times ``add`` of 4 working hours, ``add`` of 2000 working
hours (about a year of the office) and ``between`` over one calendar year, each call from a
different start instant spread over 2026, and prints the minimum and the median per call.

- "warm": the same calendar object every call, as a long-lived calendar is used;
- "new object": a fresh, equal calendar object every call (its engine is rebuilt; the per-process
  caches of zone offsets and public holidays are already filled), as when calendars are built
  from configuration on every request;
- "first call": the very first use of each calendar in the process, which also imports the
  holidays package and loads zone offsets and holidays; shown once, for information.

The target is < 1 ms for the two year-long operations, judged on the warm minimum (the machine
may be shared and noisy). A benchmark, not a test: it asserts nothing, and its figures depend on
the machine.
"""

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from mailhelpdesk.sla.calendar import BusinessCalendar

Operation = Callable[[BusinessCalendar, datetime], object]
TARGET_NS = 1_000_000
YEAR_LONG = ("add 2000 h", "between 1 year")


@dataclass(frozen=True, slots=True)
class Figures:
    minimum: float  # nanoseconds
    median: float


def office() -> BusinessCalendar:
    day = ((9 * 60, 13 * 60), (14 * 60, 18 * 60))
    return BusinessCalendar("office", ZoneInfo("Europe/Moscow"), (day,) * 5 + ((), ()), country="RU")


def starts(count: int) -> list[datetime]:
    """Instants spread over 2026 at odd times of day, so that calls do not all hit the same case."""
    first = datetime(2026, 1, 1, tzinfo=UTC)
    return [first + timedelta(days=(i * 7919) % 365, minutes=(i * 137) % 1440) for i in range(count)]


def operations() -> dict[str, Operation]:
    four, year_of_work, year = timedelta(hours=4), timedelta(hours=2000), timedelta(days=365)
    return {
        "add 4 h": lambda calendar, start: calendar.add(start, four),
        "add 2000 h": lambda calendar, start: calendar.add(start, year_of_work),
        "between 1 year": lambda calendar, start: calendar.between(start, start + year),
    }


def measure(call: Callable[[datetime], object], moments: list[datetime]) -> Figures:
    samples: list[int] = []
    gc.disable()  # a collection inside one call would dominate it
    try:
        for moment in moments:
            began = time.perf_counter_ns()
            call(moment)
            samples.append(time.perf_counter_ns() - began)
    finally:
        gc.enable()
    return Figures(min(samples), statistics.median(samples))


def first_call(calendar: BusinessCalendar) -> float:
    """The first use of a calendar in this process, in nanoseconds."""
    began = time.perf_counter_ns()
    calendar.add(datetime(2026, 3, 2, 10, tzinfo=UTC), timedelta(hours=4))
    return time.perf_counter_ns() - began


def on_new_objects(operation: Operation, calendar: BusinessCalendar) -> Callable[[datetime], object]:
    return lambda moment: operation(replace(calendar), moment)


def ms(nanoseconds: float) -> str:
    return f"{nanoseconds / 1e6:10.3f} ms"


def report(title: str, calendar: BusinessCalendar, runs: int) -> bool:
    """Print one calendar's table; return whether its year-long operations meet the target."""
    moments = starts(runs)
    print(f"\n{title}")
    print(f"  first call (cold: imports, zone offsets, holidays): {ms(first_call(calendar)).strip()}")
    print(f"  {'operation':<16}{'warm min':>13}{'warm median':>13}{'new min':>13}{'new median':>13}")
    met = True
    for label, operation in operations().items():
        warm = measure(partial(operation, calendar), moments)
        fresh = measure(on_new_objects(operation, calendar), moments)
        print(f"  {label:<16}{ms(warm.minimum)}{ms(warm.median)}{ms(fresh.minimum)}{ms(fresh.median)}")
        if label in YEAR_LONG:
            met = met and warm.minimum < TARGET_NS
    return met


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="calls per operation and variant (default 300)")
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {cpu_name()}")
    print(f"{args.runs} calls per figure; times per call")
    results = {
        title: report(title, calendar, args.runs)
        for title, calendar in (
            ("office: Mon-Fri 09-13 + 14-18, Europe/Moscow, RU public holidays", office()),
            ("24x7, UTC", BusinessCalendar.always_open()),
        )
    }
    print()
    for name, met in results.items():
        verdict = "met" if met else "NOT met"
        print(f"target < 1 ms for add 2000 h and between 1 year (warm minimum): {verdict} -- {name}")


if __name__ == "__main__":
    main()
