"""Search over tickets: full text of subjects and bodies, by sender, company, ticket number."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime


@dataclass(frozen=True, slots=True)
class Search:
    runtime: Runtime
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        return []
