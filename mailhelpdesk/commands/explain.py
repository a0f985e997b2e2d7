"""``mailhelpdesk explain NUMBER``: the story of a ticket, from its events: threading, rules, SLA."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

from mailhelpdesk.commands.text import clip
from mailhelpdesk.domain.sla import DUE_COLUMNS
from mailhelpdesk.store.models import Event, Message, Ticket


async def explain_ticket(out: TextIO, number: int) -> bool:
    ticket = await Ticket.get_or_none(number=number).prefetch_related("requester", "company")
    if ticket is None:
        return False
    write_story(out, ticket, await Message.filter(ticket_id=ticket.id), await ticket_events(ticket.id))
    return True


async def ticket_events(ticket_id: int) -> list[Event]:
    return await Event.filter(ticket_id=ticket_id).order_by("id")


def write_story(out: TextIO, ticket: Ticket, thread: Sequence[Message], events: Sequence[Event]) -> None:
    """The story of ``ticket`` (its requester and company fetched), its ``thread`` and ``events``, as loaded."""
    out.write("\n".join(_header(ticket)) + "\n\n")
    messages = {m.inbound_id: m for m in thread}  # type: ignore[attr-defined]
    for event in events:
        out.write("\n".join(_event_lines(event, messages)) + "\n")
    out.write("\ndeadlines now: " + (", ".join(_deadlines(ticket)) or "none") + "\n")


def _header(ticket: Ticket) -> list[str]:
    company = f"{ticket.company.name} (tier {ticket.company.tier})" if ticket.company else "none"
    tags = ", ".join(sorted(ticket.tags or ())) or "-"
    return [f"#{ticket.number} {ticket.subject}",
            f"status {ticket.status}, urgency {ticket.urgency}, line {ticket.line}, team {ticket.team or '-'}, "
            f"assignee {ticket.assignee or '-'}, tags {tags}",
            f"company {company}, requester {ticket.requester.email}, mailbox {ticket.mailbox}, "
            f"SLA policy {ticket.sla_policy or 'none'}"]


def _event_lines(event: Event, messages: dict[int | None, Message]) -> list[str]:
    when = _time(event.created_at)
    describe = _DESCRIBE.get(event.kind)
    text = describe(event.data) if describe else f"{event.kind} {event.data}"
    if event.actor not in ("system", ""):
        text = f"{text} [by {event.actor}]"
    message = messages.get(event.inbound_id)  # type: ignore[attr-defined]
    if event.kind in ("ticket.created", "message.customer_reply", "message.agent_reply") and message is not None:
        text += f" — mail <{message.message_id}> from {message.from_addr}"
    return [f"{when}  {text}"]


def _fired(data: dict[str, Any]) -> str:
    matched = "; ".join(f"{m['field']} {m['matcher']} {m['expected']!r} (seen {clip(m['seen'])!r})"
                        + "".join(f" {k}={v}" for k, v in m.get("captures", {}).items())
                        for m in data.get("matched", [])) or "always"
    changes = "; ".join(c["text"] for c in data.get("changes", [])) or "no change"
    return f"rule {data['rule']!r} on {data['on']} (rules file line {data['rules_line']}): {matched} → {changes}"


def _created_links(data: dict[str, Any]) -> str:
    links = [f"; follows closed ticket #{data['follows']}" if data.get("follows") else "",
             f"; a forward of #{data['forwarded_from']} by someone not on it: a new request"
             if data.get("forwarded_from") else "",
             f"; POSSIBLE DUPLICATE of #{data['possible_duplicate_of']} ({data.get('duplicate_because', '')})"
             if data.get("possible_duplicate_of") else ""]
    return "".join(links)


def _bounce_details(data: dict[str, Any]) -> str:
    parts = [f"status {data['status']}" if data.get("status") else "",
             f"for {', '.join(data['recipients'])}" if data.get("recipients") else "",
             f"({clip(data['diagnostic'])})" if data.get("diagnostic") else ""]
    return "".join(f"; {p}" for p in parts if p)


def _near(data: dict[str, Any]) -> str:
    return (f"near miss: rule {data['rule']!r} on {data['on']}: {data['held']} of {data['of']} conditions held; "
            f"not: {'; '.join(data['failed'])}")


def _policy(data: dict[str, Any]) -> str:
    due = ", ".join(f"{d['target']} {_iso(d['due'])} ({d['how']})" for d in data.get("deadlines", []))
    on = f" on {data['on']}" if data.get("on", "ticket_created") != "ticket_created" else ""
    return f"SLA policy {data['policy'] or 'none'!r}{on} ({data['reason']}): {due or 'no deadlines'}"


def _paused(data: dict[str, Any]) -> str:
    return f"SLA clock stopped at {_iso(data['at'])} (status {data.get('status')})"


def _resumed(data: dict[str, Any]) -> str:
    stopped = _span(int(data.get("stopped_seconds", 0)))
    return (f"SLA clock restarted at {_iso(data['at'])} (status {data.get('status')}): stopped since "
            f"{_iso(data['paused_at'])}, {stopped} of SLA time; deadlines still ahead moved {stopped} later; "
            f"stopped in all {_span(int(data.get('total_seconds', 0)))}")


def _timer(data: dict[str, Any]) -> str:
    if "due" in data:
        word = "warning" if data["on"] == "sla_warning" else "breached"
        return f"SLA {data['target']} {word} (due {_iso(data['due'])})"
    return f"timer {data['on']} {data['target']} fired (counted from {_iso(data['since'])})"


def _span(seconds: int) -> str:
    hours, rest = divmod(seconds // 60, 60)
    return f"{hours}h{rest:02d}m"


def _iso(text: str) -> str:
    return _time(datetime.fromisoformat(text))


_DESCRIBE: dict[str, Callable[[dict[str, Any]], str]] = {
    "ticket.created": lambda d: f"ticket created in mailbox {d.get('mailbox')}; company: {d.get('company')}"
                                + _created_links(d),
    "message.customer_reply": lambda d: f"customer reply, threaded by {d.get('signal')}: {d.get('detail', '')}"
                                        + (f" (confidence {d['confidence']})" if d.get("confidence") else ""),
    "message.agent_reply": lambda d: f"agent reply, threaded by {d.get('signal')}: {d.get('detail', '')}",
    "ticket.reopened": lambda d: f"reopened: {d.get('from')} → {d.get('to')}",
    "ticket.cc_added": lambda d: f"contacts added to cc: {d.get('contacts')}",
    "message.auto_reply": lambda d: f"auto-reply attached as internal record: {d.get('reason')}",
    "message.bounce": lambda d: f"{d.get('kind', 'bounce')} attached as internal record: {d.get('reason')}"
                                + _bounce_details(d),
    "message.automated": lambda d: ("automated mail (no automatic reply, reopens nothing): "
                                    + "; ".join(d.get("signals", []))),
    "rule.fired": _fired,
    "rule.near_miss": _near,
    "sla.policy": _policy,
    "sla.paused": _paused,
    "sla.resumed": _resumed,
    "sla.warning": _timer,
    "sla.breached": _timer,
    "timer.fired": _timer,
    "timer.failed": lambda d: f"timer {d.get('on')} {d.get('target')} failed: {d.get('error')}",
    "ticket.auto_closed": lambda d: f"closed by itself: no reply since the closing request (due {_iso(d['due'])})",
    "mail.queued": lambda d: _mail("queued", d),
    "mail.held": lambda d: _mail("held (breaker tripped)", d),
    "mail.suppressed": lambda d: _mail("not sent", d),
    "mail.sent": lambda d: _mail("sent", d),
    "mail.deferred": lambda d: _mail("deferred", d),
    "mail.failed": lambda d: _mail("FAILED", d),
    "rating.received": lambda d: f"customer rated {d.get('score')}/5 by {d.get('source')}"
                                 + (f": {d['comment']!r}" if d.get("comment") else ""),
    "outbox.breaker_tripped": lambda d: f"outbox breaker tripped: {d.get('reason')}",
    "ticket.changed": lambda d: "changed: " + "; ".join(_change(c) for c in d.get("changes", [])),
    "ticket.merged": lambda d: f"#{d.get('from')} merged into #{d.get('into')} ({d.get('messages')} messages "
                               "moved)",
    "ticket.collaborators": lambda d: "collaborators: " + ", ".join(
        [f"+{a}" for a in d.get("added", [])] + [f"-{a}" for a in d.get("removed", [])]),
    "message.agent_answer": lambda d: f"agent's answer to the customer ({d.get('chars')} characters, "
                                      f"outbox {d.get('outbox') or 'none: not sent'})",
    "note.added": lambda d: "internal note" + (" (asks the line below to answer the customer)"
                                               if d.get("answer_needed") else ""),
    "message.agent_direct": lambda d: f"agent's own mail to the customer recorded: {d.get('reason')}",
    "message.unverified": lambda d: f"UNVERIFIED mail kept as an internal record: {d.get('reason')}",
    "agent.mail_refused": lambda d: "agent's mail refused, nothing changed or sent: " + "; ".join(
        (f"line {e['line']} {e['source']!r}: " if e.get("line") else "") + str(e.get("reason"))
        for e in d.get("errors", [])),
}


def _change(change: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(map(str, value)) + "]"
        return str(value) if value not in ("", None) else "-"

    return f"{change.get('field')}: {shown(change.get('old'))} → {shown(change.get('new'))}"


def _deadlines(ticket: Ticket) -> list[str]:
    return [f"{column.removesuffix('_due')} {_time(due)}" for column in DUE_COLUMNS.values()
            if (due := getattr(ticket, column)) is not None]


def _mail(what: str, data: dict[str, Any]) -> str:
    why = data.get("reason") or data.get("detail") or ""
    # Mail refused before it reached the outbox (an archive import) has no outbox row to name.
    notes = [f"outbox {data['outbox']}"] if data.get("outbox") is not None else []
    if data.get("rule"):
        notes.append(f"asked by rule {data['rule']!r}")
    to = data.get("to")
    people = ", ".join(map(str, to)) if isinstance(to, list) else to  # one event for all of a team
    return (f"mail {what}: {data.get('template')} to {people}" + (f" ({', '.join(notes)})" if notes else "")
            + (f": {clip(str(why), 200)}" if why else ""))


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
