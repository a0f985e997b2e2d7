"""The rules in force, read from the rules file when first needed and again when it changes."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailhelpdesk.errors import ConfigError
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.rules.source import Problem

_Stamp = tuple[tuple[int, int, int] | None, ...]


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a look at the rules file found: ``unchanged``, ``reloaded`` or ``refused`` (with problems)."""

    outcome: str
    problems: tuple[Problem, ...] = ()


class CurrentRules:
    """Call it for the current ``RuleSet``. Commands that process mail call ``load`` first, so
    a broken file stops them with its problems instead of failing on every message; a running
    service calls ``refresh`` now and then, and a broken edit leaves the last good rules in force."""

    def __init__(self, path: Path | None, templates_dir: Path | None = None) -> None:
        self._path, self._templates_dir = path, templates_dir
        self._rules: RuleSet | None = None
        self._stamp: _Stamp = ()
        # What the admin page shows: when the rules in force were read, which version of the file
        # (the start of its SHA-256), and the last refused edit.
        self.loaded_at: datetime | None = None
        self.version = ""
        self.refused_at: datetime | None = None
        self.refused: tuple[Problem, ...] = ()

    def __call__(self) -> RuleSet:
        if self._rules is None:
            self._rules = self.load()
        return self._rules

    def load(self) -> RuleSet:
        """Read the file now; a file with problems is refused with all of them (``ConfigError``)."""
        if self._path is None:
            self._rules = RuleSet(Path("(no rules file)"))
            return self._rules
        stamp = self._stamp_of((self._path,))
        result = load_rules(self._path, self._templates_dir)
        if result.rules is None:
            problems = "\n".join(str(p) for p in result.problems)
            raise ConfigError(f"the rules file has {len(result.problems)} problem(s):\n{problems}")
        self._rules, self._stamp = result.rules, stamp + self._stamp_of(result.rules.sources[1:])
        self._loaded()
        return self._rules

    def refresh(self) -> Refresh:
        """Read the files again if one of them changed since the last look."""
        if self._path is None or self._rules is None:
            return Refresh("unchanged")
        sources = (self._path, *self._rules.sources[1:])
        stamp = self._stamp_of(sources)
        if stamp == self._stamp:
            return Refresh("unchanged")
        self._stamp = stamp  # a refused file is not read again until it changes again
        result = load_rules(self._path, self._templates_dir)
        if result.rules is None:
            self.refused_at, self.refused = datetime.now(UTC), result.problems
            return Refresh("refused", result.problems)
        self._rules = result.rules
        self._loaded()
        self._stamp = stamp[:1] + self._stamp_of(result.rules.sources[1:])  # the main file as it was read
        return Refresh("reloaded")

    def _loaded(self) -> None:
        self.loaded_at, self.refused_at, self.refused = datetime.now(UTC), None, ()
        try:
            self.version = hashlib.sha256(self._path.read_bytes()).hexdigest()[:16] if self._path else ""
        except OSError:  # moved away since it was read: the rules stay, their version is unknown
            self.version = ""

    @staticmethod
    def _stamp_of(paths: tuple[Path, ...]) -> _Stamp:
        return tuple(_file_stamp(p) for p in paths)


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino
