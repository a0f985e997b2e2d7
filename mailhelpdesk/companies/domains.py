"""Pure domain logic: which domains can identify a company, and what to call a new one."""

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Second-level labels under which registrations happen one level deeper (acme.co.uk).
_PUBLIC_SECOND_LEVEL = frozenset(("co", "com", "net", "org", "ac", "gov", "edu", "ltd", "plc", "or", "ne", "go"))


@dataclass(frozen=True, slots=True)
class FreemailList:
    exact: frozenset[str]
    any_tld: frozenset[str]  # "gmx" from "gmx.*"

    def contains(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        if domain in self.exact:
            return True
        for candidate in parent_domains(domain):
            if candidate in self.exact or (candidate.split(".", 1)[0] in self.any_tld and candidate.count(".") <= 2):
                return True
        return False


def parse_freemail(lines: Iterable[str]) -> FreemailList:
    exact: set[str] = set()
    any_tld: set[str] = set()
    for line in lines:
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if entry.endswith(".*"):
            any_tld.add(entry[:-2])
        else:
            exact.add(entry)
    return FreemailList(frozenset(exact), frozenset(any_tld))


def load_freemail(path: Path | None, extra: Iterable[str] = ()) -> FreemailList:
    """The shipped list, or the admin's file instead of it, plus extra entries."""
    if path is None:
        text = resources.files("mailhelpdesk.data").joinpath("freemail.txt").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return parse_freemail([*text.splitlines(), *extra])


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def parent_domains(domain: str) -> list[str]:
    """``a.b.example.com`` → [a.b.example.com, b.example.com, example.com] (never a bare TLD)."""
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def organisation_domain(domain: str) -> str:
    """The registrable part of a domain, by a small heuristic (no public-suffix download)."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _PUBLIC_SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def is_plausible_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and all(labels) and labels[-1].isalpha() and len(domain) <= 253
