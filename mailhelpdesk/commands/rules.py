"""``mailhelpdesk rules check|test``: validate a rules file, try it on a mail; no database needed."""

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TextIO

from mailhelpdesk.commands.text import clip
from mailhelpdesk.companies.domains import FreemailList
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.rules.dry_run import DryRun, dry_run
from mailhelpdesk.rules.engine import Decision
from mailhelpdesk.rules.ruleset import RuleSet, load_rules


def check_rules(path: Path, out: TextIO, templates_dir: Path | None = None) -> int:
    """Print every problem as ``file:line:column: message`` (exit 1), or a summary (exit 0)."""
    result = load_rules(path, templates_dir)
    for problem in result.problems:
        out.write(f"{problem}\n")
    if result.rules is None:
        count = len(result.problems)
        out.write(f"{path}: {count} problem{'s' if count != 1 else ''}; the file is refused\n")
        return 1
    out.write(f"{path}: OK ({result.rules.summary()})\n")
    return 0


def test_rules(path: Path, message: Path, box: MailboxSettings, at: datetime | None, freemail: FreemailList,
               out: TextIO) -> int:
    """Dry run of one mail as a new ticket: fields, deadlines and templates, and why."""
    result = load_rules(path)
    if result.rules is None:
        return check_rules(path, out)
    try:
        raw = message.read_bytes()
    except OSError as exc:
        raise ConfigError(f"rules test: cannot read {message}: {exc.strerror}") from exc
    mail = parse_mail(raw)
    zone = _zone(result.rules)
    when = (at if at is None or at.tzinfo else at.replace(tzinfo=zone)) or mail.date or datetime.now(UTC)
    run = dry_run(result.rules, mail, box, when, freemail)
    out.write("\n".join(report_lines(run, zone)) + "\n")
    return 0


def _zone(ruleset: RuleSet) -> tzinfo:
    calendar = ruleset.sla_calendar
    return calendar.timezone if calendar else UTC


def report_lines(run: DryRun, zone: tzinfo) -> list[str]:
    sender = run.mail.sender[1] if run.mail.sender else "(no sender)"
    lines = [f"mail: {run.mail.subject!r} from {sender}, mailbox {run.mailbox}, at {_when(run.at, zone)}",
             f"company: {run.company} (tier {run.tier})" if run.company else "company: none", "",
             ]
    for decision in run.result.decisions:
        lines += [f"rules on {decision.event}:", *_rule_lines(decision)]
    state, sla = run.result.after, run.result.sla
    lines += ["", f"result: urgency {state.urgency}, line {state.line}, team {state.team or '-'}, "
                  f"assignee {state.assignee or '-'}, status {state.status}, tags [{', '.join(sorted(state.tags))}]"]
    if state.spam:
        lines.append("spam: the mail would be ignored, no ticket")
    lines.append(f"SLA policy: {sla.policy.name if sla.policy else 'none'} ({sla.reason})")
    lines += [f"  {d.target:<15} {_when(d.due, zone)}  {d.how}" + (f"; warning {_when(d.warn, zone)}" if d.warn else "")
              for d in sla.deadlines]
    if sla.clock is not None:
        lines.append(f"SLA clock: stopped (status {state.status})")
    for label, values in (("would notify", state.notify), ("would send", state.templates),
                          ("internal note", state.notes)):
        lines += [f"{label}: {v}" for v in values]
    return lines


def _rule_lines(decision: Decision) -> list[str]:
    lines: list[str] = []
    for fired in decision.fired:
        lines.append(f"  fired  {fired.rule.name} (line {fired.rule.line})")
        lines += [f"           {h.field} {h.matcher} {h.expected!r}: seen {clip(h.seen)!r}"
                  + (f" ({', '.join(f'{k}={v}' for k, v in h.captures)})" if h.captures else "")
                  for h in fired.hits if h.field != "not"]
        lines.append("           " + ("; ".join(str(c) for c in fired.changes) or "no change"))
    for miss in decision.near_misses:
        lines.append(f"  near   {miss.rule.name} (line {miss.rule.line}): {miss.held} of {miss.total} conditions "
                     f"held; not: {'; '.join(miss.failed)}")
    if not decision.fired and not decision.near_misses:
        lines.append("  (none fired)")
    if decision.stopped_by:
        lines.append(f"  stopped by {decision.stopped_by}")
    return lines


def _when(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z (%a)")
