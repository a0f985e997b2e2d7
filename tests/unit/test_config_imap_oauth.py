"""``auth: xoauth2`` for IMAP mailboxes: the token source is checked and kept, the token itself is
never read at start-up; each mistake names its key, and ``config check`` its line."""

import io
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.cli import main
from mailhelpdesk.config import load_settings
from mailhelpdesk.errors import ConfigError

ENV = {"MAILHELPDESK_SECRET_KEY": "k" * 40, "BILLING_IMAP": "imap-password-123"}

GOOD = """\
database_url: sqlite:///tmp/x.sqlite3
mailboxes:
  - name: billing
    address: billing@example.com
    imap:
      host: outlook.office365.com
      username: billing@example.com
      auth: xoauth2
      token_file: /run/mailhelpdesk/billing.token
"""


def imap_settings(**imap: Any) -> Any:
    box = {"name": "billing", "address": "billing@example.com",
           "imap": {"host": "imap.gmail.com", "username": "billing@example.com", **imap}}
    settings = load_settings(overrides={"mailboxes": [box], "database_url": "sqlite://:memory:"}, environ=ENV)
    return settings.mailboxes[0].imap


def test_password_is_the_default_and_needs_no_token() -> None:
    imap = imap_settings(password_env="BILLING_IMAP")
    assert (imap.auth, imap.password, imap.token_file, imap.token_command) == ("password", "imap-password-123", "",
                                                                               ())


def test_a_token_file_is_named_not_read(tmp_path: Path) -> None:
    """The refresher may write it after we start, and it changes every hour: it is read at each connection."""
    imap = imap_settings(auth="XOAUTH2", token_file=str(tmp_path / "not-yet"))
    assert (imap.auth, imap.token_file, imap.token_command, imap.password) == ("xoauth2", str(tmp_path / "not-yet"),
                                                                               (), "")


def test_a_token_command_is_split_like_a_shell_would_but_run_without_one() -> None:
    imap = imap_settings(auth="xoauth2", token_command="/usr/local/bin/oauth-helper --account 'billing desk' $HOME")
    assert imap.token_command == ("/usr/local/bin/oauth-helper", "--account", "billing desk", "$HOME")
    assert imap.token_file == ""


@pytest.mark.parametrize(("imap", "words"), [
    ({"auth": "oauth"}, "imap.auth: expected one of password, xoauth2, got 'oauth'"),
    ({"auth": "xoauth2"}, "imap.auth: auth: xoauth2 needs exactly one of token_file and token_command, got neither"),
    ({"auth": "xoauth2", "token_file": "/t", "token_command": "helper"},
     "imap.token_command: auth: xoauth2 needs exactly one of token_file and token_command, "
     "got token_file and token_command"),
    ({"auth": "xoauth2", "token_file": "/t", "password_env": "BILLING_IMAP"},
     "imap.password_env: auth: xoauth2 logs in with an OAuth token, not a password: password_env and "
     "password_file cannot be used with it"),
    ({"auth": "xoauth2", "token_command": "helper", "password_file": "/p"}, "imap.password_file: auth: xoauth2"),
    ({"token_file": "/t"}, "imap.token_file: only for auth: xoauth2"),
    ({"password_env": "BILLING_IMAP", "token_command": "helper"}, "imap.token_command: only for auth: xoauth2"),
    ({"auth": "xoauth2", "token_command": "helper 'unclosed"}, "imap.token_command: cannot split"),
    ({"auth": "xoauth2", "token_command": "   "}, "imap.token_command: expected a command, got an empty string"),
    ({"auth": "xoauth2", "token_command": ["helper", "--x"]}, "imap.token_command: expected a command line as one"),
])
def test_each_mistake_names_its_key(imap: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        imap_settings(**imap)
    assert str(raised.value).startswith("setting mailboxes[billing].")
    assert words in str(raised.value)


def check(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    code = main(["config", "check", str(path)], out, io.StringIO())
    return code, out.getvalue()


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace("auth: xoauth2", "auth: oauth2"), 8, "imap.auth: expected one of"),
    (GOOD.replace("      auth: xoauth2\n", ""), 8, "imap.token_file: only for auth: xoauth2"),
    (GOOD + "      password_env: BILLING_IMAP\n", 10, "imap.password_env: auth: xoauth2 logs in with an OAuth token"),
    (GOOD + "      token_command: oauth-helper\n", 10, "needs exactly one of token_file and token_command"),
    (GOOD.replace("      token_file: /run/mailhelpdesk/billing.token\n", ""), 8, "got neither"),
    (GOOD.replace("token_file: /run/mailhelpdesk/billing.token", "token_command: \"oauth-helper 'x\""), 9,
     "imap.token_command: cannot split"),
])
def test_config_check_names_the_line_of_the_key_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                                       line: int, words: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)

    code, out = check(path, monkeypatch)

    assert code == 1
    assert out.startswith(f"{path}:{line}: setting mailboxes[billing].imap."), out
    assert words in out


def test_config_check_accepts_a_token_file_not_written_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(GOOD)
    code, out = check(path, monkeypatch)
    assert code == 0, out


def test_config_show_names_the_token_source_never_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "billing.token"
    token.write_text("ya29.the-access-token\n")
    path = tmp_path / "settings.yaml"
    path.write_text(GOOD.replace("/run/mailhelpdesk/billing.token", str(token)) + "  - name: it\n"
                    "    address: it@example.com\n    imap:\n      host: imap.gmail.com\n"
                    "      username: it@example.com\n      auth: xoauth2\n"
                    "      token_command: oauth-helper --account it\n")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()

    assert main(["--config", str(path), "config", "show"], out, io.StringIO()) == 0
    mailboxes = next(line for line in out.getvalue().splitlines() if line.startswith("mailboxes = "))

    assert mailboxes.endswith(f"  # {path}:2")
    assert f"auth: 'xoauth2', token_file: '{token}', token_command: []" in mailboxes
    assert "token_file: '', token_command: ['oauth-helper', '--account', 'it']" in mailboxes
    assert "password: (not set)" in mailboxes
    assert "ya29.the-access-token" not in out.getvalue()
