"""Read-only commands open the database and run their query: they build no mail pipeline.

A property of what a command imports, not a time (bench/cli_start_bench.py has the figures):
listing tickets must not load the pipeline, the templates or the ticket service.
"""

import json
import subprocess
import sys

import pytest

from .helpdesk import TIMEOUT, Helpdesk, cli_env
from .mailbuild import mail

FIRST_TICKET = "1000"
# What building the runtime loads; a read-only command needs none of it.
HEAVY = ("mailhelpdesk.app", "mailhelpdesk.pipeline.runner", "mailhelpdesk.tickets.service", "jinja2")
# argv: the modules to watch (JSON), then the command line.
PROBE = """
import json, sys
from mailhelpdesk.cli import main
code = main(sys.argv[2:])
print(json.dumps({"code": code, "loaded": sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Helpdesk:
    """One installation with one ticket, shared by the tests here: none of them changes it."""
    root = tmp_path_factory.mktemp("reads")
    helpdesk = Helpdesk(root / "helpdesk")
    (root / "first.eml").write_bytes(mail("Printer jam", sender="Ann Lee <ann@acme.test>",
                                          message_id="p1@acme.test", minute=0))
    helpdesk.ingest(root / "first.eml")
    return helpdesk


def run_in_process(helpdesk: Helpdesk, *args: str, watch: tuple[str, ...] = HEAVY) -> tuple[int, list[str], str]:
    """``main(args)`` in a fresh interpreter: its exit code, which of ``watch`` it loaded, and its output."""
    argv = ["--config", str(helpdesk.config), "--database-url", helpdesk.database_url,
            "--data-dir", str(helpdesk.data_dir), *args]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(watch), *argv], cwd=helpdesk.root,
                          env=cli_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    *output, last = done.stdout.splitlines()
    result = json.loads(last)
    return result["code"], result["loaded"], "\n".join(output)


@pytest.mark.parametrize("args", [
    ["tickets", "list"],
    ["tickets", "show", FIRST_TICKET],
    ["explain", FIRST_TICKET],
    ["export"],
    ["quarantine", "list"],
    ["companies", "list"],
    ["contacts", "show", "ann@acme.test"],
    ["outbox", "list"],
    ["migrate"],
    ["agents", "list"],
], ids=" ".join)
def test_a_read_only_command_loads_no_pipeline(desk: Helpdesk, args: list[str]) -> None:
    code, loaded, _ = run_in_process(desk, *args)

    assert code == 0
    assert loaded == []


def test_tickets_list_shows_the_ticket_without_the_pipeline(desk: Helpdesk) -> None:
    code, loaded, output = run_in_process(desk, "tickets", "list")

    assert (code, loaded) == (0, [])
    assert "Printer jam" in output and FIRST_TICKET in output


def test_agents_list_opens_no_database(desk: Helpdesk) -> None:
    code, loaded, _ = run_in_process(desk, "agents", "list", watch=("tortoise",))

    assert (code, loaded) == (0, [])


def test_a_command_that_processes_mail_builds_the_runtime(desk: Helpdesk) -> None:
    """The probe sees the pipeline when it is there: the tests above cannot pass for want of looking.
    (Nothing is in quarantine, so replaying all of it changes nothing.)"""
    code, loaded, _ = run_in_process(desk, "quarantine", "replay", "--all")

    assert code == 0
    assert "mailhelpdesk.pipeline.runner" in loaded and "jinja2" in loaded
