"""The customer status page behind the signed link in every customer mail."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime


@dataclass(frozen=True, slots=True)
class StatusPage:
    runtime: Runtime
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        return []
