"""A real SMTP server in a thread (aiosmtpd's Controller): the relay the service under test sends to."""

import email
import email.policy
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class ThreadSink:
    """Records every message it accepts; ``wait_for`` blocks until a matching one arrives."""

    port: int = 0
    received: list[Delivered] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[Delivered]:
        with self.lock:
            return [d for d in self.received if address in d.rcpt_tos]

    def wait_for(self, match: Callable[[Delivered], bool], timeout: float = 30, what: str = "a mail") -> Delivered:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [d for d in self.received if match(d)]
            if found:
                return found[-1]
            time.sleep(0.05)
        with self.lock:
            seen = [(d.rcpt_tos, d.message["Subject"]) for d in self.received]
        pytest.fail(f"no {what} arrived within {timeout} s; the sink has: {seen}")


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def thread_sink() -> Iterator[ThreadSink]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = ThreadSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()  # raises if the port cannot be bound: the test fails, it never skips
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def serving(handler: Any, port: int) -> Iterator[None]:
    """An aiosmtpd server for ``handler`` on 127.0.0.1:``port``; failing to bind fails the test (never skips)."""
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout} s")
