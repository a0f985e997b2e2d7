"""Companies and contacts: seeded domains, subdomains, free-mail, auto-creation, seed errors."""

from collections.abc import Callable
from pathlib import Path

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.config import Settings
from mailhelpdesk.errors import SeedFileError
from mailhelpdesk.store.models import Company, CompanyDomain, Contact

from .conftest import MAILBOXES
from .mails import ingest, mail, ticket

SEED = """\
companies:
  - name: Acme Corporation
    tier: vip
    domains:
      - acme.com
      - acme.de
      - acme-corp.co.uk
  - name: Globex
    domains: [globex.example]
"""


@pytest.fixture
async def seeded(rt: Runtime, tmp_path: Path) -> Runtime:
    path = tmp_path / "companies.yaml"
    path.write_text(SEED)
    assert await seed_companies(rt, path) == 2
    return rt


async def company_of(number: int) -> str | None:
    company = (await ticket(number)).company
    return None if company is None else company.name


@pytest.mark.parametrize("sender", ["ann@acme.com", "hans@acme.de", "liz@acme-corp.co.uk",
                                    "ops@eu.acme.com", "root@srv1.dc2.acme.de"])
async def test_every_seeded_domain_and_subdomain_maps_to_the_company(seeded: Runtime, sender: str) -> None:
    number = await ingest(seeded, mail(sender=sender))

    assert await company_of(number) == "Acme Corporation"
    contact = await Contact.get(email=sender).prefetch_related("company")
    assert contact.company is not None and contact.company.name == "Acme Corporation"
    assert await Company.all().count() == 2  # nothing auto-created for a subdomain


async def test_seeding_sets_tier_and_is_repeatable(seeded: Runtime, tmp_path: Path) -> None:
    acme = await Company.get(name="Acme Corporation").prefetch_related("domains")
    assert acme.tier == "vip" and not acme.auto_created
    assert sorted(d.domain for d in acme.domains) == ["acme-corp.co.uk", "acme.com", "acme.de"]
    globex = await Company.get(name="Globex")
    assert globex.tier == "standard"

    assert await seed_companies(seeded, tmp_path / "companies.yaml") == 2
    assert await Company.all().count() == 2
    assert await CompanyDomain.all().count() == 4


async def test_seeding_adopts_an_auto_created_domain(rt: Runtime, tmp_path: Path) -> None:
    first = await ingest(rt, mail(sender="ann@acme.de"))
    assert await company_of(first) == "acme.de"

    path = tmp_path / "companies.yaml"
    path.write_text(SEED)
    await seed_companies(rt, path)

    second = await ingest(rt, mail("Another thing", sender="hans@acme.de"))
    assert await company_of(second) == "Acme Corporation"


@pytest.mark.parametrize("address", ["ann.private@gmail.com", "ivan@yandex.ru", "olga@mail.ru",
                                     "klaus@gmx.de", "pat@outlook.com", "kim@yahoo.co.uk", "lee@qq.com"])
async def test_freemail_senders_never_create_or_match_a_company(seeded: Runtime, address: str) -> None:
    number = await ingest(seeded, mail(sender=f"Someone <{address}>"))

    assert await company_of(number) is None
    contact = await Contact.get(email=address)
    assert contact.company_id is None  # type: ignore[attr-defined]
    assert await Company.all().count() == 2


async def test_freemail_cc_does_not_create_a_company(seeded: Runtime) -> None:
    number = await ingest(seeded, mail(cc="Friend <friend@gmail.com>, Partner <p@partner-firm.example>"))

    cc = {c.email: c for c in (await ticket(number)).cc}
    assert set(cc) == {"friend@gmail.com", "p@partner-firm.example"}
    assert cc["friend@gmail.com"].company_id is None  # type: ignore[attr-defined]
    assert set(await Company.all().values_list("name", flat=True)) == {
        "Acme Corporation", "Globex", "partner-firm.example"}


async def test_unknown_corporate_domain_creates_a_company_once(rt: Runtime) -> None:
    first = await ingest(rt, mail(sender="Ina <ina@initech.io>"))
    second = await ingest(rt, mail("Other issue", sender="Bill <bill@mail.eu.initech.io>"))

    assert await company_of(first) == await company_of(second) == "initech.io"
    company = await Company.get(name="initech.io").prefetch_related("domains")
    assert company.auto_created and company.tier == "standard"
    assert [d.domain for d in company.domains] == ["initech.io"]
    assert await Company.all().count() == 1


async def test_no_company_is_created_when_auto_creation_is_off(
    make_settings: Callable[..., Settings], database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, mailboxes=MAILBOXES, auto_create_companies=False)
    async with running(settings) as rt:
        number = await ingest(rt, mail(sender="Ina <ina@initech.io>"))

        assert await company_of(number) is None
        assert await Company.all().count() == 0
        assert (await Contact.get(email="ina@initech.io")).company_id is None  # type: ignore[attr-defined]


async def test_contacts_are_created_with_their_display_names(seeded: Runtime) -> None:
    await ingest(seeded, mail(sender="Jürgen Müller <juergen@acme.de>",
                              cc='"Doe, Jane" <jane@acme.com>, Анна Петрова <anna@globex.example>'))

    names = dict(await Contact.all().values_list("email", "name"))
    assert names == {"juergen@acme.de": "Jürgen Müller", "jane@acme.com": "Doe, Jane",
                     "anna@globex.example": "Анна Петрова"}


async def test_contact_name_is_filled_in_later_but_never_overwritten(rt: Runtime) -> None:
    await ingest(rt, mail(sender="ann@acme.com"))
    assert (await Contact.get(email="ann@acme.com")).name == ""

    await ingest(rt, mail("Second", sender="Ann Example <ANN@Acme.COM>"))
    await ingest(rt, mail("Third", sender="Somebody Else <ann@acme.com>"))

    assert await Contact.filter(email="ann@acme.com").count() == 1
    assert (await Contact.get(email="ann@acme.com")).name == "Ann Example"


@pytest.mark.parametrize(("text", "where", "message"), [
    ("companies:\n  - name: Acme\n    tier: vip\n    domain: acme.com\n", "4:5",
     "unknown field 'domain' in a company (did you mean 'domains'?)"),
    ("companies:\n  - name: Acme\n    domains:\n      - acme.com\n      - support@acme.com\n", "5:9",
     "not a domain"),
    ("companies:\n  - name: Acme\n    domains: [acme.com\n", "4:1", "expected ',' or ']'"),
    ("companies:\n  - tier: vip\n    domains: [acme.com]\n", "2:5", "a company needs 'name'"),
    ("companies:\n  - name: A\n    domains: [a.com]\n  - name: B\n    domains: [b.com, a.com]\n", "4:5",
     "domain a.com already belongs to A"),
    ("companies: acme.com\n", "1:12", "companies must be a list, or the name of a .yaml file that has one"),
])
async def test_seed_file_errors_name_file_line_and_column(
    rt: Runtime, tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "companies.yaml"
    path.write_text(text)

    with pytest.raises(SeedFileError) as caught:
        await seed_companies(rt, path)

    assert str(caught.value).startswith(f"{path}:{where}: ")
    assert message in str(caught.value)
    assert await Company.all().count() == 0  # an invalid file seeds nothing, not half of it
