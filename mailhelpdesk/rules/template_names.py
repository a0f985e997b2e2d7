"""The template names a rule's ``template:`` may use, for ``rules check``.

The customer and agent templates that ship with mailhelpdesk, plus an admin's own: files
``templates/email/<lang>/<name>.<part>.j2`` next to the rules file, kept in git with it.
"""

from pathlib import Path

SHIPPED = frozenset((
    "acknowledgement", "assigned", "escalated", "waiting_for_reply", "reminder", "closing_request",
    "closed_survey", "reopened",  # to customers
    "agent_new_ticket", "agent_assigned", "agent_reopened", "agent_sla_warning", "agent_sla_breached",
    "agent_notify",  # to agents
))


def known_templates(rules_dir: Path) -> frozenset[str]:
    own = (rules_dir / "templates" / "email").glob("*/*.j2")
    return SHIPPED | {path.name.split(".", 1)[0] for path in own}
