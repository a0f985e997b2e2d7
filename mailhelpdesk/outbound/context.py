"""The variables a template sees (docs/templates.md lists them), built from a ticket's view.

Customer mails never carry agents' addresses (``ticket.assignee`` and ``agent`` are empty for
them) nor the SLA deadlines, so no template can name line 3 experts or line 4 vendors to a
customer by mistake. Agents' mail carries what they need to answer from their mail client
without opening the panel. Times are in the customer's time zone in their mail and in the
desk's in agents' mail.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.sla import TARGETS
from mailhelpdesk.outbound.locale import (
    deadline_label,
    describe_hours,
    format_date,
    format_datetime,
    format_duration,
)
from mailhelpdesk.outbound.planner import Notice
from mailhelpdesk.rules.ruleset import RuleSet
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.mail_view import TicketView

EXCERPT_CHARS = 2000
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class Moments:
    """Times decided by the caller: when the ticket closes by itself, and the clock of the change.

    ``now`` is what agents' deadlines count the time left from; None means the wall clock.
    """

    close_at: datetime | None = None
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContextBuilder:
    public_url: str
    signer: Signer

    def build(self, view: TicketView, notice: Notice, recipient: str, language: str, box: MailboxSettings,
              ruleset: RuleSet, moments: Moments) -> dict[str, Any]:
        agent = notice.audience == "agent"
        zone = _desk_zone(ruleset) if agent else customer_zone(view, ruleset)
        values = self._common(view, recipient, language, box, ruleset, zone, agent)
        values |= self._specific(view, notice, language, ruleset, zone, moments)
        values |= _agents_only(view, recipient, language, zone, moments, agent)
        if agent and (known := ruleset.agent(recipient)) is not None:
            values["agent"]["name"] = known.name
        return values | notice.extra

    def _common(self, view: TicketView, recipient: str, language: str, box: MailboxSettings, ruleset: RuleSet,
                zone: tzinfo, agent: bool) -> dict[str, Any]:
        calendar = ruleset.sla_calendar
        person = view.requester
        line = ruleset.lines.get(view.line)
        return {
            "ticket": {"number": view.number, "token": f"[#{view.number}]", "subject": view.subject,
                       "status": view.status, "urgency": view.urgency, "line": view.line,
                       "line_name": line.name if line else "", "team": view.team,
                       "assignee": view.assignee if agent else "",
                       "requester": person.email, "company": view.company.name, "tier": view.company.tier,
                       "created": format_datetime(view.created_at, zone, language),
                       "url": f"{self.public_url}/tickets/{view.number}"},
            "contact": {"email": person.email, "name": person.name,
                        "greeting_name": person.preferred_name or person.name, "salutation": person.salutation},
            "company": {"name": view.company.name},
            "mailbox": {"name": box.name, "address": box.address, "display_name": box.display_name or box.name,
                        "faq": [{"title": f.title, "url": f.url} for f in box.faq]},
            "desk": {"hours": describe_hours(calendar, language) if calendar else "",
                     "timezone": calendar.timezone.key if calendar else ""},
            "recipient": {"email": recipient, "name": person.name if recipient == person.email else ""},
            # The customer's own key to the ticket's page: never handed to agents, who have the panel.
            "status_url": "" if agent else self.status_url(view.number),
        }

    def _specific(self, view: TicketView, notice: Notice, language: str, ruleset: RuleSet, zone: tzinfo,
                  moments: Moments) -> dict[str, Any]:
        due = view.dues.get("first_response")
        close_at = moments.close_at
        return {
            "first_response": None if due is None else {
                "due": format_datetime(due, zone, language), "timezone": getattr(zone, "key", str(zone)),
                "business_hours": _business_hours(ruleset, view)},
            "assignee_name": _assignee_name(view, ruleset),
            "waiting_since": format_datetime(view.status_since, zone, language),
            "closing": {"close_on": format_date(close_at, zone, language) if close_at else "",
                        "close_at": format_datetime(close_at, zone, language) if close_at else ""},
            "survey": {"links": [{"score": s, "url": self.survey_url(view.number, s)} for s in SCORES]},
            "message": {"from": view.requester.email, "excerpt": view.last_customer_text[:EXCERPT_CHARS]},
            "reason": "", "rule": notice.requested_by,
            "sla": _sla(view, notice, ruleset, zone, language),
            "note": {"author": "", "text": ""},  # the internal note a mention or a request to answer is about
            "errors": [],  # {line, source, reason} of the commands refused in an agent's emailed reply
        }

    def survey_url(self, number: int, score: int) -> str:
        return f"{self.public_url}/survey/{number}/{self.signer.survey_signature(number)}/{score}"

    def status_url(self, number: int) -> str:
        """The ticket's status page for its customer (``web/status_page.py``)."""
        return f"{self.public_url}/status/{number}/{self.signer.status_signature(number)}"


def _assignee_name(view: TicketView, ruleset: RuleSet) -> str:
    """The assignee's name, for customers: only on lines 1 and 2, and only of an agent who works
    on no higher line (experts and vendors are never named to customers); never an address."""
    agent = ruleset.agent(view.assignee) if view.assignee else None
    if agent is None or not agent.name or view.line > 2:
        return ""
    return agent.name if all(line <= 2 for line in ruleset.agent_lines(agent.email)) else ""


def _agents_only(view: TicketView, recipient: str, language: str, zone: tzinfo, moments: Moments,
                 agent: bool) -> dict[str, Any]:
    """The deadlines and the agent's own address; empty in customer mail, which must show neither."""
    if not agent:
        return {"deadlines": [], "agent": {"email": "", "name": ""}}
    now = moments.now or datetime.now(UTC)
    return {"deadlines": _deadlines(view, now, zone, language), "agent": {"email": recipient, "name": ""}}


def _deadlines(view: TicketView, now: datetime, zone: tzinfo, language: str) -> list[dict[str, Any]]:
    """The ticket's deadlines in the order of ``TARGETS``, each with the time left or how late it is."""
    rows = []
    for target in TARGETS:
        due = view.dues.get(target)
        if due is None:
            continue
        overdue = due < now
        rows.append({"target": target, "label": deadline_label(target, language),
                     "due": format_datetime(due, zone, language),
                     "left": "" if overdue else format_duration(due - now, language),
                     "overdue": overdue, "overdue_by": format_duration(now - due, language) if overdue else ""})
    return rows


def _sla(view: TicketView, notice: Notice, ruleset: RuleSet, zone: tzinfo, language: str) -> dict[str, str]:
    target = str(notice.extra.get("sla_target", ""))
    due = view.dues.get(target) if target else None
    return {"target": target, "due": format_datetime(due, zone, language) if due else "",
            "policy": view.sla_policy}


def _business_hours(ruleset: RuleSet, view: TicketView) -> bool:
    policy = next((p for p in ruleset.sla.policies if p.name == view.sla_policy), None)
    return policy is not None and policy.business_time


def customer_zone(view: TicketView, ruleset: RuleSet) -> tzinfo:
    """The customer's time zone: theirs, their company's, the desk's, UTC."""
    for name in (view.requester.timezone, view.company.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return _desk_zone(ruleset)


def _desk_zone(ruleset: RuleSet) -> tzinfo:
    calendar = ruleset.sla_calendar
    return calendar.timezone if calendar else ZoneInfo("UTC")
