"""Agents' panel accounts: password hashes, browser sessions and API tokens.

Agents themselves are declared in the rules file; these tables only hold what the panel needs
to recognise them. Session cookies and API tokens are random; the database keeps their SHA-256
only, so a copy of the database opens no session and calls no API.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailhelpdesk.store.sql import Sql, from_db_datetime

SESSION_IDLE = timedelta(hours=12)  # a browser left alone this long logs in again
SESSION_MAX = timedelta(days=7)  # and every week, however busy
_SEEN_EVERY = timedelta(minutes=5)  # last_seen is written at most this often (not on every page)


@dataclass(frozen=True, slots=True)
class SessionRow:
    agent: str
    created_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class AccountStore:
    def __init__(self) -> None:
        self._sql = Sql()

    # --- passwords -----------------------------------------------------------------------

    async def password_hash(self, agent: str) -> str | None:
        row = await self._sql.first('SELECT "password_hash" FROM "agent_password" WHERE "agent" = ?', agent.lower())
        return str(row[0]) if row else None

    async def set_password(self, agent: str, password_hash: str, now: datetime) -> None:
        """Store a new hash and end the agent's sessions: a changed password locks out whoever had the old one."""
        agent = agent.lower()
        changed = await self._sql.execute(
            'UPDATE "agent_password" SET "password_hash" = ?, "updated_at" = ? WHERE "agent" = ?',
            password_hash, now, agent)
        if not changed:
            await self._sql.insert('INSERT INTO "agent_password" ("agent", "password_hash", "updated_at")'
                                   ' VALUES (?, ?, ?)', agent, password_hash, now)
        await self.close_sessions(agent)

    # --- browser sessions ----------------------------------------------------------------

    async def open_session(self, agent: str, now: datetime) -> str:
        """A new session for ``agent``; returns the token for the cookie (never stored as such)."""
        token = secrets.token_urlsafe(32)
        await self._sql.insert(
            'INSERT INTO "web_session" ("token_hash", "agent", "created_at", "last_seen_at") VALUES (?, ?, ?, ?)',
            token_digest(token), agent.lower(), now, now)
        return token

    async def session(self, token: str, now: datetime) -> SessionRow | None:
        """The live session of a cookie's token, or None (unknown, idle too long or too old: then deleted)."""
        digest = token_digest(token)
        row = await self._sql.first(
            'SELECT "agent", "created_at", "last_seen_at" FROM "web_session" WHERE "token_hash" = ?', digest)
        if row is None:
            return None
        created, seen = from_db_datetime(row[1]), from_db_datetime(row[2])
        if now - seen > SESSION_IDLE or now - created > SESSION_MAX:
            await self._sql.execute('DELETE FROM "web_session" WHERE "token_hash" = ?', digest)
            return None
        if now - seen > _SEEN_EVERY:
            await self._sql.execute('UPDATE "web_session" SET "last_seen_at" = ? WHERE "token_hash" = ?', now, digest)
        return SessionRow(str(row[0]), created)

    async def close_session(self, token: str) -> None:
        await self._sql.execute('DELETE FROM "web_session" WHERE "token_hash" = ?', token_digest(token))

    async def close_sessions(self, agent: str) -> int:
        return await self._sql.execute('DELETE FROM "web_session" WHERE "agent" = ?', agent.lower())

    # --- API tokens ----------------------------------------------------------------------

    async def create_token(self, agent: str, label: str, now: datetime) -> str:
        """A new API token for ``agent``; returns it (shown once: only its digest is kept)."""
        token = "mhd_" + secrets.token_urlsafe(32)
        await self._sql.insert(
            'INSERT INTO "api_token" ("token_hash", "agent", "label", "created_at") VALUES (?, ?, ?, ?)',
            token_digest(token), agent.lower(), label[:200], now)
        return token

    async def token_agent(self, token: str, now: datetime) -> str | None:
        """The agent an API token belongs to, unless it was revoked."""
        digest = token_digest(token)
        row = await self._sql.first(
            'SELECT "agent", "last_used_at" FROM "api_token" WHERE "token_hash" = ? AND "revoked_at" IS NULL', digest)
        if row is None:
            return None
        if row[1] is None or now - from_db_datetime(row[1]) > _SEEN_EVERY:
            await self._sql.execute('UPDATE "api_token" SET "last_used_at" = ? WHERE "token_hash" = ?', now, digest)
        return str(row[0])

    async def revoke_tokens(self, agent: str, now: datetime) -> int:
        return await self._sql.execute(
            'UPDATE "api_token" SET "revoked_at" = ? WHERE "agent" = ? AND "revoked_at" IS NULL', now, agent.lower())
