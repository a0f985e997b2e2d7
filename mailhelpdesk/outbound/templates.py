"""Email templates: the admin's files over the shipped ones, rendered in a sandbox.

Templates are files ``email/<lang>/<name>.{subject,txt,html}.j2``. The admin's directory is
searched first, so any shipped file (a partial too) can be replaced by one with the same
path. Admin templates are code anyone with access to the rules repository can change, so
every template runs in Jinja's sandbox; HTML parts are autoescaped, as customer-written
subjects and names end up in them.
"""

import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
PARTS = ("subject", "txt", "html")
REQUIRED_PARTS = ("subject", "txt")  # html is optional: a text-only template sends text only


@dataclass(frozen=True, slots=True)
class Rendered:
    name: str
    language: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class RenderFailure:
    name: str
    language: str
    error: str


class Templates:
    """Finds and renders templates; ``roots`` are searched in order (the admin's first)."""

    def __init__(self, admin_dir: Path | None, shipped_dir: Path = SHIPPED_DIR) -> None:
        admin = admin_dir / "email" if admin_dir is not None else None
        self.roots = tuple(p for p in (admin, shipped_dir) if p is not None and p.is_dir())
        self._env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(str(root)) for root in self.roots]),
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=True,
        )

    def languages(self) -> list[str]:
        return sorted({p.name for root in self.roots for p in root.iterdir() if p.is_dir()})

    def names(self, language: str | None = None) -> list[str]:
        """Template names (not partials) in one language, or in any."""
        pattern = f"{language}/*.j2" if language else "*/*.j2"
        return sorted({p.name.split(".", 1)[0] for root in self.roots for p in root.glob(pattern)
                       if not p.name.startswith("_")})

    def has(self, name: str, language: str) -> bool:
        return all(self._exists(f"{language}/{name}.{part}.j2") for part in REQUIRED_PARTS)

    def language_for(self, name: str, wanted: Iterable[str]) -> str | None:
        """The first of ``wanted`` languages that has the template."""
        return next((lang for lang in dict.fromkeys(w for w in wanted if w) if self.has(name, lang)), None)

    def render(self, name: str, language: str, context: Mapping[str, Any]) -> Rendered | RenderFailure:
        variables = {**context, "lang": language}
        try:
            subject = self._part(name, language, "subject", variables)
            text = self._part(name, language, "txt", variables)
            html = self._part(name, language, "html", variables) if self._exists(
                f"{language}/{name}.html.j2") else ""
        except TemplateError as exc:
            return RenderFailure(name, language, _describe(exc))
        return Rendered(name, language, " ".join(subject.split()), text.strip() + "\n", html)

    def _part(self, name: str, language: str, part: str, variables: Mapping[str, Any]) -> str:
        return self._env.get_template(f"{language}/{name}.{part}.j2").render(variables)

    def _exists(self, path: str) -> bool:
        try:
            self._env.get_template(path)
        except TemplateNotFound:
            return False
        except TemplateError:
            return True  # it exists; rendering will report the problem
        return True


def _describe(exc: TemplateError) -> str:
    where, line = getattr(exc, "filename", None) or getattr(exc, "name", None), getattr(exc, "lineno", None)
    if not line:  # an error while rendering: Jinja puts the template's frame in the traceback
        where, line = _template_frame(exc) or (where, None)
    place = f"{where}:{line}: " if where and line else f"{where}: " if where else ""
    return f"{place}{type(exc).__name__}: {exc.message or exc}"


def _template_frame(exc: BaseException) -> tuple[str, int] | None:
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.endswith(".j2"):
            found = (frame.f_code.co_filename, line)
    return found
