"""The customer status page: one ticket for its customer, behind the signed link in every customer mail.

``GET /status/N/SIG`` shows ticket N in its customer's language: number, subject, status in
words, the times that matter to the customer, the public conversation (their mail and our
answers; never internal notes, agents' own mail or our automatic notices), and the survey once
the ticket is resolved or closed. ``POST /status/N/SIG`` takes a reply and an optional file and
turns them into a mail from the requester, which goes through the same intake as SMTP mail:
stored durably first, then processed by the pipeline, so it threads, reopens and notifies
exactly as if the customer had answered by mail.

The signature is the whole proof (customers have no login): it covers the ticket number and the
purpose "status", never expires, and a wrong, malformed or other ticket's signature is a 404 like
any unknown page. docs/status-page.md explains the choices.
"""

import mimetypes
import re
import secrets
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from email.utils import format_datetime as rfc5322_date
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.types import AnyCallable

from mailhelpdesk.app import Runtime
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.types import DONE_STATUSES, Direction, TicketStatus, Visibility
from mailhelpdesk.errors import ConfigError
from mailhelpdesk.mail.subjects import has_reply_prefix
from mailhelpdesk.outbound.compose import compose, usable_address, usable_message_id
from mailhelpdesk.outbound.context import SCORES, customer_zone
from mailhelpdesk.outbound.draft import Draft, OutboundFile
from mailhelpdesk.outbound.locale import format_datetime
from mailhelpdesk.store.mail_view import TicketView, ticket_view
from mailhelpdesk.store.models import INT4_MAX, Message, Rating
from mailhelpdesk.store.repository import TicketRef
from mailhelpdesk.store.sql import Sql

STATUS_PREFIX = "/status/"  # the panel's CSRF check skips it: the signed URL and the form token are the proof
MAX_UPLOAD = 10 * 1024 * 1024  # one file, as the customer chose it
MAX_REPLY = 10_000  # characters of reply text
REPLIES_PER_HOUR = 20  # per ticket: a leaked or scripted link cannot flood the pipeline
SOURCE = "web:status"  # the inbound rows' source: where the mail came from, and what the rate limit counts
# The reply text (at most 4 bytes a character, percent-escaping aside) and the multipart framing
# beside the file: a body larger than this is refused before it is read.
_MAX_BODY = MAX_UPLOAD + 4 * MAX_REPLY + 64 * 1024
_MAX_FILE_NAME = 100
# The deadlines a customer waits for; ``update_every`` is our own cadence of news, not a promise to them.
_SHOWN_DEADLINES = ("first_response", "next_response", "resolution")
_HOUR = timedelta(hours=1)

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your request", "request": "Request", "status": "Status", "expected": "What to expect",
        "first_response": "Our first answer by", "next_response": "Our next answer by",
        "resolution": "Solution expected by", "times_in": "Times are in the time zone",
        "conversation": "Conversation", "you": "You", "empty": "No messages yet.", "files": "Files",
        "reply": "Add a reply", "your_reply": "Your message", "file": "A file (optional, up to 10 MB)",
        "send": "Send", "sent": "Thank you. Your reply has been added to the request.",
        "reply_by_mail": "To add something, reply to any of our mails about this request.",
        "reopens": "If something is still not right, write a reply: the request opens again.",
        "merged": "This request was combined with another of your requests; we write to you about it by mail.",
        "survey": "How satisfied are you with our help?", "scale": "1 – very dissatisfied, 5 – very satisfied",
        "rated": "Your rating", "rate_again": "You can change it with another click.",
        "empty_reply": "Please write a message or choose a file.",
        "too_long": "The message is too long: at most 10,000 characters.",
        "too_large": "The file is too large: at most 10 MB. Please send a smaller one, or reply to our mail "
                     "with it.",
        "too_many": "Too many replies in the last hour. Please try again later, or reply to our mail.",
        "stale_form": "This form is out of date. Please reload the page and send your reply again.",
    },
    "ru": {
        "title": "Ваше обращение", "request": "Обращение", "status": "Статус", "expected": "Сроки",
        "first_response": "Наш первый ответ до", "next_response": "Наш следующий ответ до",
        "resolution": "Решение ожидается до", "times_in": "Время указано в часовом поясе",
        "conversation": "Переписка", "you": "Вы", "empty": "Сообщений пока нет.", "files": "Файлы",
        "reply": "Ответить", "your_reply": "Ваше сообщение", "file": "Файл (необязательно, до 10 МБ)",
        "send": "Отправить", "sent": "Спасибо! Ваш ответ добавлен к обращению.",
        "reply_by_mail": "Чтобы что-то добавить, ответьте на любое наше письмо по этому обращению.",
        "reopens": "Если что-то всё ещё не так, напишите ответ: обращение откроется снова.",
        "merged": "Это обращение объединено с другим Вашим обращением; о нём мы пишем Вам по почте.",
        "survey": "Насколько Вы довольны нашей помощью?", "scale": "1 – очень недовольны, 5 – очень довольны",
        "rated": "Ваша оценка", "rate_again": "Её можно изменить ещё одним нажатием.",
        "empty_reply": "Пожалуйста, напишите сообщение или выберите файл.",
        "too_long": "Сообщение слишком длинное: не более 10 000 символов.",
        "too_large": "Файл слишком большой: не более 10 МБ. Пожалуйста, отправьте файл поменьше или "
                     "ответьте с ним на наше письмо.",
        "too_many": "Слишком много ответов за последний час. Пожалуйста, попробуйте позже или ответьте "
                    "на наше письмо.",
        "stale_form": "Эта форма устарела. Пожалуйста, обновите страницу и отправьте ответ ещё раз.",
    },
}
_STATUS_WORDS: dict[str, dict[str, str]] = {
    "en": {"new": "Received, waiting for a specialist", "open": "In progress", "pending": "Waiting for your reply",
           "resolved": "Solved", "closed": "Closed"},
    "ru": {"new": "Получено, ожидает специалиста", "open": "В работе", "pending": "Ожидает Вашего ответа",
           "resolved": "Решено", "closed": "Закрыто"},
}


@dataclass(frozen=True, slots=True)
class ReplyForm:
    token: str = ""
    text: str = ""
    file: UploadFile | None = None


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One message as the customer sees it: ours under the mailbox's name, never an agent's address."""

    ours: bool
    author: str
    when: str
    text: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Expected:
    label: str
    due: str


class UploadTooLarge(Exception):
    """The chosen file is over ``MAX_UPLOAD`` (or the mail it makes is over ``max_message_bytes``)."""


@dataclass(slots=True)
class ReplyLimiter:
    """Replies taken from status pages per ticket in the last hour, counted as they are accepted.

    In memory, so that every reply counts, also one the pipeline then ignores or stores as a
    survey score (no message of the ticket remembers those); the page also counts the ticket's
    messages from status pages, so a restart does not reset the limit.
    """

    per_hour: int = REPLIES_PER_HOUR
    _taken: dict[int, deque[datetime]] = field(default_factory=dict)

    def used(self, ticket_id: int, now: datetime) -> int:
        taken = self._taken.get(ticket_id)
        while taken and taken[0] <= now - _HOUR:
            taken.popleft()
        return len(taken) if taken else 0

    def took(self, ticket_id: int, now: datetime) -> None:
        if len(self._taken) > 10_000:  # many links in use: forget the tickets quiet for an hour
            self._taken = {t: q for t, q in self._taken.items() if q and q[-1] > now - _HOUR}
        self._taken.setdefault(ticket_id, deque(maxlen=self.per_hour)).append(now)


@dataclass(frozen=True, slots=True)
class _Shown:
    """A ticket the signature opened, with what every rendering of its page needs."""

    ref: TicketRef
    signature: str
    view: TicketView
    language: str


@dataclass(frozen=True, slots=True)
class StatusPage:
    runtime: Runtime
    clock: Callable[[], datetime]
    limiter: ReplyLimiter = field(default_factory=ReplyLimiter)

    def handlers(self) -> list[AnyCallable]:
        page = self

        @get("/status/{number:int}/{signature:str}", name="status_page", exclude_from_auth=True)
        async def status_page(number: FromPath[int], signature: FromPath[str],
                              sent: FromQuery[str | None] = None) -> Template:
            shown = await page.open(number, signature)
            return await page.render(shown, notice="sent" if sent else "")

        # The form is read in the handler, not as a ``data`` parameter: a body over the limit is then
        # refused with this page in the customer's language (exception handlers cannot load a ticket).
        @post("/status/{number:int}/{signature:str}", exclude_from_auth=True, exclude_from_csrf=True,
              request_max_body_size=_MAX_BODY)
        async def status_reply(request: Request[Any, Any, Any], number: FromPath[int],
                               signature: FromPath[str]) -> Response[Any]:
            shown = await page.open(number, signature)  # before reading a byte of the body
            refused = await page.reply(shown, request)
            if refused is not None:
                return refused
            return Redirect(f"{_path(number, signature)}?sent=1", status_code=303)

        return [status_page, status_reply]

    async def open(self, number: int, signature: str) -> _Shown:
        """The ticket a signature opens; a 404 like any unknown page for everything else."""
        # The signature first: without it nothing is looked up, so guessing numbers learns nothing.
        if not (0 < number <= INT4_MAX and self.runtime.signer.status_valid(number, signature)):
            raise NotFoundException()
        ref = await self.runtime.repo.ticket_ref(number=number)
        view = await ticket_view(Sql(), ref.id) if ref is not None else None
        if ref is None or view is None:
            raise NotFoundException()
        return _Shown(ref, signature, view, _page_language(await self.runtime.notifier.customer_language(ref.id)))

    async def render(self, shown: _Shown, *, notice: str = "", error: str = "", status_code: int = 200) -> Template:
        view, language = shown.view, shown.language
        zone = customer_zone(view, self.runtime.rules())
        texts = _TEXTS[language]
        return Template("status.html.j2", status_code=status_code, context={
            "t": texts, "lang": language, "number": view.number, "subject": view.subject,
            "status": view.status, "status_words": _STATUS_WORDS[language].get(view.status, view.status),
            "merged": shown.ref.merged_into is not None, "notice": texts.get(notice, ""),
            "error": texts.get(error, ""), "expected": self._expected(view, zone, language),
            "zone": getattr(zone, "key", str(zone)), "thread": await self._thread(view, zone, language),
            "survey": await self._survey(view), "can_reply": _can_reply(shown),
            "action": _path(view.number, shown.signature),
            "token": self.runtime.signer.status_form_token(view.number), "max_reply": MAX_REPLY})

    async def reply(self, shown: _Shown, request: Request[Any, Any, Any]) -> Template | None:
        """Hand a reply to the intake as the requester's mail; the page with the reason if refused."""
        try:
            form = await read_form(request)
        except UploadTooLarge:
            return await self.render(shown, error="too_large", status_code=413)
        try:
            refused = await self._refused(shown, form)
            if refused:
                return await self.render(shown, error=refused[0], status_code=refused[1])
            raw = reply_mail(shown.view, self._mailbox(shown.view.mailbox), _clean_text(form.text),
                             await read_upload(form.file), self.clock())
            if len(raw) > self.runtime.settings.max_message_bytes:
                raise UploadTooLarge(f"the mail would be {len(raw)} bytes")
        except UploadTooLarge:
            return await self.render(shown, error="too_large", status_code=413)
        finally:
            await (await request.form()).close()  # the parsed form is kept: this closes every file it spooled
        intake = self.runtime.intake
        self.limiter.took(shown.view.id, self.clock())
        inbound_id, pending = await intake.accept(shown.view.mailbox, raw, f"{SOURCE}:{shown.view.number}")
        if pending:  # committed: from here on it is accepted mail, which recovery finishes if we stop now
            await intake.pipeline.process(inbound_id)
        return None

    async def _refused(self, shown: _Shown, form: ReplyForm) -> tuple[str, int] | None:
        """Why this reply is not taken (the text to show and the status), or None."""
        if not self.runtime.signer.status_form_valid(shown.view.number, form.token):
            return "stale_form", 403
        if not _can_reply(shown):
            return "reply_by_mail", 409
        if len(_clean_text(form.text)) > MAX_REPLY:
            return "too_long", 400
        if not _clean_text(form.text).strip() and not _chosen(form.file):
            return "empty_reply", 400
        if await self._replies_this_hour(shown.view.id) >= self.limiter.per_hour:
            return "too_many", 429
        return None

    async def _replies_this_hour(self, ticket_id: int) -> int:
        """The larger of this process's count and the ticket's messages from status pages in the
        last hour (which hold across restarts and other web processes). The messages are found
        by their ticket: a scan of ``inbound`` by source would read every stored mail."""
        now = self.clock()
        stored = await Message.filter(ticket_id=ticket_id, inbound__source__startswith=SOURCE,
                                      inbound__accepted_at__gt=now - _HOUR).count()
        return max(stored, self.limiter.used(ticket_id, now))

    def _expected(self, view: TicketView, zone: tzinfo, language: str) -> list[Expected]:
        """The deadlines still ahead that the customer waits for; none while we wait for them or are done."""
        if view.status in (*DONE_STATUSES, TicketStatus.PENDING.value):
            return []
        now = self.clock()
        return [Expected(_TEXTS[language][target], format_datetime(due, zone, language))
                for target in _SHOWN_DEADLINES if (due := view.dues.get(target)) is not None and due > now]

    async def _thread(self, view: TicketView, zone: tzinfo, language: str) -> list[ThreadEntry]:
        messages = await Message.filter(ticket_id=view.id, visibility=Visibility.PUBLIC.value).order_by(
            "date", "id").prefetch_related("attachments")
        box = self._mailbox(view.mailbox)
        entries = []
        for message in messages:
            ours = message.direction == Direction.OUTBOUND.value
            if ours and message.flags.get("automatic"):  # our notices: the status above says it better
                continue
            author = (box.display_name or box.name) if ours else _customer_name(message, view, language)
            entries.append(ThreadEntry(ours, author, format_datetime(message.date, zone, language),
                                       (message.reply_text or message.text).strip(),
                                       tuple(a.filename for a in message.attachments if not a.inline)))
        return entries

    async def _survey(self, view: TicketView) -> dict[str, Any] | None:
        """The survey's five links (the survey pages record the score) once the work is done."""
        if view.status not in DONE_STATUSES:
            return None
        signature = self.runtime.signer.survey_signature(view.number)
        rating = await Rating.get_or_none(ticket_id=view.id)
        return {"links": [{"score": s, "url": f"/survey/{view.number}/{signature}/{s}"} for s in SCORES],
                "score": rating.score if rating is not None else None}

    def _mailbox(self, name: str) -> MailboxSettings:
        settings = self.runtime.settings
        try:
            return settings.mailbox(name)
        except ConfigError:  # the mailbox left the configuration: as the notifier, use the default one
            return settings.mailbox(settings.default_mailbox)


def reply_mail(view: TicketView, box: MailboxSettings, text: str, upload: OutboundFile | None,
               now: datetime) -> bytes:
    """The reply as an RFC 5322 mail from the requester to the mailbox, threaded like a mail client's
    answer to our latest mail (``compose`` makes every customer-typed value safe as a header)."""
    thread = tuple(m for m in view.thread if usable_message_id(m))
    subject = view.subject if has_reply_prefix(view.subject) else f"Re: {view.subject}"
    domain = box.address.partition("@")[2] or "localhost"
    draft = Draft(
        from_name=view.requester.name, from_addr=view.requester.email,
        to=((box.display_name or box.name, box.address),), subject=f"{subject} [#{view.number}]",
        text=text, html="", message_id=f"web.{secrets.token_hex(12)}@{domain}", date=now,
        in_reply_to=thread[-1] if thread else "", references=thread,
        attachments=(upload,) if upload is not None else ())
    # Return-Path as a delivering MTA writes it: an empty or missing one would look like a bounce.
    trace = (f"Return-Path: <{view.requester.email}>\r\n"
             f"Received: from the status page by mailhelpdesk; {rfc5322_date(now)}\r\n")
    return trace.encode("ascii") + compose(draft)


async def read_form(request: Request[Any, Any, Any]) -> ReplyForm:
    """The posted form; ``UploadTooLarge`` when the body is over the handler's limit (announced or streamed)."""
    try:
        form = await request.form()
    except RequestEntityTooLarge as exc:
        raise UploadTooLarge(str(exc)) from exc
    token, text, file = form.get("token", ""), form.get("text", ""), form.get("file")
    return ReplyForm(token if isinstance(token, str) else "", text if isinstance(text, str) else "",
                     file if isinstance(file, UploadFile) else None)


async def read_upload(file: UploadFile | None) -> OutboundFile | None:
    """The chosen file with a name we made safe and a type from that name (the browser's is not trusted)."""
    if not _chosen(file):
        return None
    assert file is not None
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise UploadTooLarge(f"over {MAX_UPLOAD} bytes")
    name = safe_file_name(file.filename)
    content_type = mimetypes.guess_type(name, strict=True)[0] or "application/octet-stream"
    return OutboundFile(name, content_type, data)


def safe_file_name(name: str) -> str:
    """A file name as the customer's browser sent it, reduced to a last path part of printable characters.

    It only ever names the attachment in a mail (``compose`` encodes it); it never becomes a path here.
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name or ""))[-1]
    printable = "".join(ch if ch.isprintable() else "_" for ch in base).strip(" .")
    if not printable:
        return "attachment"
    stem, dot, ext = printable.rpartition(".")
    if len(printable) <= _MAX_FILE_NAME or not dot or len(ext) > 10:
        return printable[:_MAX_FILE_NAME]
    return f"{stem[:_MAX_FILE_NAME - len(ext) - 1]}.{ext}"  # keep the extension: it says what the file is


def _path(number: int, signature: str) -> str:
    return f"{STATUS_PREFIX}{number}/{signature}"


def _chosen(file: UploadFile | None) -> bool:
    """A file input left empty still sends a part, with no name."""
    return file is not None and bool(file.filename)


def _clean_text(text: str) -> str:
    """The reply with the browser's CRLF as plain newlines, as a mail client's text part reads back."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _can_reply(shown: _Shown) -> bool:
    """Replies go in as the requester's mail: not for a merged ticket (its mail lives on elsewhere) nor
    for an address ``compose`` cannot write (those customers answer by mail)."""
    return shown.ref.merged_into is None and usable_address(shown.view.requester.email)


def _customer_name(message: Message, view: TicketView, language: str) -> str:
    if message.from_addr.lower() == view.requester.email.lower():
        return _TEXTS[language]["you"]
    return message.from_name or message.from_addr  # a colleague on the thread, whom the customer knows


def _page_language(language: str) -> str:
    return language if language in _TEXTS else "en"
