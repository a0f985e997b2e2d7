"""Fixtures for the e2e tests: an isolated mailhelpdesk installation per test."""

from pathlib import Path

import pytest

from .helpdesk import Helpdesk


@pytest.fixture
def helpdesk(tmp_path: Path) -> Helpdesk:
    """A fresh installation on SQLite under ``tmp_path`` (config, data dir, database)."""
    return Helpdesk(tmp_path / "helpdesk")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A directory for the mail files a test writes."""
    path = tmp_path / "inbox"
    path.mkdir()
    return path
