"""``mailhelpdesk serve``: SMTP receiver, IMAP fetchers, pipeline worker, outbox sender, timers, rules
reload and web panel in one process.

Tortoise keeps its connection context in a ContextVar, so the database is opened in
the main task before uvicorn starts; every task uvicorn and the SMTP server create
inherits it. Cleanup runs in the web app's shutdown hook (uvicorn re-raises SIGTERM
after ``serve()`` returns, so code after it would never run).
"""

import asyncio
import logging
import os
import socket

import uvicorn

from mailhelpdesk.app import build_runtime, utc_now
from mailhelpdesk.commands.companies import seed_companies
from mailhelpdesk.config import Settings
from mailhelpdesk.errors import MailHelpdeskError
from mailhelpdesk.ingest.imap import ImapFetcher
from mailhelpdesk.ingest.smtp import SmtpHandler, process_queue, start_smtp
from mailhelpdesk.outbound.send_loop import send_forever
from mailhelpdesk.scheduler import start_scheduler
from mailhelpdesk.store.db import close_database, open_database
from mailhelpdesk.store.imap_state import ImapStates
from mailhelpdesk.web.app import create_web_app

log = logging.getLogger(__name__)


def serve(settings: Settings) -> int:
    asyncio.run(_serve(settings))
    return 0


async def _serve(settings: Settings) -> None:
    await open_database(settings.database_url)
    runtime = build_runtime(settings)
    runtime.rules.load()  # refuse to start on a broken rules file, listing its problems
    if settings.rules_file is not None:
        await seed_companies(runtime, settings.rules_file)
    handler = SmtpHandler(runtime.intake, {b.address: b.name for b in settings.mailboxes})
    web_socket = _listen("web panel", settings.web_host, settings.web_port)  # before any work starts
    try:
        smtp = await start_smtp(handler, settings.smtp_host, settings.smtp_port, settings.max_message_bytes)
    except OSError as exc:
        web_socket.close()
        raise MailHelpdeskError(_in_use("SMTP", settings.smtp_host, settings.smtp_port, exc)) from None
    wakeup = asyncio.Event()
    worker = asyncio.create_task(process_queue(runtime.intake, handler.queue, wakeup.set))
    sender = asyncio.create_task(send_forever(runtime.sender, wakeup, settings.outbox.interval, utc_now))
    scheduler = start_scheduler(runtime, utc_now, wakeup.set)
    fetchers = [asyncio.create_task(ImapFetcher(box, runtime.intake, ImapStates(), utc_now).run_forever(
        handler.queue.put_nowait), name=f"imap:{box.name}") for box in settings.mailboxes if box.imap is not None]

    async def shutdown() -> None:
        scheduler.shutdown(wait=False)
        smtp.close()
        await smtp.wait_closed()
        for task in (*fetchers, worker, sender):
            task.cancel()
        await close_database()

    app = create_web_app(runtime, on_shutdown=[shutdown])
    log.warning("SMTP on %s:%s, panel on http://%s:%s/", settings.smtp_host, settings.smtp_port,
                settings.web_host, settings.web_port)
    config = uvicorn.Config(app, host=settings.web_host, port=settings.web_port, log_level="warning",
                            server_header=False)  # no banner naming the software and its version
    await uvicorn.Server(config).serve(sockets=[web_socket])


def _listen(what: str, host: str, port: int) -> socket.socket:
    """The bound socket, or one line saying why not (a port in use is a usage problem, not a crash)."""
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise MailHelpdeskError(_in_use(what, host, port, exc)) from None


def _in_use(what: str, host: str, port: int, exc: OSError) -> str:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's own wording repeats the address
    return f"cannot listen for the {what} on {host}:{port}: {reason}"
