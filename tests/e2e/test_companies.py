"""``mailhelpdesk companies seed|list``: seeded companies and tiers reach the tickets."""

import re
from pathlib import Path

from .helpdesk import Helpdesk, by_subject, summary_of
from .mailbuild import mail

SEED = """\
# Customers with a contract.
companies:
  - name: Acme Corporation
    tier: vip
    domains: [acme.test, acme-corp.test]
  - name: Globex
    domains:
      - globex.test
"""


def test_seeded_companies_and_tiers_are_linked_to_tickets(helpdesk: Helpdesk, inbox: Path) -> None:
    seed = inbox.parent / "companies.yaml"
    seed.write_text(SEED)
    assert helpdesk.run("companies", "seed", str(seed)).stdout == f"2 companies seeded from {seed}\n"
    mails = {
        "a.eml": mail("Subdomain", sender="Ann <ann@sales.acme.test>", message_id="a@acme.test"),
        "b.eml": mail("Second domain", sender="Al <al@acme-corp.test>", message_id="b@acme.test", minute=1),
        "c.eml": mail("Standard tier", sender="Bob <bob@globex.test>", message_id="c@globex.test", minute=2),
        "d.eml": mail("Free mail", sender="Carl <carl.c@gmail.com>", message_id="d@gmail.com", minute=3),
        "e.eml": mail("Unknown company", sender="Dan <dan@newco.test>", message_id="e@newco.test", minute=4),
    }
    for name, raw in mails.items():
        (inbox / name).write_bytes(raw)

    assert helpdesk.ingest(inbox) == summary_of(created=5)

    tickets = by_subject(helpdesk.tickets())
    acme = {"name": "Acme Corporation", "domains": ["acme-corp.test", "acme.test"], "tier": "vip"}
    assert tickets["Subdomain"]["company"] == acme
    assert tickets["Second domain"]["company"] == acme
    assert tickets["Standard tier"]["company"] == {"name": "Globex", "domains": ["globex.test"], "tier": "standard"}
    assert tickets["Free mail"]["company"] is None
    assert tickets["Unknown company"]["company"] == {"name": "newco.test", "domains": ["newco.test"],
                                                     "tier": "standard"}
    listed = [line.split() for line in helpdesk.run("companies", "list").stdout.splitlines()]
    assert listed == [
        ["Acme", "Corporation", "vip", "seeded", "acme-corp.test,", "acme.test"],
        ["Globex", "standard", "seeded", "globex.test"],
        ["newco.test", "standard", "auto", "newco.test"],
    ]


def test_seed_file_errors_name_file_line_and_column(helpdesk: Helpdesk, tmp_path: Path) -> None:
    bad_domain = tmp_path / "bad-domain.yaml"
    bad_domain.write_text("companies:\n  - name: Good Ltd\n    domains: [good.test]\n"
                          '  - name: Acme\n    domains: [acme.test, "not a domain"]\n')
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("companies:\n  - name: Acme\n    domains: [acme.test\n  - name: Other\n")

    first = helpdesk.run("companies", "seed", str(bad_domain), expect=2)
    second = helpdesk.run("companies", "seed", str(broken_yaml), expect=2)

    assert first.stderr.startswith(f"mailhelpdesk: error: {bad_domain}:5:26: ")
    assert "not a domain" in first.stderr
    assert re.fullmatch(rf"mailhelpdesk: error: {re.escape(str(broken_yaml))}:\d+:\d+: [^\n]+\n", second.stderr)
    for result in (first, second):
        assert result.stdout == "" and result.stderr.count("\n") == 1, result.describe()
    assert helpdesk.run("companies", "list").stdout == ""  # nothing half-seeded
