"""The REST API under ``/api/v1``: agents' scripts and integrations, with a bearer token.

The auth middleware makes the token's agent ``request.user`` (``web/auth.py``), as a session
does for the panel. Reads go through the panel's stores; every action runs through the ticket
service in one transaction, as the agent, exactly as the panel's forms do (nothing here writes
ticket state). An action the service refuses changes nothing and answers 409 with the reason;
a value the rules file does not know (a team, an agent) answers 422 before anything runs. The
schema, built from the typed bodies of ``api_types``, is served at ``/api/v1/openapi.json``.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, patch, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from litestar.types import AnyCallable

from mailhelpdesk import __version__
from mailhelpdesk.outbound.draft import OutboundFile
from mailhelpdesk.store.models import INT4_MAX
from mailhelpdesk.store.queues import Filters, Queues, Viewer
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.tickets.service import Done, TicketService
from mailhelpdesk.web import api_reads as reads
from mailhelpdesk.web.api_types import (
    CURSOR,
    MAX_BASE64,
    NO_NUL,
    PAGE_MAX,
    ROW_ID_MAX,
    ActionOut,
    CollaboratorsIn,
    CompanyList,
    CompanyOut,
    ContactList,
    ContactOut,
    FieldsIn,
    FileIn,
    MergeIn,
    MessageList,
    NoteIn,
    Problem,
    QueueName,
    ReplyIn,
    SortName,
    SplitIn,
    TicketList,
    TicketOut,
    UrgencyName,
)
from mailhelpdesk.web.pages import user_of
from mailhelpdesk.web.ticket_actions import MAX_FILES_BYTES, Action
from mailhelpdesk.web.ticket_page import download

API = "/api/v1"
# A reply's body: its files in base64 (a CRLF is four characters in JSON), and its text with every
# character JSON-escaped at worst.
REPLY_BODY_MAX = MAX_BASE64 * 80 // 78 + 2_000_000

Number = Annotated[int, PathParameter(ge=0, le=INT4_MAX, description="the ticket's number")]
Id4 = Annotated[int, PathParameter(ge=1, le=INT4_MAX)]
Id8 = Annotated[int, PathParameter(ge=1, le=ROW_ID_MAX)]
Limit = Annotated[int, QueryParameter(ge=1, le=PAGE_MAX, description="rows per page")]
AfterId = Annotated[int, QueryParameter(ge=0, le=INT4_MAX, description="the `next` of the previous page")]
Cursor = Annotated[str, QueryParameter(max_length=400, pattern=CURSOR, description="the `next` of the previous page")]
CompanyId = Annotated[int | None, QueryParameter(ge=1, le=INT4_MAX, description="a company's id")]


class Conflict(HTTPException):
    """The ticket service refused the action: nothing changed."""

    status_code = 409


class Unprocessable(HTTPException):
    """A well-formed value the desk does not know (a team, an agent): nothing ran."""

    status_code = 422


class TooLarge(HTTPException):
    """The attachments exceed what one mail may carry."""

    status_code = 413


_ERRORS = {
    401: ResponseSpec(Problem, description="no valid bearer token", generate_examples=False),
    404: ResponseSpec(Problem, description="no such ticket, company, contact or attachment", generate_examples=False),
    409: ResponseSpec(Problem, description="refused by the ticket service; nothing changed", generate_examples=False),
    413: ResponseSpec(Problem, description="the attachments are too large together", generate_examples=False),
    422: ResponseSpec(Problem, description="a value the rules file does not know", generate_examples=False),
}


def _doc(tag: str, *errors: int) -> dict[str, Any]:
    """Route options of an API call: in the schema (the panel's pages are not), with its errors."""
    return {"include_in_schema": True, "tags": [tag], "responses": {code: _ERRORS[code] for code in (401, *errors)}}


def openapi_config() -> OpenAPIConfig:
    """The schema as JSON at ``/api/v1/openapi.json`` only: the UI pages Litestar can add load
    scripts from CDNs and inline, which the panel's Content-Security-Policy forbids.

    The schema's router is mounted at the document itself, not at ``/api/v1``: Litestar gives
    that router a catch-all that answers every unknown path below it with an HTML page, which
    an API client should not get for a mistyped URL (it gets the usual JSON 404)."""
    return OpenAPIConfig(
        title="mailhelpdesk", version=__version__, path=f"{API}/openapi.json",
        render_plugins=[JsonRenderPlugin(path="/")],
        description="The helpdesk's REST API: tickets, their threads and actions, companies and contacts.",
        components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        security=[{"bearer": []}], use_handler_docstrings=True)


@dataclass(frozen=True, slots=True)
class Api:
    service: TicketService
    clock: Callable[[], datetime]
    queues: Queues = field(default_factory=Queues)

    def handlers(self) -> list[AnyCallable]:
        return [*self._ticket_reads(), *self._actions(), *self._field_actions(), *_directory()]

    def _ticket_reads(self) -> list[AnyCallable]:
        api = self

        @get(f"{API}/tickets", **_doc("tickets"))
        async def list_tickets(request: Request[Any, Any, Any], queue: FromQuery[QueueName] = "open",
                               sort: FromQuery[SortName] = "due",
                               line: Annotated[int | None, QueryParameter(ge=1, le=4)] = None,
                               mailbox: Annotated[str, QueryParameter(max_length=100, pattern=NO_NUL)] = "",
                               company: CompanyId = None, urgency: FromQuery[UrgencyName | None] = None,
                               after: Cursor = "", limit: Limit = 50) -> TicketList:
            """A queue of the panel, a page at a time, with the panel's filters."""
            user, now = user_of(request), api.clock()
            found = await api.queues.page(queue, Viewer(user.email, user.teams), now, sort,
                                          Filters(line, mailbox, company, urgency or ""),
                                          reads.queue_cursor(sort, after), limit)
            return reads.ticket_list(found, sort, now)

        @get(f"{API}/tickets/{{number:int}}", **_doc("tickets", 404))
        async def read_ticket(number: Number) -> TicketOut:
            """A ticket's fields, people, deadlines and rating."""
            return await reads.ticket_out(number)

        @get(f"{API}/tickets/{{number:int}}/messages", **_doc("tickets", 404))
        async def list_messages(number: Number, after: Cursor = "", limit: Limit = 50) -> MessageList:
            """The thread, oldest first; our mail with what became of it."""
            return await reads.message_list(number, reads.message_cursor(after), limit)

        @get(f"{API}/tickets/{{number:int}}/attachments/{{attachment_id:int}}",
             media_type="application/octet-stream", **_doc("tickets", 404))
        async def read_attachment(number: Number, attachment_id: Id8) -> Response[bytes]:
            """The file as it came or went, always as a download."""
            return await download(number, attachment_id)

        return [list_tickets, read_ticket, list_messages, read_attachment]

    def _actions(self) -> list[AnyCallable]:
        act = self._act

        @post(f"{API}/tickets/{{number:int}}/reply", status_code=200, request_max_body_size=REPLY_BODY_MAX,
              **_doc("tickets", 404, 409, 413))
        async def reply(request: Request[Any, Any, Any], number: Number, data: JSONBody[ReplyIn]) -> ActionOut:
            """Answer the customer (and the ticket's cc) from the mailbox's address, as the token's agent."""
            files, changes = _files(data.attachments), FieldChanges(status=data.status)
            return await act(request, number, lambda s, a, m: s.reply(number, data.text, a, m, changes, files))

        @post(f"{API}/tickets/{{number:int}}/note", status_code=200, **_doc("tickets", 404, 409))
        async def note(request: Request[Any, Any, Any], number: Number, data: JSONBody[NoteIn]) -> ActionOut:
            """An internal note; ``@name`` tells that agent."""
            return await act(request, number, lambda s, a, m: s.note(number, data.text, a, m))

        @post(f"{API}/tickets/{{number:int}}/merge", status_code=200, **_doc("tickets", 404, 409))
        async def merge(request: Request[Any, Any, Any], number: Number, data: JSONBody[MergeIn]) -> ActionOut:
            """Merge this ticket into ``into``; tickets of different customers only with ``force``."""
            return await act(request, number, lambda s, a, m: s.merge(number, data.into, a, m, data.force))

        @post(f"{API}/tickets/{{number:int}}/split", status_code=200, **_doc("tickets", 404, 409))
        async def split(request: Request[Any, Any, Any], number: Number, data: JSONBody[SplitIn]) -> ActionOut:
            """One customer mail of the ticket into a new ticket of its own."""
            return await act(request, number, lambda s, a, m: s.split(number, data.message, a, m))

        return [reply, note, merge, split]

    def _field_actions(self) -> list[AnyCallable]:
        api, act = self, self._act

        @patch(f"{API}/tickets/{{number:int}}", **_doc("tickets", 404, 409, 422))
        async def change_ticket(request: Request[Any, Any, Any], number: Number, data: JSONBody[FieldsIn]) -> ActionOut:
            """Set status, urgency, line, team, assignee and tags; the rules and the SLA clock follow."""
            changes = api._checked(_field_changes(data))
            return await act(request, number, lambda s, a, m: s.set_fields(number, changes, a, m))

        @post(f"{API}/tickets/{{number:int}}/collaborators", status_code=200, **_doc("tickets", 404, 409, 422))
        async def collaborators(request: Request[Any, Any, Any], number: Number,
                                data: JSONBody[CollaboratorsIn]) -> ActionOut:
            """Agents who follow the ticket besides its assignee."""
            ruleset = api.service.rules()
            strangers = [a for a in (*data.add, *data.remove) if not ruleset.is_agent(a)]
            if strangers:
                raise Unprocessable(f"{', '.join(strangers)}: not a declared agent")
            return await act(request, number, lambda s, a, m: s.collaborators(number, data.add, data.remove, a, m))

        return [change_ticket, collaborators]

    def _checked(self, changes: FieldChanges) -> FieldChanges:
        """The service refuses these too; asked first, they are a 422 rather than a 409."""
        problems = changes.problems(self.service.rules())
        if problems:
            raise Unprocessable("; ".join(problems))
        return changes

    async def _act(self, request: Request[Any, Any, Any], number: int, action: Action) -> ActionOut:
        """Run ``action`` as the token's agent in one transaction; 404 for no such ticket, 409 with
        the service's reason when it refuses. The refusal is raised inside the transaction: the
        service decides before it writes, and if it ever did not, the rollback keeps the promise."""
        actor = Actor.agent(user_of(request).email)
        async with transaction():
            await reads.ticket_id(number)
            result = await action(self.service, actor, Moment.of(self.clock()))
            if not isinstance(result, Done):
                raise Conflict(result.reason)
        return ActionOut(result.number, list(result.changes), result.outbox_id or None)


def _directory() -> list[AnyCallable]:
    @get(f"{API}/companies", **_doc("directory"))
    async def list_companies(after: AfterId = 0, limit: Limit = 50) -> CompanyList:
        """Companies by id, with their mail domains."""
        return await reads.company_list(after, limit)

    @get(f"{API}/companies/{{company_id:int}}", **_doc("directory", 404))
    async def read_company(company_id: Id4) -> CompanyOut:
        """A company: tier, defaults, domains, and how many contacts and tickets it has."""
        return await reads.company_out(company_id)

    @get(f"{API}/contacts", **_doc("directory"))
    async def list_contacts(email: Annotated[str | None, QueryParameter(max_length=320, pattern=NO_NUL)] = None,
                            company: CompanyId = None, after: AfterId = 0, limit: Limit = 50) -> ContactList:
        """Contacts by id; ``email`` finds one by address, ``company`` those of a company."""
        return await reads.contact_list(after, limit, email, company)

    @get(f"{API}/contacts/{{contact_id:int}}", **_doc("directory", 404))
    async def read_contact(contact_id: Id4) -> ContactOut:
        """A contact and how our mail addresses them."""
        return await reads.contact_out(contact_id)

    return [list_companies, read_company, list_contacts, read_contact]


def _field_changes(data: FieldsIn) -> FieldChanges:
    added, removed = {t.lower() for t in data.tags_add}, {t.lower() for t in data.tags_remove}
    both = sorted(added & removed)
    if both:
        raise ValidationException(f"tags both added and removed: {', '.join(both)}")
    return FieldChanges(status=data.status, urgency=data.urgency, line=data.line, team=data.team,
                        assignee=data.assignee, tags=tuple(f"+{t}" for t in sorted(added))
                        + tuple(f"-{t}" for t in sorted(removed)))


def _files(attachments: list[FileIn]) -> list[OutboundFile]:
    """The attachments as files, within the size a relay takes in one mail."""
    files, total = [], 0
    for item in attachments:
        try:  # encoders often wrap lines: white space is not data
            data = base64.b64decode("".join(item.data_base64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationException(f"attachments: {item.filename!r} is not valid base64") from None
        total += len(data)
        if total > MAX_FILES_BYTES:
            raise TooLarge(f"the attachments are larger than {MAX_FILES_BYTES // (1024 * 1024)} MB together")
        files.append(OutboundFile(_file_name(item.filename), item.content_type, data))
    return files


def _file_name(name: str) -> str:
    """The last part of a client-given path, printable characters only: never trusted as a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:200] or "attachment"
