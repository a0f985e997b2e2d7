"""Parse upcoming messages in worker processes while this process stores the current one.

Parsing is pure CPU and a third of what a message costs; the rest waits on the database.
When the next messages are known in advance (a batch of files), a second core parses
them meanwhile and the parse step takes the result instead of parsing again. A worker
that dies only costs speed: its messages are parsed here, as without workers.
"""

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mailhelpdesk.mail.parse import ParsedMail, parse_mail

log = logging.getLogger(__name__)


class ParseAhead:
    """Submit raw bytes early with ``submit``; ``take`` the parsed mail when its turn comes.

    Messages go to the workers in chunks: a round trip through the pool costs about as much
    as parsing a small message.
    """

    CHUNK = 8
    CHUNK_BYTES = 4 * 1024 * 1024

    def __init__(self, workers: int, max_bytes: int) -> None:
        # "spawn": a fresh interpreter, not a fork of a process with database threads running.
        context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_exit_with_parent, initargs=(os.getpid(),)
        )
        self._max_bytes = max_bytes
        self._chunk: list[bytes] = []
        self._chunk_bytes = 0
        self._sent: dict[int, tuple[bytes, Future[list[ParsedMail]], int]] = {}

    def submit(self, raw: bytes) -> None:
        if self._pool is None or not 0 < len(raw) <= self._max_bytes:  # the parse step refuses these itself
            return
        self._chunk.append(raw)
        self._chunk_bytes += len(raw)
        if len(self._chunk) >= self.CHUNK or self._chunk_bytes >= self.CHUNK_BYTES:
            self._send()

    async def take(self, raw: bytes) -> ParsedMail | None:
        """The parsed mail for these bytes (the same object given to ``submit``), or None."""
        if any(r is raw for r in self._chunk):
            self._send()
        entry = self._sent.pop(id(raw), None)
        if entry is None or entry[0] is not raw:
            return None
        try:
            return (await asyncio.wrap_future(entry[1]))[entry[2]]
        except BrokenProcessPool:
            self._give_up()
            return None

    def forget(self) -> None:
        """Drop what was submitted and not taken (their parses finish unread)."""
        self._chunk, self._chunk_bytes, self._sent = [], 0, {}

    def close(self) -> None:
        pool, self._pool = self._pool, None
        self._chunk, self._sent = [], {}
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _send(self) -> None:
        chunk, self._chunk, self._chunk_bytes = self._chunk, [], 0
        if self._pool is None:
            return
        try:
            future = self._pool.submit(parse_all, chunk)
        except BrokenProcessPool:
            self._give_up()
            return
        for index, raw in enumerate(chunk):
            self._sent[id(raw)] = (raw, future, index)

    def _give_up(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            log.warning("a parse worker process died; parsing in the main process from now on")
            pool.shutdown(wait=False, cancel_futures=True)


def parse_all(raws: list[bytes]) -> list[ParsedMail]:
    """In a worker: parse a chunk of messages."""
    return [parse_mail(raw) for raw in raws]


def _exit_with_parent(parent_pid: int) -> None:
    """In a worker: end when the parent is gone (killed with -9, it cannot stop us itself)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
