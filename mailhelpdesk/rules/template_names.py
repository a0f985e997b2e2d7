"""The template names a rule's ``template:`` may use, for ``rules check``.

The customer and agent templates that ship with mailhelpdesk, plus an admin's own: files
``templates/email/<lang>/<name>.<part>.j2`` next to the rules file (kept in git with it), or
in the configured ``templates_dir``.
"""

from pathlib import Path

SHIPPED = frozenset((
    "acknowledgement", "assigned", "escalated", "waiting_for_reply", "reminder", "closing_request",
    "closed_survey", "reopened",  # to customers
    "agent_new_ticket", "agent_assigned", "agent_reopened", "agent_sla_warning", "agent_sla_breached",
    "agent_notify", "agent_customer_replied", "agent_mention", "agent_answer_needed",
    "agent_command_failed",  # to agents
))


def known_templates(templates_dir: Path) -> frozenset[str]:
    """The shipped names and the admin's, from ``templates_dir/email/<lang>/`` (partials excluded)."""
    own = (templates_dir / "email").glob("*/*.j2")
    return SHIPPED | {path.name.split(".", 1)[0] for path in own if not path.name.startswith("_")}
