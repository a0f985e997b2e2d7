"""A running mailhelpdesk (``rt``) on a fresh database of each engine."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

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
