"""The ``sla:`` section: response and resolution targets by urgency and company tier.

    sla:
      calendar: office                 # business time is counted in this calendar
      policies:                        # the first policy that fits a ticket applies
        - name: VIP urgent
          tiers: [vip]                 # company tiers; omitted = any
          urgencies: [critical, high]  # omitted = any
          lines: [3, 4]                # support lines; omitted = any
          first_response: 1h
          next_response: 2h            # after each customer message
          update_every: 4h             # periodic update while open
          resolution: 1d
          warn_before: 20%             # or a duration such as 30m
        - name: Everyone
          first_response: 24h
          time: calendar               # or business (default)
          calendar: around-the-clock   # holidays of that calendar still count as closed
          pause_on: [pending]          # statuses that stop the clock (default: pending)
"""

import re

import yaml

from mailhelpdesk.domain.sla import DEFAULT_WARNING, TARGETS, SlaPolicy, SlaSection, WarnAt
from mailhelpdesk.domain.types import TicketStatus, Urgency
from mailhelpdesk.rules.source import Reader

_POLICY_FIELDS = ("name", "tiers", "urgencies", "lines", "first_response", "next_response", "update_every",
                  "resolution", "time", "calendar", "pause_on", "warn_before")
def read_sla(reader: Reader, node: yaml.Node | None, calendars: set[str]) -> SlaSection:
    if node is None:
        return SlaSection("", ())
    fields = reader.mapping(node, "sla", ("calendar", "policies")) or {}
    default = _calendar_name(reader, fields.get("calendar"), calendars, "")
    items = reader.sequence(fields["policies"], "policies") if "policies" in fields else []
    policies = [_policy(reader, item, calendars, default) for item in items]
    _check_names(reader, fields.get("policies"), policies)
    return SlaSection(default, tuple(p for p in policies if p is not None))


def _policy(reader: Reader, node: yaml.Node, calendars: set[str], default_calendar: str) -> SlaPolicy | None:
    fields = reader.mapping(node, "an SLA policy", _POLICY_FIELDS, required=("name",))
    if fields is None or "name" not in fields:
        return None
    name = reader.string(fields["name"], "policy name") or "?"
    targets = {key: value for key in TARGETS if key in fields
               if (value := reader.duration(fields[key], f"{key} of policy {name!r}")) is not None}
    if not any(key in fields for key in TARGETS):
        reader.error(node, f"policy {name!r} sets no target ({', '.join(TARGETS)})")
    time_kind = reader.choice(fields["time"], "time", ("business", "calendar")) if "time" in fields else "business"
    return SlaPolicy(
        name=name,
        tiers=frozenset(_words(reader, fields.get("tiers"), "tiers")),
        urgencies=frozenset(_choices(reader, fields.get("urgencies"), "urgencies", [u.value for u in Urgency])),
        lines=frozenset(_lines(reader, fields.get("lines"))),
        targets=targets,
        business_time=time_kind != "calendar",
        calendar=_calendar_name(reader, fields.get("calendar"), calendars, default_calendar),
        pause_on=frozenset(_choices(reader, fields.get("pause_on"), "pause_on", [s.value for s in TicketStatus]))
        if "pause_on" in fields else frozenset({TicketStatus.PENDING.value}),
        warning=_warning(reader, fields.get("warn_before")),
    )


def _calendar_name(reader: Reader, node: yaml.Node | None, calendars: set[str], default: str) -> str:
    if node is None:
        return default
    name = reader.string(node, "calendar")
    if name is not None and name not in calendars:
        known = ", ".join(sorted(calendars)) or "none defined"
        reader.error(node, f"unknown calendar {name!r} (calendars: {known})")
    return name or default


def _words(reader: Reader, node: yaml.Node | None, what: str) -> list[str]:
    if node is None:
        return []
    items = reader.sequence(node, what) if not isinstance(node, yaml.ScalarNode) else [node]
    return [w for item in items if (w := reader.string(item, what)) is not None]


def _lines(reader: Reader, node: yaml.Node | None) -> list[int]:
    if node is None:
        return []
    items = reader.sequence(node, "lines") if not isinstance(node, yaml.ScalarNode) else [node]
    return [n for item in items if (n := reader.integer(item, "line", 1, 4)) is not None]


def _choices(reader: Reader, node: yaml.Node | None, what: str, options: list[str]) -> list[str]:
    if node is None:
        return []
    items = reader.sequence(node, what) if not isinstance(node, yaml.ScalarNode) else [node]
    return [c for item in items if (c := reader.choice(item, what, options)) is not None]


def _warning(reader: Reader, node: yaml.Node | None) -> WarnAt:
    if node is None:
        return DEFAULT_WARNING
    text = str(getattr(node, "value", "")).strip()
    match = re.fullmatch(r"(\d{1,2})\s*%", text)
    if match:
        return WarnAt(percent=int(match.group(1)))
    before = reader.duration(node, "warn_before (a percentage such as 20% or a duration such as 30m)")
    return WarnAt(before=before) if before is not None else DEFAULT_WARNING


def _check_names(reader: Reader, node: yaml.Node | None, policies: list[SlaPolicy | None]) -> None:
    seen: set[str] = set()
    items = node.value if isinstance(node, yaml.SequenceNode) else []
    for item, policy in zip(items, policies, strict=False):
        if policy is not None and policy.name in seen:
            reader.error(item, f"policy name {policy.name!r} is used twice")
        if policy is not None:
            seen.add(policy.name)
