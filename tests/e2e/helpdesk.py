"""Drive the real ``mailhelpdesk`` command line in a subprocess, one isolated installation per test."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET_KEY = "e2e-secret-key-" + "z" * 40
MAILBOXES = [
    {"name": "support", "address": "support@helpdesk.test"},
    {"name": "billing", "address": "billing@helpdesk.test", "team": "billing", "line": 2},
]
TIMEOUT = 300


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m mailhelpdesk``."""
    script = Path(sys.executable).with_name("mailhelpdesk")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mailhelpdesk"]


def cli_env() -> dict[str, str]:
    """The caller's environment without any MAILHELPDESK_* setting, plus our secret key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHELPDESK_")}
    env["MAILHELPDESK_SECRET_KEY"] = SECRET_KEY
    return env


@dataclass(frozen=True, slots=True)
class Run:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"$ mailhelpdesk {' '.join(self.args)}\n[exit {self.returncode}]\n"
                f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}")


_SUMMARY_LINE = re.compile(r"^([a-z -]+): (\d+)$")


def parse_summary(stdout: str) -> dict[str, int]:
    """``ingest``'s summary as {label: count}; the ``messages`` line gives its total."""
    summary: dict[str, int] = {}
    for line in stdout.splitlines():
        if match := _SUMMARY_LINE.match(line):
            summary[match.group(1)] = int(match.group(2))
        elif match := re.match(r"^messages: (\d+) in [\d.]+ s \([\d.]+ msgs/s\)$", line):
            summary["messages"] = int(match.group(1))
    return summary


class Helpdesk:
    """One installation: a config file, a data directory and a database under ``root``."""

    def __init__(self, root: Path, database_url: str | None = None, **settings: Any) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        self.database_url = database_url or f"sqlite://{self.data_dir / 'helpdesk.sqlite3'}"
        self.config = root / "config.yaml"
        self.configure(**settings)

    def configure(self, **settings: Any) -> None:
        """(Re)write the config file: our two mailboxes plus ``settings``."""
        self.config.write_text(yaml.safe_dump({"mailboxes": MAILBOXES, **settings}, sort_keys=False))

    @property
    def sqlite_path(self) -> Path:
        assert self.database_url.startswith("sqlite://")
        return Path(self.database_url.removeprefix("sqlite://"))

    def argv(self, *args: str) -> list[str]:
        return [*cli_command(), "--config", str(self.config), "--database-url", self.database_url,
                "--data-dir", str(self.data_dir), *args]

    def popen(self, *args: str, **kwargs: Any) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(self.argv(*args), cwd=self.root, env=cli_env(), **kwargs)

    def run(self, *args: str, expect: int | None = 0) -> Run:
        done = subprocess.run(self.argv(*args), cwd=self.root, env=cli_env(), capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
        result = Run(args, done.returncode, done.stdout, done.stderr)
        if expect is not None:
            assert result.returncode == expect, result.describe()
        return result

    def ingest(self, *paths: Path | str, mailbox: str | None = None) -> dict[str, int]:
        extra = ["--mailbox", mailbox] if mailbox else []
        result = self.run("ingest", *map(str, paths), *extra)
        summary = parse_summary(result.stdout)
        assert "messages" in summary and "tickets created" in summary, result.describe()
        return summary

    def export_text(self) -> str:
        out = self.root / f"export-{len(list(self.root.glob('export-*.jsonl')))}.jsonl"
        self.run("export", "--output", str(out))
        return out.read_text("utf-8")

    def export(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.export_text().splitlines()]

    def tickets(self) -> list[dict[str, Any]]:
        return [r for r in self.export() if r["type"] == "ticket"]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the SQLite database directly, read-only (never while a writer must not be disturbed)."""
        with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
            return list(conn.execute(sql).fetchall())


def summary_of(**counts: int) -> dict[str, int]:
    """An expected ingest summary: every figure 0 unless given (keys use underscores)."""
    labels = {
        "created": "tickets created", "threaded": "replies threaded", "auto_replies": "auto-replies recognised",
        "bounces": "bounces recognised", "ignored": "ignored", "quarantined": "quarantined",
        "duplicates": "duplicates skipped", "unreadable": "unreadable inputs",
        "automated": "automated mail among them",
    }
    unknown = set(counts) - set(labels) - {"messages"}
    assert not unknown, f"unknown summary keys {unknown}"
    expected = {label: counts.get(key, 0) for key, label in labels.items()}
    # "automated" counts again a share of the tickets and replies: not more messages.
    shares = ("messages", "automated")
    expected["messages"] = counts.get("messages", sum(v for k, v in counts.items() if k not in shares))
    return expected


def by_subject(tickets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["subject"]: t for t in tickets}
