"""Satisfaction ratings: one per ticket (a later score replaces the earlier), with the agent, line,
team and company it rates, copied from the ticket when the score arrives."""

from dataclasses import dataclass
from datetime import datetime

from mailhelpdesk.store.sql import Sql


@dataclass(frozen=True, slots=True)
class RatingRow:
    ticket_number: int
    score: int
    comment: str
    source: str
    agent: str
    line: int
    team: str
    company: str
    updated_at: datetime


class RatingStore:
    def __init__(self) -> None:
        self._sql = Sql()

    async def record(self, ticket_id: int, score: int, source: str, now: datetime, comment: str | None = None) -> None:
        """Store ``score`` for the ticket; ``comment`` None keeps an earlier comment."""
        updated = await self._sql.execute(
            'UPDATE "rating" SET "score" = ?, "source" = ?, "updated_at" = ?, "comment" = COALESCE(?, "comment")'
            ' WHERE "ticket_id" = ?', score, source, now, comment, ticket_id)
        if updated:
            return
        await self._sql.insert(
            'INSERT INTO "rating" ("ticket_id", "score", "comment", "source", "agent", "line", "team", "company_id",'
            ' "created_at", "updated_at") SELECT t."id", ?, ?, ?, t."assignee", t."line", t."team", t."company_id",'
            ' ?, ? FROM "ticket" t WHERE t."id" = ?', score, comment or "", source, now, now, ticket_id)

    async def comment(self, ticket_id: int, text: str, now: datetime) -> bool:
        return await self._sql.execute('UPDATE "rating" SET "comment" = ?, "updated_at" = ? WHERE "ticket_id" = ?',
                                       text, now, ticket_id) == 1

    async def score_of(self, ticket_id: int) -> tuple[int, str] | None:
        row = await self._sql.first('SELECT "score", "comment" FROM "rating" WHERE "ticket_id" = ?', ticket_id)
        return (int(row[0]), str(row[1])) if row else None

    async def survey_sent(self, ticket_id: int) -> bool:
        """Whether a survey went (or is going) to the customer: only then is a lone digit a score."""
        row = await self._sql.first(
            'SELECT 1 FROM "outbox" WHERE "ticket_id" = ? AND "template" = ? AND "status" IN (?, ?, ?) LIMIT 1',
            ticket_id, "closed_survey", "queued", "sending", "sent")
        return row is not None
