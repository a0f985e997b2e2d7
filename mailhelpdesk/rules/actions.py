"""Actions of a rule's ``then``, registered by name.

    then:
      urgency: critical          # low, normal, high, critical
      line: 2                    # 1 dispatch, 2 specialists, 3 experts, 4 vendor
      team: network
      assignee: ivan@example.com
      tags: [outage]             # added to the ticket's tags
      status: open
      sla: VIP urgent            # use this SLA policy instead of the one by urgency and tier
      deadline: {resolution: 4h} # set a deadline (from now, in the policy's time), or shift one: {resolution: +2h}
      escalate: true             # to the next line
      notify: network            # mail the team
      template: acknowledgement  # send this template to the customer
      note: "Check the status page first"   # internal note on the ticket
      spam: true                 # ignore the mail, no ticket
      stop: true                 # no later rule runs for this event
"""

from dataclasses import dataclass

import yaml

from mailhelpdesk.domain.sla import TARGETS
from mailhelpdesk.domain.ticket import DeadlineChange
from mailhelpdesk.domain.types import TicketStatus, Urgency
from mailhelpdesk.rules.source import Reader, parse_duration, suggestion


@dataclass(frozen=True, slots=True)
class Action:
    """One action: ``kind`` names it, ``value`` is its parsed argument."""

    kind: str
    value: object


@dataclass(frozen=True, slots=True)
class Names:
    """What actions may refer to, for checking: teams, SLA policies, templates (None: not checked)."""

    teams: frozenset[str]
    policies: frozenset[str]
    templates: frozenset[str] | None = None


ACTIONS = ("urgency", "line", "team", "assignee", "tags", "status", "sla", "deadline", "escalate", "notify",
           "template", "note", "spam", "stop")


def read_then(reader: Reader, node: yaml.Node | None, what: str, names: Names) -> tuple[Action, ...]:
    if node is None:
        reader.error(node, f"{what} needs 'then'")
        return ()
    entries = reader.mapping(node, f"then of {what}", ACTIONS) or {}
    if isinstance(node, yaml.MappingNode) and not node.value:
        reader.error(node, f"{what}: 'then' has no actions")
    actions = (_action(reader, kind, value, names) for kind, value in entries.items())
    return tuple(a for a in actions if a is not None)


def _action(reader: Reader, kind: str, node: yaml.Node, names: Names) -> Action | None:
    value: object | None
    if kind == "urgency":
        value = reader.choice(node, "urgency", [u.value for u in Urgency])
    elif kind == "status":
        value = reader.choice(node, "status", [s.value for s in TicketStatus])
    elif kind == "line":
        value = reader.integer(node, "line", 1, 4)
    elif kind in ("team", "notify"):
        value = _known(reader, node, kind, names.teams, "teams")
    elif kind == "sla":
        value = _known(reader, node, "sla policy", names.policies, "sla policies")
    elif kind == "template":
        value = _known(reader, node, "template", names.templates, "templates") if names.templates is not None \
            else reader.string(node, "template")
    elif kind == "tags":
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        value = tuple(t.lower() for item in items if (t := reader.string(item, "tag")) is not None) or None
    elif kind == "deadline":
        value = _deadlines(reader, node)
    elif kind in ("escalate", "spam", "stop"):
        value = reader.boolean(node, kind)
    else:  # assignee, note
        value = reader.string(node, kind)
    return Action(kind, value) if value is not None else None


def _known(reader: Reader, node: yaml.Node, what: str, known: frozenset[str] | None, plural: str) -> str | None:
    name = reader.string(node, what)
    if name is not None and known is not None and name not in known:
        listed = ", ".join(sorted(known)) or "none defined"
        reader.error(node, f"unknown {what} {name!r}{suggestion(name, known)} ({plural}: {listed})")
        return None
    return name


def _deadlines(reader: Reader, node: yaml.Node) -> tuple[DeadlineChange, ...] | None:
    entries = reader.mapping(node, "deadline", TARGETS)
    changes = []
    for target, value in (entries or {}).items():
        text = str(getattr(value, "value", "")).strip().lower()
        amount = parse_duration(text.lstrip("+"))
        if amount is None:
            reader.error(value, f"deadline {target}: expected 4h (from now) or +2h (shift), not {text!r}")
            continue
        changes.append(DeadlineChange(target, amount, text.startswith("+")))
    return tuple(changes) or None
