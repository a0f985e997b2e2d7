"""IMAP mailboxes: new mail fetched by UID, stored, and only then moved.

We read by UID with ``BODY.PEEK[]`` (a plain ``RFC822`` fetch would set \\Seen) and never search
for UNSEEN: a person who reads or flags mail in their mail client must not hide it from us.
A chunk of messages is committed to ``inbound`` before the folder's last UID moves past it and
before it is moved to ``move_to``; a crash in between fetches it again, and the intake stores
the same bytes once. A changed UIDVALIDITY reads the folder from the top, for the same reason
harmlessly. imapclient is blocking: every call runs in a worker thread.

A mailbox with ``auth: xoauth2`` (Microsoft 365, Gmail) logs in with an OAuth access token that
an external helper keeps current; it is read again at every connection, because it expires within
about an hour, and it is never logged nor put in an error.
"""

import asyncio
import contextlib
import logging
import socket
import ssl
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from mailhelpdesk.config import ImapSettings, MailboxSettings
from mailhelpdesk.errors import MailHelpdeskError
from mailhelpdesk.intake import Intake
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.store.transactions import transaction

log = logging.getLogger(__name__)

CHUNK = 50  # messages fetched, stored and committed together
FIRST_BACKOFF = 5  # seconds before a failed mailbox is tried again; doubled each time
MAX_BACKOFF = 15 * 60  # seconds between tries of a mailbox that keeps failing
MAX_IDLE = 25 * 60  # servers drop an IDLE after 30 minutes (RFC 2177): renewed before that


class TokenUnavailable(MailHelpdeskError):
    """No OAuth access token to log in with: the token file or command failed. Its message never
    holds a token (not even a partial one a failing command printed)."""


# What a server, a network, a wrong password or a missing token can raise: a fetch that fails, not a bug.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, IMAPClient.Error, IMAPClient.AbortError,
                                                     TokenUnavailable)
_LOGOUT_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, ValueError)


@dataclass(frozen=True, slots=True)
class FetchReport:
    mailbox: str
    folder: str
    fetched: int = 0  # messages read from the server
    new: int = 0  # of them, bytes not stored before
    uidvalidity: int = 0
    last_uid: int = 0
    rescanned: bool = False  # UIDVALIDITY changed: the folder was read from the top
    error: str = ""

    def line(self) -> str:
        where = f"{self.mailbox} ({self.folder})"
        if self.error:
            return f"{where}: FAILED: {self.error}"
        again = ", UIDVALIDITY changed: read from the top" if self.rescanned else ""
        return (f"{where}: {self.new} new of {self.fetched} fetched, last UID {self.last_uid} "
                f"(UIDVALIDITY {self.uidvalidity}){again}")


def connect(settings: ImapSettings) -> IMAPClient:
    """A logged-in client; TLS is verified against the system's CAs, or ``ca_file``'s."""
    # The token is fetched before the connection: a helper that fails leaves no half-open session.
    token = access_token(settings) if settings.auth == "xoauth2" else ""
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    client = IMAPClient(settings.host, port=settings.port, ssl=settings.security == "tls",
                        ssl_context=context if settings.security == "tls" else None, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            client.starttls(context)
        if settings.auth == "xoauth2":
            client.oauth2_login(settings.username, token)  # SASL XOAUTH2
        else:
            client.login(settings.username, settings.password)
    except BaseException:
        _logout(client)
        raise
    return client


TOKEN_ERROR_CHARS = 200  # of a token command's stderr line shown in an error


def access_token(settings: ImapSettings) -> str:
    """The current OAuth access token of an ``auth: xoauth2`` mailbox, read now (never cached: an
    external refresher replaces it before it expires)."""
    if settings.token_command:
        return _token_from_command(settings.token_command, settings.timeout)
    return _token_from_file(Path(settings.token_file))


def _token_from_file(path: Path) -> str:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise TokenUnavailable(f"cannot read token file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TokenUnavailable(f"token file {path} is not UTF-8 text") from None
    token = _first_line(text)
    if not token:
        raise TokenUnavailable(f"token file {path} is empty")
    return _bare(token, f"token file {path}")


def _token_from_command(argv: tuple[str, ...], timeout: float) -> str:
    """The first non-empty line the command prints. Errors name the program (not its arguments,
    which may hold a client id or secret) and never what it printed on stdout."""
    program = argv[0]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        # from None: the expired call carries what the command printed so far, maybe the token.
        raise TokenUnavailable(f"token command {program} printed no token within {timeout:g} s") from None
    except OSError as exc:
        raise TokenUnavailable(f"cannot run token command {program}: {exc.strerror or exc}") from None
    token = _first_line(done.stdout.decode("utf-8", "replace"))
    if done.returncode == 0 and token:
        return _bare(token, f"token command {program}")
    problem = "failed" if done.returncode != 0 else "printed no token"
    said = _first_line(done.stderr.decode("utf-8", "replace"))[:TOKEN_ERROR_CHARS] or "nothing on stderr"
    raise TokenUnavailable(f"token command {program} {problem} (exit code {done.returncode}): {said}")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _bare(token: str, source: str) -> str:
    """The token as it goes on the wire; a line like ``Bearer …`` or JSON would only be refused by
    the server as a bad token, which hides the real mistake."""
    if any(char.isspace() for char in token):
        raise TokenUnavailable(f"{source} gave more than one word: expected the bare access token alone on its line")
    return token


def _logout(client: IMAPClient) -> None:
    with contextlib.suppress(*_LOGOUT_ERRORS):  # already gone: nothing to close
        client.logout()


@dataclass(frozen=True, slots=True)
class ImapFetcher:
    box: MailboxSettings
    intake: Intake
    states: ImapStates
    clock: Callable[[], datetime]
    open_client: Callable[[ImapSettings], IMAPClient] = connect

    @property
    def settings(self) -> ImapSettings:
        assert self.box.imap is not None, "an IMAP fetcher for a mailbox without imap settings"
        return self.box.imap

    async def fetch_once(self, accepted: Callable[[int], None]) -> FetchReport:
        """Store the folder's new mail; ``accepted`` gets each new inbound id to process."""
        folder = self.settings.folder
        try:
            client = await asyncio.to_thread(self.open_client, self.settings)
        except TRANSPORT_ERRORS as exc:
            return await self._failed(folder, f"cannot connect or log in: {_describe(exc)}")
        try:
            return await self._read(client, accepted)
        except TRANSPORT_ERRORS as exc:
            return await self._failed(folder, _describe(exc))
        finally:
            await asyncio.to_thread(_logout, client)

    async def _read(self, client: IMAPClient, accepted: Callable[[int], None]) -> FetchReport:
        box, folder = self.box.name, self.settings.folder
        selected = await asyncio.to_thread(client.select_folder, folder)
        validity = int(selected[b"UIDVALIDITY"])
        state = await self.states.get(box, folder)
        rescanned = state is not None and state.uidvalidity not in (0, validity)
        last = state.last_uid if state is not None and not rescanned else 0
        # "N:*" always names the newest message, even below N: filter what the server returns.
        uids = sorted(u for u in await asyncio.to_thread(client.search, ["UID", f"{last + 1}:*"]) if u > last)
        fetched = new = 0
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start:start + CHUNK]
            stored = await self._store(client, chunk, validity, accepted)
            fetched, new = fetched + stored[0], new + stored[1]
            last = chunk[-1]
            await self.states.advance(box, folder, validity, last, self.clock())
            if self.settings.move_to:
                await asyncio.to_thread(_move, client, chunk, self.settings.move_to)
        if not uids:
            await self.states.advance(box, folder, validity, last, self.clock())
        return FetchReport(box, folder, fetched, new, validity, last, rescanned)

    async def _store(self, client: IMAPClient, chunk: Sequence[int], validity: int,
                     accepted: Callable[[int], None]) -> tuple[int, int]:
        """Fetch and store ``chunk`` in one commit (a commit per mail would cost most of the time);
        (fetched, new). The worker hears of the new rows only once they are committed."""
        data: dict[int, dict[bytes, Any]] = await asyncio.to_thread(client.fetch, chunk, ["BODY.PEEK[]"])
        imap, fetched, pending_ids = self.settings, 0, []
        async with transaction():
            for uid in chunk:
                raw = data.get(uid, {}).get(b"BODY[]")
                if not isinstance(raw, bytes):
                    continue  # expunged by someone else since the search
                source = f"imap:{imap.username}@{imap.host}/{imap.folder};UIDVALIDITY={validity};UID={uid}"
                inbound_id, pending = await self.intake.accept(self.box.name, raw, source)
                fetched += 1
                if pending:
                    pending_ids.append(inbound_id)
        for inbound_id in pending_ids:
            accepted(inbound_id)
        return fetched, len(pending_ids)

    async def _failed(self, folder: str, error: str) -> FetchReport:
        try:
            failures = await self.states.failed(self.box.name, folder, error, self.clock())
        except Exception:  # noqa: BLE001 - counted when the database is back; the failure is still told
            failures = 0
        log.error("IMAP mailbox %s (%s): fetch failed (%d in a row): %s", self.box.name, folder, failures, error)
        return FetchReport(self.box.name, folder, error=error)

    async def run_forever(self, accepted: Callable[[int], None]) -> None:
        """Stay connected: read the folder, then wait in IDLE for new mail (the server tells us
        within a second) or ``poll_seconds``, whichever comes first, and read it again. A mailbox
        that keeps failing is tried less often (5 s doubling up to 15 minutes); its failures
        never stop the other mailboxes."""
        backoff = FIRST_BACKOFF
        while True:
            try:
                read = await self._session(accepted)
            except Exception as exc:  # noqa: BLE001 - the database is away: the mail waits on the server
                log.error("IMAP mailbox %s: storing its mail failed, it stays on the server: %s",
                          self.box.name, _describe(exc))
                read = False
            if read:
                backoff = FIRST_BACKOFF
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _session(self, accepted: Callable[[int], None]) -> bool:
        """One connection, read and waited on until it fails; whether any read succeeded."""
        folder = self.settings.folder
        try:
            client = await asyncio.to_thread(self.open_client, self.settings)
        except TRANSPORT_ERRORS as exc:
            await self._failed(folder, f"cannot connect or log in: {_describe(exc)}")
            return False
        read = False
        try:
            while True:
                await self._read(client, accepted)
                read = True
                await self._wait_for_news(client)
        except TRANSPORT_ERRORS as exc:
            await self._failed(folder, _describe(exc))
        except asyncio.CancelledError:
            _interrupt(client)  # wake a thread blocked in IDLE so the service can stop
            raise
        finally:
            await asyncio.to_thread(_logout, client)
        return read

    async def _wait_for_news(self, client: IMAPClient) -> None:
        """Until the server reports new mail (IDLE) or ``poll_seconds`` pass: a periodic read
        catches whatever IDLE missed."""
        if client.has_capability("IDLE"):
            await asyncio.to_thread(_idle, client, min(self.settings.poll_seconds, MAX_IDLE))
        else:
            await asyncio.sleep(self.settings.poll_seconds)


def _idle(client: IMAPClient, seconds: float) -> None:
    client.idle()
    try:
        client.idle_check(timeout=seconds)  # returns at the first EXISTS (or any news), else on timeout
    finally:
        client.idle_done()


def _interrupt(client: IMAPClient) -> None:
    with contextlib.suppress(OSError):
        client.socket().shutdown(socket.SHUT_RDWR)


def _move(client: IMAPClient, uids: Sequence[int], folder: str) -> None:
    """Move stored mail out of the way (MOVE, else COPY + \\Deleted + EXPUNGE of those UIDs)."""
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.add_flags(uids, [b"\\Deleted"])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
