"""Read the ``companies:`` section of a YAML file (rules file or a companies file).

Errors name ``file:line:column`` so an admin can fix them in their editor.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from mailhelpdesk.errors import SeedFileError


@dataclass(frozen=True, slots=True)
class CompanySeed:
    name: str
    tier: str
    domains: tuple[str, ...]


def load_company_seeds(path: Path) -> list[CompanySeed]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SeedFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        where = _where(path, getattr(exc, "problem_mark", None))
        raise SeedFileError(f"{where}: {getattr(exc, 'problem', exc)}") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise SeedFileError(_where(path, root.start_mark) + ": expected a mapping at the top level")
    section = _key(root, "companies")
    if section is None:
        return []
    if not isinstance(section, yaml.SequenceNode):
        raise SeedFileError(_where(path, section.start_mark) + ": companies must be a list")
    seeds = [_seed(path, node) for node in section.value]
    _check_unique(path, section, seeds)
    return seeds


def _key(node: yaml.MappingNode, name: str) -> yaml.Node | None:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return value  # type: ignore[no-any-return]
    return None


def _where(path: Path, mark: object) -> str:
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    return f"{path}:{line + 1}:{column + 1}" if line is not None and column is not None else str(path)


def _seed(path: Path, node: yaml.Node) -> CompanySeed:
    if not isinstance(node, yaml.MappingNode):
        raise SeedFileError(_where(path, node.start_mark) + ": each company must be a mapping")
    allowed = {"name", "tier", "domains"}
    for key, _ in node.value:
        if key.value not in allowed:
            raise SeedFileError(_where(path, key.start_mark) + f": unknown company field {key.value!r}")
    name = _key(node, "name")
    if not isinstance(name, yaml.ScalarNode) or not name.value.strip():
        raise SeedFileError(_where(path, node.start_mark) + ": company needs a name")
    tier = _key(node, "tier")
    domains = _key(node, "domains")
    if not isinstance(domains, yaml.SequenceNode) or not domains.value:
        raise SeedFileError(_where(path, (domains or node).start_mark) + ": company needs a list of domains")
    values = []
    for item in domains.value:
        value = str(item.value).strip().lower().lstrip(".") if isinstance(item, yaml.ScalarNode) else ""
        if "." not in value or "@" in value or " " in value:
            raise SeedFileError(_where(path, item.start_mark) + f": not a domain: {item.value!r}")
        values.append(value)
    tier_value = tier.value.strip() if isinstance(tier, yaml.ScalarNode) and tier.value.strip() else "standard"
    return CompanySeed(name.value.strip(), tier_value, tuple(values))


def _check_unique(path: Path, section: yaml.SequenceNode, seeds: list[CompanySeed]) -> None:
    owner: dict[str, str] = {}
    for node, seed in zip(section.value, seeds, strict=True):
        for domain in seed.domains:
            if domain in owner and owner[domain] != seed.name:
                raise SeedFileError(
                    _where(path, node.start_mark) + f": domain {domain} already belongs to {owner[domain]}"
                )
            owner[domain] = seed.name
