"""Time-based jobs of a running service (APScheduler 3.x, in the service's event loop).

- the timer job: SLA warnings and breaches, ``pending_for`` and ``no_update_for`` rules;
- the rules file: read again when it changes; a broken edit is logged and refused, and the
  last good rules stay in force. Companies of new rules are seeded.

Each job catches and logs its own unexpected errors: a failing run must not stop the next.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailhelpdesk.app import Runtime
from mailhelpdesk.store.repository import transaction

log = logging.getLogger(__name__)


def start_scheduler(runtime: Runtime, clock: Callable[[], datetime],
                    fired: Callable[[], None] = lambda: None) -> AsyncIOScheduler:
    """Start the jobs in the running event loop; the caller shuts the scheduler down.
    ``fired`` is called after each run of the timer job (it may have queued mail)."""
    settings = runtime.settings
    # APScheduler logs every run of every job at INFO: a line every two seconds says nothing.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(run_timers, "interval", args=(runtime, clock, fired), seconds=settings.timer_interval,
                      next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id="timers")
    if settings.rules_file is not None and settings.rules_reload_interval:
        scheduler.add_job(reload_rules, "interval", args=(runtime,), seconds=settings.rules_reload_interval,
                          max_instances=1, coalesce=True, id="rules")
    scheduler.start()
    return scheduler


async def run_timers(runtime: Runtime, clock: Callable[[], datetime], fired: Callable[[], None]) -> None:
    try:
        tally = await runtime.timers.run(clock())
    except Exception:
        log.exception("the timer job failed; it runs again in %ss", runtime.settings.timer_interval)
        return
    fired()
    if tally:
        log.info("timers: %s", ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())))


async def reload_rules(runtime: Runtime) -> None:
    try:
        refresh = runtime.rules.refresh()
        if refresh.outcome == "refused":
            problems = "\n".join(str(p) for p in refresh.problems)
            log.error("the edited rules file is refused (%s problem(s)); the last good rules stay in force:\n%s",
                      len(refresh.problems), problems)
        elif refresh.outcome == "reloaded":
            ruleset = runtime.rules()
            async with transaction():
                for seed in ruleset.companies:
                    await runtime.repo.upsert_company(seed.name, seed.domains, seed.tier, seed.language,
                                                   seed.timezone)
            log.warning("rules reloaded from %s: %s", ruleset.path, ruleset.summary())
    except Exception:
        log.exception("reloading the rules failed; the last good rules stay in force")
