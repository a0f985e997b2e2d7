"""Prometheus metrics: what this process measured, and what the database knows when scraped.

Two kinds, on purpose. The database is the truth for anything every process of an installation
shares (the inbound backlog, mail received, the outbox, the breaker, the IMAP folders): it is
read at each scrape, so any ``web`` process tells the same numbers, whichever process did the
work. Only what the database cannot tell is counted in memory: how long processing a message
and evaluating the rules took, in this process.

``Metrics`` owns a ``CollectorRegistry`` of its own (never the library's global one, which would
be shared by every runtime of one interpreter) and is built by the composition root.
``docs/metrics.md`` lists every metric.
"""

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mailhelpdesk.domain.types import InboundState
from mailhelpdesk.pipeline.runner import ProcessResult
from mailhelpdesk.store.outbox import FAILED, HELD, QUEUED, SENDING, SENT, SUPPRESSED, OutboxStore
from mailhelpdesk.store.service_status import ServiceStatus, read_status
from mailhelpdesk.store.sql import Sql, from_db_datetime

log = logging.getLogger(__name__)

PREFIX = "mailhelpdesk_"
OUTBOX_STATUSES = (QUEUED, SENDING, SENT, FAILED, SUPPRESSED, HELD)
BREAKER_TRIPPED_EVENT = "outbox.breaker_tripped"  # the notifier records one per trip

# One message: a few milliseconds when all is well, seconds behind a slow database.
_PROCESSING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The rules engine is pure computation: well under a millisecond for an ordinary rules file.
_RULE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True, slots=True)
class DatabaseView:
    """What the database says at one scrape."""

    status: ServiceStatus
    received: Counter[str]  # inbound rows by mailbox: every message ever accepted (rows are never deleted)
    oldest_accepted: datetime | None  # when the oldest message still waiting was accepted
    breaker_trips: int
    now: datetime


class Metrics:
    """The desk's metrics: in-process histograms, and the database's numbers at each scrape."""

    def __init__(self, mailboxes: Sequence[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.mailboxes = tuple(mailboxes)  # shown with 0 before their first mail, so a graph starts at 0
        self._processing = Histogram(
            f"{PREFIX}processing_seconds", "Time this process took to process one message, by the state it ended in.",
            ["state"], registry=self.registry, buckets=_PROCESSING_BUCKETS)
        self._rules = Histogram(
            f"{PREFIX}rule_evaluation_seconds", "Time the rules engine took to evaluate the rules for one message.",
            registry=self.registry, buckets=_RULE_BUCKETS)
        for state in InboundState:
            if state is not InboundState.ACCEPTED:  # what a message ends in: every series exists from the start
                self._processing.labels(state.value)

    def processed(self, result: ProcessResult, seconds: float) -> None:
        """The pipeline's observer: one message done."""
        self._processing.labels(result.state.value).observe(seconds)

    def rules_evaluated(self, seconds: float) -> None:
        """The rules step's timer: one evaluation done."""
        self._rules.observe(seconds)

    async def scrape(self, now: datetime) -> bytes:
        """The text a scraper gets: this process's metrics, then the database's as of ``now``.
        A database that does not answer still leaves the process's own (and ``database_up`` 0)."""
        try:
            view: DatabaseView | None = await read_database(now)
        except Exception as exc:  # noqa: BLE001 - an outage is what monitoring must still see
            log.warning("metrics: the database did not answer: %s: %s", type(exc).__name__, exc)
            view = None
        return generate_latest(_Scrape(self.registry, view, self.mailboxes))


@dataclass(frozen=True, slots=True)
class _Scrape:
    """One scrape's collector: built per request, so concurrent scrapes never share a view."""

    registry: CollectorRegistry
    view: DatabaseView | None
    mailboxes: tuple[str, ...] = ()

    def collect(self) -> Iterable[Metric]:
        yield from self.registry.collect()
        yield GaugeMetricFamily(f"{PREFIX}database_up", "1 when the database answered this scrape, else 0.",
                                value=0 if self.view is None else 1)
        if self.view is not None:
            yield from database_families(self.view, self.mailboxes)


async def read_database(now: datetime) -> DatabaseView:
    """Each number from an index alone where it can be: the raw bytes in ``inbound`` and ``outbox``
    make any query that reads their rows one by one slow on a large desk."""
    sql = Sql()
    status = await read_status(OutboxStore())
    received = Counter({str(r[0]): int(r[1]) for r in await sql.rows(
        'SELECT "mailbox", COUNT(*) FROM "inbound" GROUP BY "mailbox"')})
    # The oldest by id, as the intake claims them: the state index hands it over without reading
    # the backlog's rows. No backlog (the usual case), no query.
    oldest = await sql.first('SELECT "accepted_at" FROM "inbound" WHERE "state" = ? ORDER BY "id" LIMIT 1',
                             InboundState.ACCEPTED.value) if status.inbound[InboundState.ACCEPTED.value] else None
    trips = await sql.first('SELECT COUNT(*) FROM "event" WHERE "kind" = ?', BREAKER_TRIPPED_EVENT)
    return DatabaseView(status, received, from_db_datetime(oldest[0]) if oldest else None,
                        int(trips[0]) if trips else 0, now)


def database_families(view: DatabaseView, mailboxes: Sequence[str] = ()) -> Iterator[Metric]:
    yield from _inbound_families(view, mailboxes)
    yield from _outbox_families(view)
    yield from _imap_families(view)


def _inbound_families(view: DatabaseView, mailboxes: Sequence[str]) -> Iterator[Metric]:
    received = CounterMetricFamily(f"{PREFIX}inbound_received", "Messages accepted into the inbound spool.",
                                   labels=["mailbox"])
    for mailbox in sorted(set(mailboxes) | set(view.received)):
        received.add_metric([mailbox], view.received[mailbox])
    yield received
    by_state = GaugeMetricFamily(f"{PREFIX}inbound_messages", "Inbound messages by their state now.",
                                 labels=["state"])
    for state in InboundState:
        by_state.add_metric([state.value], view.status.inbound[state.value])
    yield by_state
    lag = (view.now - view.oldest_accepted).total_seconds() if view.oldest_accepted else 0.0
    yield GaugeMetricFamily(f"{PREFIX}ingest_lag_seconds",
                            "Age of the oldest accepted message not processed yet; 0 when none waits.",
                            value=max(0.0, lag))


def _outbox_families(view: DatabaseView) -> Iterator[Metric]:
    outbox = GaugeMetricFamily(f"{PREFIX}outbox_messages", "Outbox rows by status.", labels=["status"])
    for status in sorted(set(OUTBOX_STATUSES) | set(view.status.outbox)):
        outbox.add_metric([status], view.status.outbox[status])
    yield outbox
    yield GaugeMetricFamily(f"{PREFIX}outbox_breaker_tripped",
                            "1 while the outbox breaker holds automatic mail, else 0.",
                            value=1 if view.status.breaker else 0)
    yield CounterMetricFamily(f"{PREFIX}outbox_breaker_trips", "Times the outbox breaker tripped.",
                              value=view.breaker_trips)


def _imap_families(view: DatabaseView) -> Iterator[Metric]:
    failures = GaugeMetricFamily(f"{PREFIX}imap_consecutive_failures",
                                 "Failed fetches in a row of an IMAP folder; 0 after a good one.",
                                 labels=["mailbox", "folder"])
    age = GaugeMetricFamily(f"{PREFIX}imap_last_success_age_seconds",
                            "Seconds since an IMAP folder was last fetched without error (absent: never).",
                            labels=["mailbox", "folder"])
    for folder in view.status.folders:
        failures.add_metric([folder.mailbox, folder.folder], folder.failures)
        if folder.fetched_at is not None:
            age.add_metric([folder.mailbox, folder.folder], max(0.0, (view.now - folder.fetched_at).total_seconds()))
    yield failures
    yield age
