"""A reply that is just a digit 1–5 to the satisfaction survey is a score, not a new question.

It is stored on the ticket as a message and a rating; the ticket stays closed, and no rules
run for it. Anything more than the digit (a sentence, a second line) is a normal reply.
"""

import re
from dataclasses import dataclass

from mailhelpdesk.domain.outcomes import CONTINUE, Outcome
from mailhelpdesk.domain.types import TicketStatus
from mailhelpdesk.mail.reply_text import new_text
from mailhelpdesk.pipeline.context import MailContext
from mailhelpdesk.store.ratings import RatingStore

_SCORE = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def score_in(text: str) -> int | None:
    match = _SCORE.match(text)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class SurveyReplyStep:
    ratings: RatingStore
    name: str = "survey_reply"

    async def run(self, ctx: MailContext) -> Outcome:
        ticket = ctx.thread.ticket if ctx.thread else None
        if ctx.is_automatic or ctx.looks_automated or ticket is None or ticket.status != TicketStatus.CLOSED.value:
            return CONTINUE
        score = score_in(new_text(ctx.parsed.text))  # the writer's own words: a bottom-posted digit too
        if score is not None and await self.ratings.survey_sent(ticket.id):
            ctx.survey_score = score
        return CONTINUE
