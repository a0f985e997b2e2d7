"""Finding the settings file without flags, and ``config check`` naming the line of each problem."""

import io
from pathlib import Path

import pytest

from mailhelpdesk.cli import main
from mailhelpdesk.config import config_path, load_settings

GOOD = """\
database_url: sqlite:///tmp/x.sqlite3
mailboxes:
  - name: support
    address: support@example.com
  - name: billing
    address: billing@example.com
    imap:
      host: imap.example.com
      username: billing@example.com
      password_env: BILLING_IMAP
      port: 993
"""


def check(path: Path | None, monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    code = main(["config", "check", *([str(path)] if path else [])], out, io.StringIO())
    return code, out.getvalue()


def test_the_config_file_is_found_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_path(None, {}) is None
    (tmp_path / "mailhelpdesk.yaml").write_text("smtp_port: 2526\n")
    assert config_path(None, {}) == Path("mailhelpdesk.yaml")
    assert load_settings(environ={"MAILHELPDESK_SECRET_KEY": "k" * 40}).smtp_port == 2526
    other = tmp_path / "other.yaml"
    assert config_path(None, {"MAILHELPDESK_CONFIG": str(other)}) == other  # named beats found
    assert config_path(tmp_path / "flag.yaml", {"MAILHELPDESK_CONFIG": str(other)}) == tmp_path / "flag.yaml"


def test_a_good_file_is_summarised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(GOOD)

    code, out = check(path, monkeypatch, BILLING_IMAP="pw", MAILHELPDESK_SECRET_KEY="k" * 40)

    assert code == 0, out
    assert out == (f"{path}: OK; mailboxes: support <support@example.com>, billing <billing@example.com> "
                   "(IMAP billing@example.com@imap.example.com/INBOX); database: sqlite\n")
    assert "pw" not in out


@pytest.mark.parametrize(("broken", "line", "words"), [
    (GOOD.replace("port: 993", "port: many"), 11, "mailboxes[billing].imap.port"),
    (GOOD.replace("      password_env: BILLING_IMAP\n", "      password_env: NOT_SET_ANYWHERE\n"), 10,
     "environment variable NOT_SET_ANYWHERE is not set"),
    (GOOD.replace("    imap:\n", "    imap:\n      folders: [a]\n"), 7, "unknown key(s) folders"),
    (GOOD + "smtp_prot: 25\n", None, "unknown"),
    (GOOD + "      ca_file: /nonexistent/ca.pem\n", 12, "ca_file: no such file /nonexistent/ca.pem"),
    (GOOD.replace("  - name: support\n", "  - name: support\n   bad: [\n"), 4, ""),
])
def test_each_problem_names_its_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str,
                                              line: int | None, words: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(broken)

    code, out = check(path, monkeypatch, BILLING_IMAP="pw", MAILHELPDESK_SECRET_KEY="k" * 40)

    assert code == 1
    assert out.startswith(f"{path}:{line}:" if line else f"{path}:"), out
    assert words in out


def test_without_a_file_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILHELPDESK_CONFIG", raising=False)
    code, out = check(None, monkeypatch, MAILHELPDESK_SECRET_KEY="k" * 40)
    assert code == 0 and out.startswith("no config file") and "defaults: OK" in out


def test_show_names_each_settings_source_and_never_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mailhelpdesk.yaml").write_text(GOOD.replace("database_url: sqlite:///tmp/x.sqlite3\n", "")
                                                + "smtp_port: 2526\n")
    for name, value in {"MAILHELPDESK_WEB_PORT": "9000", "BILLING_IMAP": "imap-password-123",
                        "MAILHELPDESK_SECRET_KEY": "k" * 40,
                        "MAILHELPDESK_METRICS_TOKEN": "scrape-token-0123456789"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MAILHELPDESK_CONFIG", raising=False)
    out = io.StringIO()

    assert main(["config", "show"], out, io.StringIO()) == 0
    shown = out.getvalue()
    lines = shown.splitlines()

    assert "smtp_port = 2526  # mailhelpdesk.yaml:11" in lines, lines
    assert "web_port = 9000  # env MAILHELPDESK_WEB_PORT" in lines
    assert "secret_key = (set)  # env MAILHELPDESK_SECRET_KEY" in lines
    assert "subject_match_days = 30  # default" in lines
    assert "password: (set)" in shown
    assert "metrics_token = (set)  # env MAILHELPDESK_METRICS_TOKEN" in lines
    assert "imap-password-123" not in shown and "k" * 40 not in shown and "scrape-token" not in shown
