"""The systemd units in deploy/ start a command our command line accepts, and give the drain time."""

import configparser
import shlex
from pathlib import Path

import pytest

from mailhelpdesk.cli import build_parser
from mailhelpdesk.config import Settings
from mailhelpdesk.roles import ROLES

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize(("name", "instance"), [("mailhelpdesk.service", ""), ("mailhelpdesk@.service", "worker"),
                                                ("mailhelpdesk@.service", "web,sender")])
def test_each_unit_starts_serve_with_arguments_the_command_line_accepts(name: str, instance: str) -> None:
    service = _unit(name)["Service"]
    argv = shlex.split(service["ExecStart"].replace("%i", instance))
    assert argv[0].endswith("/mailhelpdesk")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve"
    expected = frozenset(instance.split(",")) if instance else None
    assert args.role == expected and (expected is None or expected <= set(ROLES))


@pytest.mark.parametrize("name", ["mailhelpdesk.service", "mailhelpdesk@.service"])
def test_systemd_waits_longer_than_the_drain_and_stops_with_sigterm(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > Settings().drain_seconds
    assert service["User"] != "root" and "/var/lib/mailhelpdesk" in service["ReadWritePaths"]
    assert service["Environment"] == "MAILHELPDESK_CONFIG=/etc/mailhelpdesk/mailhelpdesk.yaml"
