"""The composition root: builds the runtime from settings. Nothing happens at import."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailhelpdesk.companies.domains import load_freemail
from mailhelpdesk.config import Settings
from mailhelpdesk.intake import Intake
from mailhelpdesk.metrics import Metrics
from mailhelpdesk.outbound.closing import Closing
from mailhelpdesk.outbound.context import ContextBuilder
from mailhelpdesk.outbound.guard import Guard
from mailhelpdesk.outbound.notifier import Notifier
from mailhelpdesk.outbound.sender import OutboxSender
from mailhelpdesk.outbound.templates import Templates
from mailhelpdesk.pipeline.agent_reply import AgentReplyHandler
from mailhelpdesk.pipeline.runner import Pipeline
from mailhelpdesk.pipeline.steps.agent_mail import AgentMailStep
from mailhelpdesk.pipeline.steps.authentication import AuthenticationStep
from mailhelpdesk.pipeline.steps.auto_reply import AutoReplyStep
from mailhelpdesk.pipeline.steps.bounce import BounceStep
from mailhelpdesk.pipeline.steps.duplicate import DuplicateStep
from mailhelpdesk.pipeline.steps.loop import LoopStep
from mailhelpdesk.pipeline.steps.parse_step import ParseStep
from mailhelpdesk.pipeline.steps.persist import AlwaysReopen, PersistStep
from mailhelpdesk.pipeline.steps.rules_step import RulesStep
from mailhelpdesk.pipeline.steps.sender import CompanyResolver, SenderStep
from mailhelpdesk.pipeline.steps.survey_reply import SurveyReplyStep
from mailhelpdesk.pipeline.steps.thread_match import ThreadMatchStep
from mailhelpdesk.rules.current import CurrentRules
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.outbox import OutboxStore
from mailhelpdesk.store.ratings import RatingStore
from mailhelpdesk.store.repository import Repository
from mailhelpdesk.store.rule_writes import RuleWriter
from mailhelpdesk.store.timers import TimerStore
from mailhelpdesk.tickets.service import TicketService
from mailhelpdesk.timer_job import TimerJob


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    repo: Repository
    signer: Signer
    pipeline: Pipeline
    intake: Intake
    rules: CurrentRules
    timers: TimerJob
    templates: Templates
    notifier: Notifier
    outbox: OutboxStore
    sender: OutboxSender
    ratings: RatingStore
    service: TicketService
    metrics: Metrics


def build_runtime(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Runtime:
    repo = Repository()
    timers = TimerStore()
    writer = RuleWriter(repo, timers)
    signer = Signer(settings.secret_key)
    freemail = load_freemail(settings.freemail_file, settings.freemail_extra)
    ours = settings.our_addresses()
    rules = CurrentRules(settings.rules_file, settings.templates_dir)
    companies = CompanyResolver(repo, freemail, settings.auto_create_companies, lambda: rules().agent_domains)
    outbox, ratings = OutboxStore(), RatingStore()
    metrics = Metrics(settings.mailbox_names())
    templates = Templates(settings.admin_templates())
    notifier = Notifier(settings, repo, outbox, Guard(outbox, settings.outbox, ours, freemail), templates,
                        ContextBuilder(settings.public_url, signer), Closing(timers), signer, rules, clock)
    service = TicketService(repo, timers, writer, notifier, signer, rules,
                            timedelta(hours=settings.outbox.max_age_hours), settings.ticket_number_start,
                            ratings)
    steps = (
        ParseStep(settings.max_message_bytes),
        DuplicateStep(repo),
        LoopStep(ours, settings.loop_token),
        AutoReplyStep(),
        BounceStep(),
        AuthenticationStep(frozenset(settings.authserv_id)),
        ThreadMatchStep(repo, signer, settings.subject_match_days, freemail),
        AgentMailStep(repo, outbox, signer, rules, ours),
        SenderStep(repo, companies),
        SurveyReplyStep(ratings),
        RulesStep(repo, rules, timed=metrics.rules_evaluated),
        PersistStep(repo, companies, ours, AlwaysReopen(), service,
                    AgentReplyHandler(service, repo, notifier, companies, rules)),
    )
    pipeline = Pipeline(steps, repo, {b.name: b for b in settings.mailboxes}, clock, metrics.processed)
    timer_job = TimerJob(repo, timers, service, rules)
    return Runtime(settings, repo, signer, pipeline, Intake(repo, pipeline, clock), rules, timer_job, templates,
                   notifier, outbox, OutboxSender(settings, outbox, repo), ratings, service, metrics)



@asynccontextmanager
async def running(settings: Settings, clock: Callable[[], datetime] = utc_now) -> AsyncIterator[Runtime]:
    """Open the database (migrating it) and yield the runtime; close on exit."""
    await open_database(settings.database_url)
    try:
        yield build_runtime(settings, clock)
    finally:
        await close_database()
