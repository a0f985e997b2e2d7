"""The same command line on PostgreSQL: same tickets, same export as on SQLite."""

from pathlib import Path
from typing import Any

import pytest

from .helpdesk import Helpdesk, summary_of
from .mailbuild import huge_header, mail, write_thread


def without_acceptance_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "accepted_at"} for r in records]


@pytest.mark.postgres
def test_ingest_and_export_on_postgresql_match_sqlite(postgres_url: str, tmp_path: Path, inbox: Path) -> None:
    write_thread(inbox)
    # Values at the column limits, which PostgreSQL enforces and SQLite does not.
    (inbox / "8-long.eml").write_bytes(mail("Long " + "subject " * 300, sender=f"{'N' * 400} <long@initech.test>",
                                            message_id="long@initech.test", minute=40))
    (inbox / "9-header.eml").write_bytes(huge_header(1024 * 1024, sender="Hugo <hugo@initech.test>",
                                                     message_id="hdr@initech.test"))
    on_postgres = Helpdesk(tmp_path / "pg", database_url=postgres_url)
    on_sqlite = Helpdesk(tmp_path / "sqlite")
    expected = summary_of(created=3, threaded=1, auto_replies=2, bounces=1, ignored=1, quarantined=1)

    assert on_postgres.ingest(inbox) == expected
    assert on_sqlite.ingest(inbox) == expected
    exported = on_postgres.export()

    assert without_acceptance_time(exported) == without_acceptance_time(on_sqlite.export())
    long_ticket = next(r for r in exported if r.get("subject", "").startswith("Long subject"))
    assert len(long_ticket["subject"]) <= 998
    assert on_postgres.ingest(inbox) == summary_of(duplicates=expected["messages"])
