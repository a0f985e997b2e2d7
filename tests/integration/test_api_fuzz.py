"""Schemathesis over the API's own OpenAPI schema, in process on each engine: valid and invalid
calls of every operation, with a real bearer token, and never a 5xx in answer (PostgreSQL is
where an id beyond its integer or a NUL in a text would become one).

Schemathesis drives an ASGI app from an event loop of its own, in another thread, while the
ORM keeps its connection in the context of the task that opened it. So the desk here opens
its runtime in the app's lifespan (which runs on that loop) and runs each request in a copy
of that context. The desk's numbering starts at 1, where the fuzzer's integers cluster, so
many calls reach real tickets, messages, attachments, companies and contacts.
"""

import asyncio
import contextvars
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from mailhelpdesk.app import running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, ingest, mail, new_message_id, reply_to

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULES = """
teams:
  dispatch: {line: 1}
agents:
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
"""
EXAMPLES = 30  # per operation: about twenty seconds for the thirteen of them, on each engine
# What ``seed`` makes: tickets 1 to 3 (the attachment is on #2), two companies, two contacts.
SEEDED = {"number": (1, 2, 3), "attachment_id": (1,), "company_id": (1, 2), "contact_id": (1, 2)}


class Desk:
    """The panel for schemathesis' ASGI client: the runtime lives as long as the app's lifespan."""

    def __init__(self, settings: Settings, token: str) -> None:
        self.settings = settings
        self.headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
        self._app: Any = None
        self._context = contextvars.Context()

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        request = self._app(scope, receive, send)
        await asyncio.get_running_loop().create_task(request, context=self._context.copy())

    async def _lifespan(self, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        await receive()  # lifespan.startup
        async with running(self.settings, clock=lambda: NOW) as runtime:
            runtime.rules.load()
            self._app = create_web_app(runtime, clock=lambda: NOW)
            self._context = contextvars.copy_context()  # holds the ORM's connections
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


async def seed(settings: Settings) -> str:
    """Tickets with a thread, an attachment and two companies; the token of an agent."""
    async with running(settings, clock=lambda: NOW) as runtime:
        runtime.rules.load()
        first = mail(date=NOW)
        await ingest(runtime, first)
        await ingest(runtime, reply_to(first, body="It smells of smoke too.\n", date=NOW))
        await ingest(runtime, with_attachment())
        await ingest(runtime, mail("VPN down", sender="Bob <bob@globex.ru>", date=NOW))
        return await AccountStore().create_token("oleg@example.com", "fuzz", NOW)


def with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann Example <ann@acme.com>", SUPPORT, "Invoice"
    msg["Date"], msg["Message-ID"] = format_datetime(NOW), new_message_id("ann@acme.com")
    msg.set_content("The invoice is attached.\n")
    msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes()


@pytest.fixture
def desk(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Iterator[Desk]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES, ticket_number_start=1,
                              mailboxes=[{"name": "support", "address": SUPPORT}])
    found = Desk(settings, asyncio.run(seed(settings)))
    yield found
    asgi.shutdown_lifespans()  # closes the database on the client's loop, which outlives the test


def test_no_call_gets_a_server_error(desk: Desk) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", desk, headers=desk.headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    calls: list[str] = []
    failures = [failure for operation in operations for failure in fuzz(operation, desk, calls)]
    assert len(operations) >= 13 and len(calls) >= len(operations) * EXAMPLES // 2, (len(operations), len(calls))
    assert failures == [], "\n\n".join(failures)


def fuzz(operation: schemathesis.APIOperation, desk: Desk, calls: list[str]) -> list[str]:
    """Valid and invalid calls of ``operation``; what failed, shrunk to the smallest case.

    (Not ``schemathesis.pytest.from_fixture``: its test wrapper reads a private attribute of
    pytest's test items that pytest 9.2 no longer has.)"""
    cases = st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode), on_seeded_rows(operation))

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def calls_of(case: schemathesis.Case) -> None:
        calls.append(operation.label)
        case.call_and_validate(headers=desk.headers, checks=[not_a_server_error])

    try:
        calls_of()
    except (AssertionError, BaseExceptionGroup) as failed:
        return [f"{operation.label}: {failed}"]
    return []


def on_seeded_rows(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Cases whose path names rows the seed made (random ids almost never do), valid and invalid
    in their other parts: bodies and queries reach the ticket service, not only the 404."""
    names = re.findall(r"{(\w+)}", operation.path)
    if not names:
        return st.nothing()
    rows = st.fixed_dictionaries({name: st.sampled_from(SEEDED[name]) for name in names})
    return st.one_of(*(rows.flatmap(lambda known, mode=mode: operation.as_strategy(mode, path_parameters=known))
                       for mode in GenerationMode))
