"""Canned replies: answers agents give again and again, as templates the admin keeps in git.

Shipped ones are in ``mailhelpdesk/templates/canned/<lang>/``; the admin's, in ``canned/<lang>/``
of the template directory (``templates_dir``), replace or add by file name. A canned reply is
a text (``<name>.txt.j2``) rendered with the ticket, its customer and the agent, in the
customer's language; the agent edits it in the reply form before sending.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from mailhelpdesk.store.models import Ticket

SHIPPED = Path(__file__).resolve().parent.parent / "templates" / "canned"
SUFFIX = ".txt.j2"


@dataclass(frozen=True, slots=True)
class CannedReplies:
    roots: tuple[Path, ...]  # searched in order: the admin's first
    default_language: str

    def names(self) -> list[str]:
        """Every canned reply's name, in any language."""
        found = {p.name.removesuffix(SUFFIX) for root in self.roots if root.is_dir()
                 for p in root.glob(f"*/*{SUFFIX}")}
        return sorted(found)

    async def render(self, name: str, ticket: Ticket, agent: Any, language: str) -> str:
        """The text of ``name`` for this ticket ('' if there is no such reply or it does not render)."""
        path = self._path(name, language) or self._path(name, self.default_language)
        if path is None:
            return ""
        requester = ticket.requester
        context = {"ticket": {"number": ticket.number, "subject": ticket.subject},
                   "customer": {"name": requester.preferred_name or requester.name or "", "email": requester.email},
                   "agent": {"name": agent.name or agent.email, "email": agent.email}}
        try:
            return SandboxedEnvironment(autoescape=False).from_string(path.read_text("utf-8")).render(context)
        except (TemplateError, OSError, UnicodeDecodeError) as exc:
            return f"(the canned reply {name!r} does not render: {exc})"

    def _path(self, name: str, language: str) -> Path | None:
        if not name.replace("_", "").replace("-", "").isalnum() or not language.isalpha():
            return None  # a name from a URL never walks the file system
        for root in self.roots:
            path = root / language / f"{name}{SUFFIX}"
            if path.is_file():
                return path
        return None
