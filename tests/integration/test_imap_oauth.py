"""IMAP mailboxes that log in with XOAUTH2 (Microsoft 365, Gmail), against a real Dovecot whose
oauth2 passdb asks a loopback introspection endpoint about each token: the token is read afresh
at every connection, from a file or a command, and never shows in output, state or logs."""

import base64
import io
import itertools
import logging
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.commands.fetch import fetch_mailboxes
from mailhelpdesk.commands.status import write_status
from mailhelpdesk.config import Settings
from mailhelpdesk.store.models import ImapFolderState, Ticket
from mailhelpdesk.store.service_status import read_status

from .dovecot import Dovecot, Introspection, running_dovecot, running_introspection
from .mails import mail
from .test_imap import Desk, desk_on

USERS = {f"oauth{n}": f"password-{n}" for n in range(1, 21)}
_users = itertools.count(1)



@pytest.fixture(scope="module")
def introspection() -> Iterator[Introspection]:
    with running_introspection() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def dovecot(introspection: Introspection) -> Iterator[Dovecot]:
    with running_dovecot(USERS, introspection_url=introspection.url) as server:
        yield server


@pytest.fixture
def user() -> str:
    """An IMAP account of its own for each test: the server lives for the whole module."""
    return f"oauth{next(_users)}"


@pytest.fixture
def desk(make_settings: Callable[..., Settings], sqlite_url: str, tmp_path: Path) -> Desk:
    return desk_on(make_settings, sqlite_url, tmp_path)


def oauth_box(server: Dovecot, user: str, **token_source: Any) -> dict[str, Any]:
    return {"name": "support", "address": "support@example.com",
            "imap": {"host": "127.0.0.1", "port": server.port, "security": "none", "username": user,
                     "auth": "xoauth2", **token_source}}


def new_token() -> str:
    return "ya29." + secrets.token_urlsafe(32)


def token_script(tmp_path: Path, body: str) -> str:
    """A token command (a command line) that runs this Python ``body``."""
    script = tmp_path / f"token-{secrets.token_hex(4)}.py"
    script.write_text(body)
    return shlex.join([sys.executable, str(script)])


async def fetch(runtime: Runtime) -> tuple[int, str]:
    out = io.StringIO()
    code = await fetch_mailboxes(runtime, None, out)
    return code, out.getvalue()


def customer_mail(n: int) -> bytes:
    return mail(f"VPN {n} is down", sender=f"Ann {n} <ann{n}@acme.com>", body=f"VPN {n} drops.\n")


async def test_a_token_file_logs_in_with_xoauth2(dovecot: Dovecot, introspection: Introspection, user: str,
                                                 desk: Desk, tmp_path: Path) -> None:
    token = new_token()
    introspection.accept_only({token: user})
    (tmp_path / "token").write_text(token + "\n")
    dovecot.append(user, customer_mail(1))

    async with desk(oauth_box(dovecot, user, token_file=str(tmp_path / "token"))) as runtime:
        code, out = await fetch(runtime)
        assert await Ticket.all().count() == 1

    assert code == 0, out
    assert out.startswith("support (INBOX): 1 new of 1 fetched")
    assert introspection.asked[-1] == token  # it logged in by token, not by a password


async def test_a_rewritten_token_file_is_read_again_at_the_next_connection(
        dovecot: Dovecot, introspection: Introspection, user: str, desk: Desk, tmp_path: Path) -> None:
    old, new = new_token(), new_token()
    token_file = tmp_path / "token"
    introspection.accept_only({old: user})
    token_file.write_text(old)
    dovecot.append(user, customer_mail(1))

    async with desk(oauth_box(dovecot, user, token_file=str(token_file))) as runtime:
        assert (await fetch(runtime))[0] == 0
        # The refresher renews the token and the provider revokes the old one.
        introspection.accept_only({new: user})
        token_file.write_text(new + "\n")
        dovecot.append(user, customer_mail(2))

        code, out = await fetch(runtime)
        assert await Ticket.all().count() == 2

    assert code == 0, out
    assert out.startswith("support (INBOX): 1 new of 1 fetched, last UID 2")
    assert introspection.asked[-1] == new


async def test_a_token_command_is_run_at_each_connection(dovecot: Dovecot, introspection: Introspection, user: str,
                                                         desk: Desk, tmp_path: Path) -> None:
    """Its first non-empty line, stripped, is the token."""
    first, second = new_token(), new_token()
    current = tmp_path / "current"
    command = token_script(tmp_path, f"import sys\nprint()\nprint('  ' + open({str(current)!r}).read() + '  ')\n"
                                     "print('a second line that is not the token')\n")
    dovecot.append(user, customer_mail(1))

    async with desk(oauth_box(dovecot, user, token_command=command)) as runtime:
        for token in (first, second):
            introspection.accept_only({token: user})
            current.write_text(token)
            code, out = await fetch(runtime)
            assert code == 0, out
            assert introspection.asked[-1] == token
        assert await Ticket.all().count() == 1


async def test_a_rejected_token_is_a_failed_fetch_that_never_shows_the_token(
        dovecot: Dovecot, introspection: Introspection, user: str, desk: Desk, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # imapclient's protocol trace included
    revoked = new_token()
    introspection.accept_only({})
    (tmp_path / "token").write_text(revoked)
    sent = base64.b64encode(f"user={user}\1auth=Bearer {revoked}\1\1".encode()).decode()

    async with desk(oauth_box(dovecot, user, token_file=str(tmp_path / "token"))) as runtime:
        code, out = await fetch(runtime)
        status = io.StringIO()
        write_status(await read_status(runtime.outbox), runtime.settings, status)
        state = await ImapFolderState.get(mailbox="support")

    assert code == 1
    assert out.startswith("support (INBOX): FAILED: cannot connect or log in: LoginError:")
    assert "authentication failed" in state.error.lower() and state.failures == 1
    assert "FAILING (1 in a row)" in status.getvalue()
    assert introspection.asked[-1] == revoked  # the server did see it: only we keep it quiet
    for shown in (out, state.error, status.getvalue(), caplog.text):
        assert revoked not in shown and sent not in shown


@pytest.mark.parametrize(("body", "words"), [
    ("import sys\nprint('ya29.partial-token')\nsys.stderr.write('invalid_grant: the refresh token expired\\n"
     "second line\\n')\nsys.exit(3)\n", "failed (exit code 3): invalid_grant: the refresh token expired"),
    ("print('   ')\n", "printed no token (exit code 0): nothing on stderr"),
    ("import time\nprint('ya29.partial-token', flush=True)\ntime.sleep(30)\n", "printed no token within 1 s"),
])
async def test_a_failing_token_command_is_a_failed_fetch_that_says_why(
        dovecot: Dovecot, introspection: Introspection, user: str, desk: Desk, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, body: str, words: str) -> None:
    asked = len(introspection.asked)
    box = oauth_box(dovecot, user, token_command=token_script(tmp_path, body), timeout=1)

    async with desk(box) as runtime:
        code, out = await fetch(runtime)
        state = await ImapFolderState.get(mailbox="support")

    assert code == 1
    assert out.startswith(f"support (INBOX): FAILED: cannot connect or log in: TokenUnavailable: "
                          f"token command {sys.executable} {words}"), out
    assert "second line" not in out and state.error in out
    assert "partial-token" not in out + caplog.text and "partial-token" not in state.error
    assert len(introspection.asked) == asked  # no login was tried without a token


@pytest.mark.parametrize(("command", "words"), [
    ("/nonexistent/oauth-helper --account support", "cannot run token command /nonexistent/oauth-helper: "
                                                    "No such file or directory"),
    (None, "cannot read token file {missing}: No such file or directory"),
])
async def test_a_missing_token_source_is_a_failed_fetch(dovecot: Dovecot, user: str, desk: Desk, tmp_path: Path,
                                                        command: str | None, words: str) -> None:
    missing = tmp_path / "not-written-yet"
    source = {"token_command": command} if command else {"token_file": str(missing)}

    async with desk(oauth_box(dovecot, user, **source)) as runtime:
        code, out = await fetch(runtime)

    assert code == 1
    assert f"FAILED: cannot connect or log in: TokenUnavailable: {words.format(missing=missing)}" in out


async def test_a_token_line_with_a_bearer_prefix_is_refused_before_login(
        dovecot: Dovecot, introspection: Introspection, user: str, desk: Desk, tmp_path: Path) -> None:
    token = new_token()
    introspection.accept_only({token: user})
    (tmp_path / "token").write_text(f"Bearer {token}\n")
    asked = len(introspection.asked)

    async with desk(oauth_box(dovecot, user, token_file=str(tmp_path / "token"))) as runtime:
        code, out = await fetch(runtime)

    assert code == 1
    assert f"TokenUnavailable: token file {tmp_path / 'token'} gave more than one word" in out
    assert token not in out and len(introspection.asked) == asked
