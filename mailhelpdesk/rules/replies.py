"""The ``replies`` section: which automatic mails the desk sends, and when silence closes a ticket.

    replies:
      off: [assigned]          # automatic mails not to send (default: all are sent)
      close_after_days: 3      # business days after the closing request; 0 = never closes by itself
"""

from dataclasses import dataclass

import yaml

from mailhelpdesk.rules.source import Reader

# Sent by the desk itself as a ticket changes (docs/templates.md has the table of when).
CUSTOMER_MAILS = ("acknowledgement", "assigned", "escalated", "waiting_for_reply", "closing_request",
                  "closed_survey", "reopened")
AGENT_MAILS = ("agent_new_ticket", "agent_assigned", "agent_reopened", "agent_sla_warning", "agent_sla_breached",
               "agent_customer_replied", "agent_mention")
AUTOMATIC_MAILS = CUSTOMER_MAILS + AGENT_MAILS
_FIELDS = ("off", "close_after_days")
CLOSE_AFTER_DAYS = 3


@dataclass(frozen=True, slots=True)
class Replies:
    off: frozenset[str] = frozenset()
    close_after_days: int = CLOSE_AFTER_DAYS

    def sends(self, template: str) -> bool:
        return template not in self.off


def read_replies(reader: Reader, node: yaml.Node | None) -> Replies:
    if node is None:
        return Replies()
    fields = reader.mapping(node, "replies", _FIELDS) or {}
    off: set[str] = set()
    for item in reader.sequence(fields["off"], "replies.off") if "off" in fields else []:
        name = reader.choice(item, "a mail in replies.off", AUTOMATIC_MAILS)
        if name is not None:
            off.add(name)
    days = reader.integer(fields["close_after_days"], "replies.close_after_days", 0, 365) \
        if "close_after_days" in fields else None
    return Replies(frozenset(off), CLOSE_AFTER_DAYS if days is None else days)
