"""The ``companies:`` section of a rules file (or of a file of its own), and ``companies seed``.

    companies:
      - name: Acme Corporation
        tier: vip                     # free-form segment; default "standard"
        domains: [acme.com, acme.co.uk]
        language: ru                  # optional: the language of our mail to its people
        timezone: Europe/Moscow       # optional: the time zone of times in that mail
    # or, to keep them apart:  companies: companies.yaml   (a file with its own companies: list)

Errors name ``file:line:column`` so an admin can fix them in their editor.
"""

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from mailhelpdesk.errors import SeedFileError
from mailhelpdesk.rules.source import Reader, compose_file


@dataclass(frozen=True, slots=True)
class CompanySeed:
    name: str
    tier: str
    domains: tuple[str, ...]
    language: str = ""
    timezone: str = ""


def load_company_seeds(path: Path) -> list[CompanySeed]:
    """The companies of a rules or companies file; every problem in one ``SeedFileError``."""
    reader = Reader(path)
    root = compose_file(path, reader)
    seeds: list[CompanySeed] = []
    if root is not None and not isinstance(root, yaml.MappingNode):
        reader.error(root, "expected a mapping at the top level")
    elif root is not None:
        seeds = read_companies(reader, _key(root, "companies"))
    if reader.problems:
        raise SeedFileError("\n".join(str(p) for p in reader.problems))
    return seeds


def read_companies(reader: Reader, node: yaml.Node | None) -> list[CompanySeed]:
    if node is None:
        return []
    if isinstance(node, yaml.ScalarNode) and str(node.value).strip().endswith((".yaml", ".yml")):
        return _from_file(reader, node)  # a separate file, relative to this one
    if not isinstance(node, yaml.SequenceNode):
        reader.error(node, "companies must be a list, or the name of a .yaml file that has one")
        return []
    pairs = [(item, seed) for item in node.value if (seed := _seed(reader, item))]
    _check_unique(reader, pairs)
    return [seed for _, seed in pairs]


def _from_file(reader: Reader, node: yaml.ScalarNode) -> list[CompanySeed]:
    path = reader.path.parent / str(node.value).strip()
    inner = Reader(path)
    reader.included.append(path)
    root = compose_file(path, inner)
    seeds = read_companies(inner, _key(root, "companies")) if isinstance(root, yaml.MappingNode) else []
    if isinstance(root, yaml.SequenceNode):
        seeds = read_companies(inner, root)
    reader.problems.extend(inner.problems)
    return seeds


def _key(node: yaml.MappingNode, name: str) -> yaml.Node | None:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return value  # type: ignore[no-any-return]
    return None


def _seed(reader: Reader, node: yaml.Node) -> CompanySeed | None:
    fields = reader.mapping(node, "a company", ("name", "tier", "domains", "language", "timezone"),
                            required=("name", "domains"))
    if fields is None or "name" not in fields or "domains" not in fields:
        return None
    name = reader.string(fields["name"], "company name")
    tier = reader.string(fields["tier"], "tier") if "tier" in fields else "standard"
    language = _language(reader, fields.get("language"))
    timezone = _timezone(reader, fields.get("timezone"))
    items = reader.sequence(fields["domains"], f"domains of {name or 'a company'}")
    if isinstance(fields["domains"], yaml.SequenceNode) and not items:
        reader.error(fields["domains"], "company needs a list of domains")
    domains = [d for item in items if (d := _domain(reader, item)) is not None]
    if name is None or tier is None or len(domains) != len(items) or language is None or timezone is None:
        return None
    return CompanySeed(name, tier, tuple(domains), language, timezone)


def _language(reader: Reader, node: yaml.Node | None) -> str | None:
    if node is None:
        return ""
    value = (reader.string(node, "language") or "").lower()
    if not value.isalpha() or not 2 <= len(value) <= 8:
        reader.error(node, f"language must be a code such as en or ru, not {getattr(node, 'value', '')!r}")
        return None
    return value


def _timezone(reader: Reader, node: yaml.Node | None) -> str | None:
    if node is None:
        return ""
    value = reader.string(node, "timezone") or ""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        reader.error(node, f"unknown time zone {value!r} (use a name such as Europe/Moscow)")
        return None
    return value


def _domain(reader: Reader, node: yaml.Node) -> str | None:
    value = str(node.value).strip().lower().lstrip(".") if isinstance(node, yaml.ScalarNode) else ""
    if "." not in value or "@" in value or " " in value:
        reader.error(node, f"not a domain: {getattr(node, 'value', '')!r}")
        return None
    return value


def _check_unique(reader: Reader, pairs: list[tuple[yaml.Node, CompanySeed]]) -> None:
    owner: dict[str, str] = {}
    names: set[str] = set()
    for node, seed in pairs:
        if seed.name in names:
            reader.error(node, f"company {seed.name!r} is listed twice")
        names.add(seed.name)
        for domain in seed.domains:
            if domain in owner and owner[domain] != seed.name:
                reader.error(node, f"domain {domain} already belongs to {owner[domain]}")
            owner[domain] = seed.name
