"""``mailhelpdesk companies seed|list`` and seeding from the rules file."""

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mailhelpdesk.rules.companies import load_company_seeds
from mailhelpdesk.store.models import Company

if TYPE_CHECKING:  # importing the runtime loads the mail pipeline, which ``companies list`` does not need
    from mailhelpdesk.app import Runtime


async def seed_companies(runtime: "Runtime", path: Path) -> int:
    seeds = load_company_seeds(path)
    for seed in seeds:
        await runtime.repo.upsert_company(seed.name, seed.domains, seed.tier, seed.language,
                                                   seed.timezone)
    return len(seeds)


async def list_companies(out: TextIO) -> int:
    rows = await Company.all().order_by("name").prefetch_related("domains")
    for c in rows:
        domains = ", ".join(sorted(d.domain for d in c.domains))
        out.write(f"{c.name:<30} {c.tier:<10} {'auto' if c.auto_created else 'seeded':<6}  {domains}\n")
    return len(rows)
