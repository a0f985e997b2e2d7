"""``mailhelpdesk serve``: the running service, in one process or split by role over several.

Roles (all of them by default):
- ``web``: the panel, the API, the customer pages and the health and metrics endpoints;
- ``intake``: the SMTP and LMTP receivers and the IMAP fetchers (they only commit bytes);
- ``worker``: turns accepted mail into tickets (several may share a database: rows are
  claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL);
- ``scheduler``: the timer job and the rules reload, active in one process at a time
  (``scheduler_lease``), the others standing by;
- ``sender``: the outbox (rows are claimed one by one, so several senders may run).
Processes of one role find the work of another in the database; within one process the
roles ring each other's bells so new mail is a ticket, and its acknowledgement sent, at once.

Tortoise keeps its connection context in a ContextVar, so the database is opened in the
main task before anything starts; every task created afterwards inherits it. SIGTERM or
SIGINT drains: listeners close, mail being received is finished (``421`` to the rest),
the worker and the sender finish what they have in hand, and the process exits 0.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import uvicorn

from mailhelpdesk.app import Runtime, build_runtime, utc_now
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.config import Settings
from mailhelpdesk.errors import MailHelpdeskError
from mailhelpdesk.ingest.imap import ImapFetcher
from mailhelpdesk.ingest.smtp import Connections, DataBudget, LmtpHandler, SmtpHandler, start_smtp
from mailhelpdesk.outbound.send_loop import SendLoop
from mailhelpdesk.pipeline.worker import InboundWorker
from mailhelpdesk.roles import ROLES
from mailhelpdesk.scheduler import start_scheduler
from mailhelpdesk.scheduler_lease import lease_for, while_leased
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.web.app import create_web_app

log = logging.getLogger(__name__)



def serve(settings: Settings, roles: frozenset[str] = frozenset(ROLES)) -> int:
    """0 after a signal and a clean drain; 1 when a part of the service ended by itself (the
    service manager then starts it again rather than leave it half working)."""
    return asyncio.run(_serve(settings, roles))


async def _serve(settings: Settings, roles: frozenset[str]) -> int:
    await open_database(settings.database_url)
    try:
        runtime = build_runtime(settings)
        runtime.rules.load()  # refuse to start on a broken rules file, listing its problems
        if settings.rules_file is not None:
            await seed_companies(runtime, settings.rules_file)
        # Each IMAP mailbox keeps a thread waiting in IDLE: the default pool (CPUs + 4) would run out.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(len(settings.mailboxes) + 8))
        service = _Service(runtime, roles)
        await service.start()
        log.warning("serving %s: %s", ", ".join(r for r in ROLES if r in roles), service.where())
        ended = await _until_signal(service.watched())
        await service.stop()
        return 1 if ended else 0
    finally:
        await close_database()


async def _until_signal(parts: "list[asyncio.Task[None]]") -> str:
    """Wait for SIGTERM or SIGINT, or for a part of the service to end by itself (its name is
    returned). The handlers stay until the process ends: a second signal during the drain must
    not kill the mail being finished."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    waiting = asyncio.create_task(stopping.wait())
    try:
        done, _ = await asyncio.wait([waiting, *parts], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    ended = next((t for t in done if t is not waiting), None)
    if ended is None:
        return ""
    failure = None if ended.cancelled() else ended.exception()
    log.error("%s stopped by itself (%s); stopping the service", ended.get_name(),
              f"{type(failure).__name__}: {failure}" if failure else "no error")
    return ended.get_name()


class _WebServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The service handles SIGTERM itself (uvicorn's would re-raise it once the panel stops,
        and the process would die before the mail in hand is finished)."""
        yield


@dataclass
class _Service:
    runtime: Runtime
    roles: frozenset[str]
    web: _WebServer | None = None
    web_task: "asyncio.Task[None] | None" = None
    listeners: list[asyncio.Server] = field(default_factory=list)
    handlers: list[SmtpHandler] = field(default_factory=list)
    connections: Connections = field(default_factory=Connections)
    fetchers: "list[asyncio.Task[None]]" = field(default_factory=list)
    worker: InboundWorker | None = None
    sender: SendLoop | None = None
    tasks: "dict[str, asyncio.Task[None]]" = field(default_factory=dict)
    scheduler_stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Bind every port first (a port in use stops serve before any work starts), then run."""
        settings = self.runtime.settings
        web_socket = _listen("web panel", settings.web_host, settings.web_port) if "web" in self.roles else None
        try:
            if "intake" in self.roles:
                await self._listen_for_mail(settings)
        except BaseException:
            if web_socket is not None:
                web_socket.close()
            raise
        self._start_work(settings)
        if web_socket is not None:
            self._start_web(settings, web_socket)

    async def _listen_for_mail(self, settings: Settings) -> None:
        self.connections = Connections(settings.smtp_max_connections, settings.smtp_max_connections_per_client,
                                       DataBudget(4 * settings.max_message_bytes))
        ports = [(SmtpHandler, "SMTP", settings.smtp_host, settings.smtp_port, False)]
        if settings.lmtp_port:
            ports.append((LmtpHandler, "LMTP", settings.lmtp_host, settings.lmtp_port, True))
        addresses = {b.address: b.name for b in settings.mailboxes}
        for kind, what, host, port, lmtp in ports:
            handler = kind(self.runtime.intake, addresses, self._accepted, settings.smtp_max_recipients)
            try:
                self.listeners.append(await start_smtp(handler, host, port, settings.max_message_bytes,
                                                       self.connections, lmtp=lmtp))
            except OSError as exc:
                await self._close_listeners()
                raise MailHelpdeskError(_in_use(what, host, port, exc)) from None
            self.handlers.append(handler)

    def _accepted(self, inbound_id: int) -> None:
        if self.worker is not None:
            self.worker.ring(inbound_id)

    def _start_work(self, settings: Settings) -> None:
        runtime = self.runtime
        if "sender" in self.roles:
            self.sender = SendLoop(runtime.sender, settings.outbox.interval, utc_now)
            self.tasks["sender"] = asyncio.create_task(self.sender.run_forever(), name="sender")
        if "worker" in self.roles:
            self.worker = InboundWorker(runtime.intake, self._processed, settings.parse_worker_count(),
                                        settings.max_message_bytes)
            self.tasks["worker"] = asyncio.create_task(self.worker.run_forever(), name="worker")
        if "scheduler" in self.roles:
            lease = lease_for(settings.database_url, settings.data_dir)
            self.tasks["scheduler"] = asyncio.create_task(
                while_leased(lease, self._start_scheduler, self.scheduler_stop), name="scheduler")
        if "intake" in self.roles:
            self.fetchers = [asyncio.create_task(
                ImapFetcher(box, runtime.intake, ImapStates(), utc_now).run_forever(self._accepted),
                name=f"imap:{box.name}") for box in settings.mailboxes if box.imap is not None]

    def watched(self) -> "list[asyncio.Task[None]]":
        """The parts that run until the service stops: any of them ending means trouble."""
        return [*self.tasks.values(), *self.fetchers, *([self.web_task] if self.web_task else [])]

    def _processed(self) -> None:
        if self.sender is not None:
            self.sender.ring()

    def _start_scheduler(self) -> Callable[[], None]:
        scheduler = start_scheduler(self.runtime, utc_now, self._processed)
        return lambda: scheduler.shutdown(wait=False)

    def _start_web(self, settings: Settings, web_socket: socket.socket) -> None:
        app = create_web_app(self.runtime)
        config = uvicorn.Config(app, host=settings.web_host, port=settings.web_port, log_level="warning",
                                server_header=False,  # no banner naming the software and its version
                                timeout_graceful_shutdown=settings.drain_seconds or None)
        self.web = _WebServer(config)
        self.web_task = asyncio.create_task(self.web.serve(sockets=[web_socket]), name="web")

    def where(self) -> str:
        settings = self.runtime.settings
        places = [f"SMTP on {settings.smtp_host}:{settings.smtp_port}"] if self.listeners else []
        if len(self.listeners) > 1:
            places.append(f"LMTP on {settings.lmtp_host}:{settings.lmtp_port}")
        if self.web is not None:
            places.append(f"panel on http://{settings.web_host}:{settings.web_port}/")
        return ", ".join(places) or "no listening port"

    async def stop(self) -> None:
        """Drain in order: no new mail, mail being received, mail being processed, mail being sent."""
        seconds = self.runtime.settings.drain_seconds
        log.warning("stopping: finishing the mail in hand (at most %ss)", seconds)
        deadline = time.monotonic() + seconds
        if self.web is not None:
            self.web.should_exit = True
        for handler in self.handlers:
            handler.draining = True
        await self._close_listeners()
        for fetcher in self.fetchers:
            fetcher.cancel()  # awaited last: logging out of a slow server must not eat the drain
        await self.connections.drain(max(0.0, deadline - time.monotonic()))
        if self.worker is not None:
            self.worker.stop()
        self.scheduler_stop.set()
        await _finished(self.tasks.pop("worker", None), deadline)
        await _finished(self.tasks.pop("scheduler", None), deadline)
        if self.sender is not None:
            self.sender.stop()
        await _finished(self.tasks.pop("sender", None), deadline)
        await _finished(self.web_task, deadline)
        if self.fetchers:
            await asyncio.wait(self.fetchers, timeout=max(1.0, deadline - time.monotonic()))
        log.warning("stopped")

    async def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.close()
        self.listeners.clear()


async def _cancelled(tasks: "list[asyncio.Task[None]]") -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _finished(task: "asyncio.Task[None] | None", deadline: float) -> None:
    """Let the task end by itself until the deadline (a second at least), then cancel it."""
    if task is None:
        return
    done, _ = await asyncio.wait([task], timeout=max(1.0, deadline - time.monotonic()))
    if not done:
        log.warning("%s did not finish in time; stopped", task.get_name())
        await _cancelled([task])
    elif not task.cancelled() and task.exception() is not None:
        log.error("%s had failed: %s", task.get_name(), task.exception())


def _listen(what: str, host: str, port: int) -> socket.socket:
    """The bound socket, or one line saying why not (a port in use is a usage problem, not a crash)."""
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise MailHelpdeskError(_in_use(what, host, port, exc)) from None


def _in_use(what: str, host: str, port: int, exc: OSError) -> str:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's own wording repeats the address
    return f"cannot listen for the {what} on {host}:{port}: {reason}"
