"""``mailhelpdesk templates check`` and ``templates render NAME --ticket N``."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from mailhelpdesk.app import Runtime
from mailhelpdesk.config import MailboxSettings, Settings
from mailhelpdesk.outbound.context import ContextBuilder, Moments
from mailhelpdesk.outbound.planner import Notice
from mailhelpdesk.outbound.templates import REQUIRED_PARTS, RenderFailure, Templates
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.mail_view import CompanyView, Person, TicketView

SAMPLE_NUMBER = 1042
SAMPLE_AGENT = "ivan@example.com"  # the sample ticket's assignee, to whom agent templates go
_NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
# The clock of the sample change: the first response is 25 minutes late and the resolution still
# ahead, so both kinds of deadline line are rendered.
SAMPLE_NOW = _NOW + timedelta(hours=4, minutes=25)
# What the caller puts into ``Notice.extra``, with a value for every template that reads it.
SAMPLE_EXTRA: dict[str, object] = {
    "sla_target": "first_response", "reason": "created",
    "note": {"author": "Olga Smirnova",
             "text": "The print server queue is stuck. Ask the customer to restart the printer; we will clear it."},
    "errors": [{"line": 1, "source": "#stauts resolved", "reason": "unknown command #stauts"},
               {"line": 2, "source": "#urgency asap", "reason": "urgency must be one of low, normal, high, critical"}],
}


def check_templates(settings: Settings, out: TextIO) -> int:
    """Render every template of every language with sample data; 1 if any fails."""
    templates = Templates(settings.admin_templates())
    ruleset = _ruleset(settings)
    builder = ContextBuilder(settings.public_url, Signer(settings.secret_key))
    box = settings.mailbox(settings.default_mailbox)
    problems, count = [], 0
    for language in templates.languages():
        for name in templates.names(language):
            count += 1
            problems += _check_one(templates, builder, ruleset, box, name, language)
    for problem in problems:
        out.write(problem + "\n")
    roots = ", ".join(str(r) for r in templates.roots)
    out.write(f"{count} templates in {len(templates.languages())} languages ({roots}): "
              f"{len(problems)} problem(s)\n" if problems else
              f"{count} templates in {len(templates.languages())} languages ({roots}): all render\n")
    return 1 if problems else 0


def _check_one(templates: Templates, builder: ContextBuilder, ruleset: RuleSet, box: MailboxSettings, name: str,
               language: str) -> list[str]:
    if not templates.has(name, language):
        return [f"{language}/{name}: needs the parts {', '.join(REQUIRED_PARTS)} (found only some)"]
    agent = name.startswith("agent_")
    notice = Notice(name, "agent" if agent else "customer", (), dict(SAMPLE_EXTRA), "Sample rule")
    recipient = SAMPLE_AGENT if agent else sample_view().requester.email
    context = builder.build(sample_view(), notice, recipient, language, box, ruleset,
                            Moments(_NOW + timedelta(days=3), SAMPLE_NOW))
    rendered = templates.render(name, language, context)
    if isinstance(rendered, RenderFailure):
        return [f"{language}/{name}: {rendered.error}"]
    if f"[#{SAMPLE_NUMBER}]" not in rendered.subject:
        return [f"{language}/{name}: the subject has no ticket token (put {{{{ ticket.token }}}} in it): "
                f"{rendered.subject!r}"]
    return []


def _ruleset(settings: Settings) -> RuleSet:
    if settings.rules_file is None:
        return RuleSet(Path("rules.yaml"))
    return load_rules(settings.rules_file, settings.templates_dir).rules or RuleSet(settings.rules_file)


def sample_view() -> TicketView:
    """A ticket with every field set, for rendering templates without a database."""
    return TicketView(
        id=0, number=SAMPLE_NUMBER, subject="Printer on floor 3 does not print", status="resolved", urgency="high",
        line=2, team="network", assignee=SAMPLE_AGENT, mailbox="support", created_at=_NOW,
        status_since=_NOW, sla_policy="Standard",
        dues={"first_response": _NOW + timedelta(hours=4), "next_response": None, "update_every": None,
              "resolution": _NOW + timedelta(days=2)},
        requester=Person("anna@customer.example", "Anna Petrova", "Anna"),
        company=CompanyView(1, "Customer Ltd", "standard"), thread=("first@customer.example",),
        last_customer_id="first@customer.example", last_customer_text="The printer on floor 3 does not print.\n")


async def render_template(runtime: Runtime, name: str, number: int, language: str | None, part: str,
                          out: TextIO, err: TextIO) -> int:
    ref = await runtime.repo.ticket_ref(number=number)
    if ref is None:
        err.write(f"mailhelpdesk: error: no ticket #{number}\n")
        return 1
    rendered = await runtime.notifier.preview(ref.id, name, language)
    if rendered is None or isinstance(rendered, RenderFailure):
        err.write(f"mailhelpdesk: error: {rendered.error if rendered else 'no ticket'}\n")
        return 1
    parts = {"subject": rendered.subject + "\n", "txt": rendered.text, "html": rendered.html}
    if part != "all":
        out.write(parts[part])
        return 0
    out.write(f"Language: {rendered.language}\nSubject: {rendered.subject}\n\n{rendered.text}")
    if rendered.html:
        out.write(f"\n--- HTML ---\n{rendered.html}\n")
    return 0
