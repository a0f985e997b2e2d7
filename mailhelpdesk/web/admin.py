"""The admin pages: the loaded rules, quarantine, the outbox, the ingest backlog."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime


@dataclass(frozen=True, slots=True)
class Admin:
    runtime: Runtime
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        return []
