"""``mailhelpdesk serve`` as a subprocess for the e2e tests that start, stop and kill it."""

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from .helpdesk import Helpdesk


class Serve:
    """``mailhelpdesk serve`` in a subprocess, its output in a file."""

    def __init__(self, desk: Helpdesk, name: str, *args: str) -> None:
        self.log_path = desk.root / f"serve-{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = desk.popen("serve", *args, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, port: int, timeout: float = 30) -> None:
        until(lambda: self._listening(port), timeout, lambda: f"serve never listened on {port}:\n{self.output()}")

    def _listening(self, port: int) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"serve exited with {self.proc.returncode}:\n{self.output()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


def until(check: Callable[[], bool], timeout: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(why())
        time.sleep(0.1)


def setting(desk: Helpdesk, key: str) -> int:
    return int(yaml.safe_load(desk.config.read_text())[key])


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one query on PostgreSQL, read from the test process while serve runs."""
    import asyncpg  # type: ignore[import-untyped]

    async def fetch() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(r) for r in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(fetch())
