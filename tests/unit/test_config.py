"""Settings from a file, the environment and overrides; bad values are refused with a clear message."""

from pathlib import Path

import pytest

from mailhelpdesk.config import load_settings
from mailhelpdesk.errors import ConfigError


def test_parse_workers_default_to_one_on_a_multi_core_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(environ={})
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert settings.parse_worker_count() == 1
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert settings.parse_worker_count() == 0


def test_parse_workers_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mailhelpdesk.yaml"
    config.write_text("parse_workers: 3\n")
    assert load_settings(config, environ={}).parse_worker_count() == 3
    config.write_text("parse_workers: 0\n")
    assert load_settings(config, environ={}).parse_worker_count() == 0


@pytest.mark.parametrize(("text", "message"), [
    ("parse_workers: -1\n", "setting parse_workers: expected 0 or more, got -1"),
    ("parse_workers: many\n", "setting parse_workers: expected int, got 'many'"),
    ("parse_worker: 2\n", "unknown setting(s): parse_worker"),
])
def test_bad_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "mailhelpdesk.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={})
    assert str(raised.value) == message
