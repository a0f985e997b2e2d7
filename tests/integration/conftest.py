"""A running mailhelpdesk (``rt``) on a fresh database of each engine."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings

MAILBOXES = [
    {"name": "support", "address": "support@example.com"},
    {"name": "billing", "address": "billing@example.com"},
]


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, mailboxes=MAILBOXES)


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    async with running(settings) as runtime:
        yield runtime


def ruled_settings(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path, rules: str,
                   **overrides: Any) -> Settings:
    """Settings of a desk whose rules file (written into ``tmp_path``) holds ``rules``."""
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    return make_settings(database_url, tmp_path, rules_file=path, **overrides)
