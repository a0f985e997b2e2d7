"""A wrong command line gets exactly one line on stderr and exit code 2: no usage dump, no traceback."""

import subprocess
from pathlib import Path

import pytest

from .helpdesk import Helpdesk, Run


def assert_one_line_usage_error(result: Run) -> None:
    assert result.returncode == 2, result.describe()
    assert result.stdout == "", result.describe()
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.describe()
    assert result.stderr.startswith("mailhelpdesk"), result.describe()
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr


@pytest.mark.parametrize(("args", "named"), [
    pytest.param(["frobnicate"], "'frobnicate'", id="unknown-command"),
    pytest.param(["tickets", "list", "--bogus"], "--bogus", id="unknown-option"),
    pytest.param(["--bogus", "tickets", "list"], "--bogus", id="unknown-global-option"),
    pytest.param(["tickets", "show", "abc"], "'abc'", id="non-numeric-ticket"),
    pytest.param(["tickets", "list", "--limit", "0"], "'0'", id="non-positive-limit"),
    pytest.param(["tickets", "list", "--status", "weird"], "'weird'", id="unknown-status"),
    pytest.param(["tickets"], "action", id="missing-action"),
])
def test_bad_arguments(helpdesk: Helpdesk, args: list[str], named: str) -> None:
    result = helpdesk.run(*args, expect=None)

    assert_one_line_usage_error(result)
    assert named in result.stderr
    assert not helpdesk.data_dir.exists(), "a rejected command line must not create anything"


def test_missing_config_file(helpdesk: Helpdesk) -> None:
    helpdesk.config.unlink()

    result = helpdesk.run("tickets", "list", expect=None)

    assert_one_line_usage_error(result)
    assert str(helpdesk.config) in result.stderr


def test_unknown_database_scheme(tmp_path: Path) -> None:
    helpdesk = Helpdesk(tmp_path / "helpdesk", database_url="mysqlish://localhost/helpdesk")

    result = helpdesk.run("tickets", "list", expect=None)

    assert_one_line_usage_error(result)
    assert "mysqlish" in result.stderr


def test_export_to_a_missing_directory(helpdesk: Helpdesk, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "export.jsonl"

    result = helpdesk.run("export", "--output", str(target), expect=None)

    assert_one_line_usage_error(result)
    assert str(target) in result.stderr


def test_ingest_of_a_path_that_does_not_exist_ingests_nothing(helpdesk: Helpdesk, tmp_path: Path) -> None:
    present = tmp_path / "present.eml"
    present.write_text("From: ann@acme.com\nSubject: Printer\nMessage-ID: <p1@acme.com>\n\nIt jams.\n")
    missing = tmp_path / "no-such-file.eml"

    result = helpdesk.run("ingest", str(present), str(missing), expect=None)

    assert_one_line_usage_error(result)
    assert result.stderr == f"mailhelpdesk: error: ingest: {missing}: no such file or directory\n"
    assert helpdesk.query("SELECT COUNT(*) FROM inbound") == [(0,)]
    assert helpdesk.query("SELECT COUNT(*) FROM ticket") == [(0,)]


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    """Not an argument error but an outage: still one line naming the problem, and a failure code."""
    # Port 1 on loopback: connection refused at once.
    helpdesk = Helpdesk(tmp_path / "helpdesk", database_url="postgres://nobody@127.0.0.1:1/helpdesk")

    result = helpdesk.run("tickets", "list", expect=None)

    assert result.returncode != 0, result.describe()
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.describe()


def test_output_cut_short_by_the_reader_is_not_an_error(helpdesk: Helpdesk, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for n in range(300):
        mail = f"From: u{n}@acme.com\nSubject: Request {n}\nMessage-ID: <m{n}@acme.com>\n\nhi\n"
        (inbox / f"{n}.eml").write_text(mail)
    helpdesk.ingest(inbox)
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    writer = helpdesk.popen("tickets", "list", "--limit", "300", stdout=reader.stdin, stderr=subprocess.PIPE)
    assert reader.stdin is not None
    reader.stdin.close()
    _, stderr = writer.communicate(timeout=60)
    reader.wait(timeout=60)

    assert writer.returncode == 0
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr
