"""The satisfaction survey's one-click links: no login, the link's signature is the proof.

``GET /survey/N/SIG/SCORE`` shows the score chosen with a button that sends it: nothing is
recorded by fetching a link, so the link scanners of mail systems (some of which run scripts)
record nothing; a score counts only after a deliberate click. ``POST /survey/N/SIG`` stores the
score and an optional comment; a later score replaces an earlier one, and the same answer sent
again records nothing new. A signature made for one ticket is refused for any other, and a
malformed one is a 404 like a wrong one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, FromPath
from litestar.response import Template
from litestar.types import AnyCallable

from mailhelpdesk.signing import Signer
from mailhelpdesk.store.repository import Repository, transaction
from mailhelpdesk.tickets.actor import Actor, Moment
from mailhelpdesk.tickets.service import TicketService

MAX_COMMENT = 4000
_TEXTS = {
    "en": {"title": "How did we do?", "chosen": "Your rating for request", "send": "Send my rating",
           "thanks": "Thank you! Your rating is saved.", "comment": "Anything you would like to add? (optional)",
           "send_comment": "Send comment", "comment_saved": "Thank you for your comment.",
           "scale": "1 – very dissatisfied, 5 – very satisfied"},
    "ru": {"title": "Как мы справились?", "chosen": "Ваша оценка по обращению", "send": "Отправить оценку",
           "thanks": "Спасибо! Ваша оценка сохранена.", "comment": "Хотите что-нибудь добавить? (необязательно)",
           "send_comment": "Отправить комментарий", "comment_saved": "Спасибо за Ваш комментарий.",
           "scale": "1 – очень недовольны, 5 – очень довольны"},
}


@dataclass(frozen=True, slots=True)
class SurveyForm:
    score: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Survey:
    signer: Signer
    repo: Repository
    service: TicketService
    language_of: Callable[[int], Any]  # ticket id → awaitable language of its customer
    clock: Callable[[], datetime]

    def handlers(self) -> list[AnyCallable]:
        survey = self

        @get("/survey/{number:int}/{signature:str}/{score:int}", name="survey_link", exclude_from_auth=True)
        async def survey_link(number: FromPath[int], signature: FromPath[str], score: FromPath[int]) -> Template:
            ticket_id = await survey._ticket(number, signature)
            _check_score(score)
            return await survey._page(ticket_id, number, signature, score, recorded=False)

        @post("/survey/{number:int}/{signature:str}", status_code=200, exclude_from_auth=True)
        async def survey_answer(number: FromPath[int], signature: FromPath[str],
                                data: Annotated[SurveyForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
                                ) -> Template:
            ticket_id = await survey._ticket(number, signature)
            _check_score(data.score)
            await survey._record(ticket_id, data)
            return await survey._page(ticket_id, number, signature, data.score, recorded=True,
                                      commented=bool(data.comment.strip()))

        return [survey_link, survey_answer]

    async def _ticket(self, number: int, signature: str) -> int:
        # The signature first: a number too large for the database is never looked up.
        valid = self.signer.survey_valid(number, signature)
        ref = await self.repo.ticket_ref(number=number) if valid else None
        if ref is None:
            raise NotFoundException("no such survey")  # the same answer for both: nothing to probe
        return ref.id

    async def _record(self, ticket_id: int, form: SurveyForm) -> None:
        comment = form.comment.strip()[:MAX_COMMENT] or None
        async with transaction():
            await self.service.rate(ticket_id, form.score, "link", Actor("customer"), Moment.of(self.clock()), comment)

    async def _page(self, ticket_id: int, number: int, signature: str, score: int, *, recorded: bool,
                    commented: bool = False) -> Template:
        language = await self.language_of(ticket_id)
        return Template("survey.html.j2", context={
            "t": _TEXTS.get(language, _TEXTS["en"]), "lang": language if language in _TEXTS else "en",
            "number": number, "score": score, "recorded": recorded, "commented": commented,
            "action": f"/survey/{number}/{signature}"})


def _check_score(score: int) -> None:
    if not 1 <= score <= 5:
        raise ValidationException("a score is 1 to 5")
