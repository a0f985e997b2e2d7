"""Reading a YAML file node by node, keeping positions, so every problem reads ``file:line:column: message``.

A rules file is checked as a whole: readers collect problems and go on with what they
can read, so an admin sees all mistakes at once instead of one per run.
"""

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


@dataclass(slots=True)
class Reader:
    """Typed access to composed YAML nodes; wrong input becomes a ``Problem`` and a ``None`` value."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    included: list[Path] = field(default_factory=list)  # other files read (companies: file.yaml)
    _keys: dict[int, yaml.Node] = field(default_factory=dict)  # value node id -> its key node, for positions

    def error(self, node: yaml.Node | None, message: str) -> None:
        mark = getattr(node, "start_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.problems.append(Problem(self.path, line, column, message))

    def mapping(self, node: yaml.Node | None, what: str, allowed: Collection[str] = (),
                required: Collection[str] = ()) -> dict[str, yaml.Node] | None:
        """A mapping's entries by key; unknown keys (when ``allowed`` is given) and missing ones are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping")
            return None
        entries: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if allowed and name not in allowed:
                self.error(key, f"unknown field {name!r} in {what}{suggestion(name, allowed)}")
            elif name in entries:
                self.error(key, f"{name!r} appears twice in {what}")
            else:
                entries[name] = value
                self._keys[id(value)] = key
        for name in required:
            if name not in entries:
                self.error(node, f"{what} needs {name!r}")
        return entries

    def key_of(self, value: yaml.Node) -> yaml.Node:
        """The key node of a mapping value read by ``mapping`` (the value itself if unknown)."""
        return self._keys.get(id(value), value)

    def sequence(self, node: yaml.Node | None, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list")
            return []
        return list(node.value)

    def string(self, node: yaml.Node | None, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.error(node, f"{what} must be a non-empty text")
            return None
        return str(node.value).strip()

    def integer(self, node: yaml.Node | None, what: str, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        text = node.value if isinstance(node, yaml.ScalarNode) else ""
        if not re.fullmatch(r"-?\d+", str(text).strip()):
            self.error(node, f"{what} must be a whole number")
            return None
        value = int(text)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.error(node, f"{what} must be between {minimum} and {maximum}, not {value}")
            return None
        return value

    def boolean(self, node: yaml.Node | None, what: str) -> bool | None:
        text = str(node.value).strip().lower() if isinstance(node, yaml.ScalarNode) else ""
        if text in ("true", "yes", "on"):
            return True
        if text in ("false", "no", "off"):
            return False
        self.error(node, f"{what} must be true or false")
        return None

    def choice(self, node: yaml.Node | None, what: str, options: Collection[str]) -> str | None:
        text = self.string(node, what)
        if text is not None and text not in options:
            self.error(node, f"{what} must be one of {', '.join(sorted(options))}, not {text!r}"
                             f"{suggestion(text, options)}")
            return None
        return text

    def duration(self, node: yaml.Node | None, what: str) -> timedelta | None:
        """``90m``, ``4h``, ``1h30m``, ``2d`` (days of 24 hours), ``1w``."""
        text = str(node.value).strip().lower().replace(" ", "") if isinstance(node, yaml.ScalarNode) else ""
        value = parse_duration(text)
        if value is None:
            self.error(node, f"{what} must be a duration such as 30m, 4h, 1h30m, 2d or 1w, not {text!r}")
        return value


_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def parse_duration(text: str) -> timedelta | None:
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def suggestion(name: str, options: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def compose_file(path: Path, reader: Reader) -> yaml.Node | None:
    """The file's node tree; unreadable files and YAML syntax errors become problems."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reader.problems.append(Problem(path, 1, 1, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
        return None
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reader.problems.append(Problem(path, line, column, str(getattr(exc, "problem", None) or exc)))
        return None
