"""serve waits for a signal or for a part of the service to end by itself, and tells which."""

import asyncio
import os
import signal

import pytest

from mailhelpdesk.server import _until_signal


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_a_part_that_ends_by_itself_is_named_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def lost() -> None:
        raise ConnectionError("the database went away for good")

    quiet = asyncio.create_task(_forever(), name="sender")
    failing = asyncio.create_task(lost(), name="worker")
    assert await _until_signal([quiet, failing]) == "worker"  # serve then drains and exits 1
    assert "worker stopped by itself (ConnectionError: the database went away for good)" in caplog.text
    quiet.cancel()


async def test_sigterm_ends_the_wait_with_no_part_named() -> None:
    part = asyncio.create_task(_forever(), name="worker")
    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(_until_signal([part]), 5) == ""  # serve drains and exits 0
    assert not part.done()
    part.cancel()
