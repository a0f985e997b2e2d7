"""The DSN of our own PostgreSQL connections (the scheduler lease, the migration lock) keeps the
URL's TLS options and drops the pool's own, which the server would refuse as settings."""

import pytest

from mailhelpdesk.store.db import asyncpg_dsn


@pytest.mark.parametrize(("url", "dsn"), [
    ("postgres://u:p@db:5432/mhd", "postgresql://u:p@db:5432/mhd"),
    ("postgres://u@db/mhd?minsize=2&maxsize=20", "postgresql://u@db/mhd"),
    ("postgres://u@db/mhd?sslmode=verify-full&sslrootcert=/etc/ca.pem&maxsize=5",
     "postgresql://u@db/mhd?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"),
    ("postgres://u@db/mhd?ssl=true", "postgresql://u@db/mhd?sslmode=require"),
    ("postgresql://u@db/mhd?ssl=false&application_name=x", "postgresql://u@db/mhd"),
])
def test_tls_options_are_kept_and_pool_options_dropped(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn
