"""The ticket page's forms: every one calls the ticket service, in one transaction, as the agent.

Nothing here writes ticket state: the service does (the one writer), exactly as for an
agent's mail or the command line. A refused action changes nothing and says why.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect
from litestar.types import AnyCallable

from mailhelpdesk.outbound.draft import OutboundFile
from mailhelpdesk.store.models import INT4_MAX
from mailhelpdesk.store.repository import transaction
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.changes import FieldChanges
from mailhelpdesk.tickets.service import ActionResult, Done, TicketService
from mailhelpdesk.web.flash import flash_redirect
from mailhelpdesk.web.pages import known_id, user_of

MAX_TEXT = 100_000
MAX_FILES_BYTES = 20 * 1024 * 1024  # what relays commonly accept in one mail, with room for encoding
Action = Callable[[TicketService, Actor, Moment], Awaitable[ActionResult]]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True, slots=True)
class TicketActions:
    service: TicketService
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        return [*self._writing(), *self._regrouping()]

    def _writing(self) -> list[AnyCallable]:
        """An answer, a note, the fields."""
        act = self._act

        @post("/tickets/{number:int}/reply", name="reply", request_max_body_size=MAX_FILES_BYTES + 1_000_000)
        async def reply(request: Request[Any, Any, Any], number: FromPath[int]) -> Redirect:
            # Read by hand: a browser sends an empty file field as a part without a file, which
            # a typed multipart body refuses.
            form = await request.form()
            files = await _files([v for v in form.getall("files", []) if isinstance(v, UploadFile)])
            if isinstance(files, str):
                return flash_redirect(f"/tickets/{number}", files, ok=False)
            text, status = str(form.get("text") or "")[:MAX_TEXT], str(form.get("status") or "")
            changes = FieldChanges(status=status or None)
            return await act(request, number, lambda s, a, m: s.reply(number, text, a, m, changes, files))

        @post("/tickets/{number:int}/note", name="note")
        async def note(request: Request[Any, Any, Any], number: FromPath[int], data: Form) -> Redirect:
            text = data.get("text", "")[:MAX_TEXT]
            return await act(request, number, lambda s, a, m: s.note(number, text, a, m))

        @post("/tickets/{number:int}/fields", name="fields")
        async def fields(request: Request[Any, Any, Any], number: FromPath[int], data: Form) -> Redirect:
            changes = field_changes(data)
            if isinstance(changes, str):
                return flash_redirect(f"/tickets/{number}", changes, ok=False)
            return await act(request, number, lambda s, a, m: s.set_fields(number, changes, a, m))

        return [reply, note, fields]

    def _regrouping(self) -> list[AnyCallable]:
        """Who follows the ticket, and which mail belongs to it."""
        act = self._act

        @post("/tickets/{number:int}/collaborators", name="collaborators")
        async def collaborators(request: Request[Any, Any, Any], number: FromPath[int], data: Form) -> Redirect:
            add, remove = _addresses(data.get("add", "")), _addresses(data.get("remove", ""))
            return await act(request, number, lambda s, a, m: s.collaborators(number, add, remove, a, m))

        @post("/tickets/{number:int}/merge", name="merge")
        async def merge(request: Request[Any, Any, Any], number: FromPath[int], data: Form) -> Redirect:
            into = data.get("into", "").strip().lstrip("#")
            if not into.isdigit() or not 0 < int(into) <= INT4_MAX:
                return flash_redirect(f"/tickets/{number}", "merge into: give a ticket number", ok=False)
            force = data.get("force") == "yes"
            return await act(request, number, lambda s, a, m: s.merge(number, int(into), a, m, force))

        @post("/tickets/{number:int}/split", name="split")
        async def split(request: Request[Any, Any, Any], number: FromPath[int], data: Form) -> Redirect:
            message = data.get("message", "")
            if not message.isdigit() or not 0 < int(message) <= INT4_MAX:
                return flash_redirect(f"/tickets/{number}", "split: no message chosen", ok=False)
            return await act(request, number, lambda s, a, m: s.split(number, int(message), a, m))

        return [collaborators, merge, split]

    async def _act(self, request: Request[Any, Any, Any], number: int, action: Action) -> Redirect:
        """Run ``action`` as the logged-in agent; back to the ticket it leaves (a merge's or split's
        new one) with what changed, or to this one with why nothing did."""
        actor = Actor.agent(user_of(request).email)
        known_id(number)
        async with transaction():
            result = await action(self.service, actor, Moment.of(self.clock()))
        if not isinstance(result, Done):
            return flash_redirect(f"/tickets/{number}", result.reason, ok=False)
        said = "; ".join(result.changes) or "saved"
        if result.outbox_id:
            said += "; the answer is queued to the customer"
        return flash_redirect(f"/tickets/{result.number}", said)


def field_changes(data: dict[str, str]) -> FieldChanges | str:
    """The fields form as changes (an empty field: leave it); a malformed line is the error text."""
    line = data.get("line", "").strip()
    if line and not line.isdigit():
        return f"line: a number from 1 to 4, not {line!r}"
    tags = tuple(f"+{t}" for t in _words(data.get("tags_add", ""))) + \
        tuple(f"-{t}" for t in _words(data.get("tags_remove", "")))
    # The form shows the current values, so a field sent unchanged changes nothing; an empty
    # assignee unassigns.
    return FieldChanges(status=data.get("status") or None, urgency=data.get("urgency") or None,
                        line=int(line) if line else None, team=data.get("team") or None,
                        assignee=data.get("assignee"), tags=tags)


async def _files(uploads: list[UploadFile]) -> list[OutboundFile] | str:
    """The uploaded files as attachments, or why they cannot go."""
    files, total = [], 0
    for upload in uploads:
        data = await upload.read()
        total += len(data)
        if total > MAX_FILES_BYTES:
            return f"the files are larger than {MAX_FILES_BYTES // (1024 * 1024)} MB together"
        if upload.filename or data:
            files.append(OutboundFile(_file_name(upload.filename), upload.content_type or "application/octet-stream",
                                      data))
    return files


def _file_name(name: str) -> str:
    """The last part of a browser-given path, without control characters; never trusted as a path."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:200] or "attachment"


def _addresses(text: str) -> list[str]:
    return [a for a in _words(text) if "@" in a]


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w][:50]
