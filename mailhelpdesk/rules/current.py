"""The rules in force, read from the rules file when first needed."""

from pathlib import Path

from mailhelpdesk.errors import ConfigError
from mailhelpdesk.rules.ruleset import RuleSet, load_rules


class CurrentRules:
    """Call it for the current ``RuleSet``. Commands that process mail call ``load`` first, so
    a broken file stops them with its problems instead of failing on every message."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._rules: RuleSet | None = None

    def __call__(self) -> RuleSet:
        if self._rules is None:
            self._rules = self.load()
        return self._rules

    def load(self) -> RuleSet:
        """Read the file now; a file with problems is refused with all of them (``ConfigError``)."""
        if self._path is None:
            self._rules = RuleSet(Path("(no rules file)"))
            return self._rules
        result = load_rules(self._path)
        if result.rules is None:
            problems = "\n".join(str(p) for p in result.problems)
            raise ConfigError(f"the rules file has {len(result.problems)} problem(s):\n{problems}")
        self._rules = result.rules
        return self._rules
