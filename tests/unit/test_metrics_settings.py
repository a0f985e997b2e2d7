"""The metrics token comes from the environment or a file, never the config file itself; a token a
scraper could not send, or could guess, is refused. Without a database a scrape still answers."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailhelpdesk.config import Settings, load_settings
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.metrics import Metrics

TOKEN = "s3cret-Token_for.metrics~0123"
SECRET = {"MAILHELPDESK_SECRET_KEY": "unit-test-secret-" + "x" * 32}


def settings(tmp_path: Path, config: str = "", **env: str) -> Settings:
    path = tmp_path / "mailhelpdesk.yaml"
    path.write_text(config or "{}\n")
    return load_settings(path, overrides={"data_dir": tmp_path}, environ={**SECRET, **env})


def test_no_token_by_default(tmp_path: Path) -> None:
    assert settings(tmp_path).metrics_token == ""


def test_the_token_from_a_file_named_in_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(f"{TOKEN}\n")
    assert settings(tmp_path, f"metrics_token_file: {tmp_path / 'token'}\n").metrics_token == TOKEN


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token-0123456789abcdef")
    found = settings(tmp_path, f"metrics_token_file: {tmp_path / 'token'}\n", MAILHELPDESK_METRICS_TOKEN=TOKEN)
    assert found.metrics_token == TOKEN


def test_the_token_is_never_in_the_settings_repr(tmp_path: Path) -> None:
    assert TOKEN not in repr(settings(tmp_path, MAILHELPDESK_METRICS_TOKEN=TOKEN))


def test_the_token_itself_is_not_a_config_file_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        settings(tmp_path, f"metrics_token: {TOKEN}\n")


@pytest.mark.parametrize(("token", "why"), [
    ("short-token", "too short to resist guessing"),
    ("with a space inside 0123456789", "not one word in a header"),
    ("пароль-для-метрик-0123456789", "not ASCII: a header carries bytes"),
])
def test_a_token_a_scraper_could_not_send_or_could_guess_is_refused(tmp_path: Path, token: str, why: str) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters") as raised:
        settings(tmp_path, MAILHELPDESK_METRICS_TOKEN=token)
    assert "MAILHELPDESK_METRICS_TOKEN" in str(raised.value), why
    assert token not in str(raised.value)  # an error message is printed: the secret must not be


def test_an_unreadable_token_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^setting metrics_token_file: cannot read .*missing"):
        settings(tmp_path, f"metrics_token_file: {tmp_path / 'missing'}\n")


async def test_without_a_database_the_scrape_says_so_and_keeps_its_own_metrics() -> None:
    metrics = Metrics(["support"])
    metrics.rules_evaluated(0.0002)
    text = (await metrics.scrape(datetime.now(UTC))).decode()
    names = {family.name: family for family in text_string_to_metric_families(text)}
    assert [s.value for s in names["mailhelpdesk_database_up"].samples] == [0]
    assert "mailhelpdesk_inbound_messages" not in names
    count = [s.value for s in names["mailhelpdesk_rule_evaluation_seconds"].samples if s.name.endswith("_count")]
    assert count == [1]
