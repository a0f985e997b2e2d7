"""The command line: parses arguments, builds settings, dispatches. The only place that exits."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from mailhelpdesk.config import Settings, load_settings
from mailhelpdesk.errors import ConfigError, MailHelpdeskError
from mailhelpdesk.roles import ROLES

# Imported where used: ``app`` loads the mail pipeline, the templates and the ticket service, and
# ``reads`` the ORM; a command that needs neither should not wait for them.
if TYPE_CHECKING:
    from mailhelpdesk.app import Runtime
    from mailhelpdesk.reads import Reads

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line and exit code 2, not argparse's usage dump."""
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number


def _roles(value: str) -> frozenset[str]:
    roles = frozenset(r.strip() for r in value.split(",") if r.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown or not roles:
        raise argparse.ArgumentTypeError(f"unknown role(s) {', '.join(unknown) or value!r}; "
                                         f"choose from {', '.join(ROLES)}")
    return roles


def _iso_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time such as 2026-11-23T10:15 or 2026-11-23T10:15+03:00: "
                                         f"{value!r}") from None


def _language(value: str) -> str:
    if value and not (value.isalpha() and 2 <= len(value) <= 8):
        raise argparse.ArgumentTypeError(f"not a language code such as en or ru: {value!r}")
    return value.lower()


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if value:
            ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone: {value!r} (use a name such as Europe/Moscow)") from None
    return value


def _add_intake_commands(sub: "argparse._SubParsersAction[_Parser]") -> None:
    """``serve``, ``ingest``, ``fetch`` and ``config``: how mail comes in, and the settings for it."""
    serve = sub.add_parser("serve", help="run the SMTP receiver, the IMAP fetchers and the web panel")
    serve.add_argument("--smtp-port", type=_positive_int)
    serve.add_argument("--web-port", type=_positive_int)
    serve.add_argument("--role", type=_roles, default=None, metavar="ROLE[,ROLE]",
                       help="run only these parts: web, intake, worker, scheduler, sender (default: all)")

    ingest = sub.add_parser("ingest", help="ingest .eml files, directories, mbox files and Maildirs")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--mailbox", help="mailbox the messages arrived at (default: the first configured)")

    fetch = sub.add_parser("fetch", help="fetch new mail from the IMAP mailboxes once and process it")
    fetch.add_argument("--mailbox", help="only this mailbox (default: every mailbox with imap settings)")

    sub.add_parser("status", help="backlog, outbox, breaker, each mailbox's last fetch; exit 1 if one needs an admin")

    config = sub.add_parser("config", help="check the settings file, or show the settings in force")
    csub = config.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ccheck = csub.add_parser("check", help="load the settings; each problem as file:line: message")
    ccheck.add_argument("file", nargs="?", type=Path, help="settings file (default: the one serve would read)")
    cshow = csub.add_parser("show", help="every setting in force and where it came from (secrets not shown)")
    cshow.add_argument("file", nargs="?", type=Path, help="settings file (default: the one serve would read)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mailhelpdesk", description="An email-native helpdesk.")
    parser.add_argument("--config", type=Path, help="YAML settings file (or MAILHELPDESK_CONFIG)")
    parser.add_argument("--database-url", help="sqlite://PATH or postgres://... (or MAILHELPDESK_DATABASE_URL)")
    parser.add_argument("--data-dir", type=Path, help="directory for the SQLite file and secret key")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_intake_commands(sub)
    _add_ticket_commands(sub)

    export = sub.add_parser("export", help="write all tickets and messages as JSON Lines")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")

    quarantine = sub.add_parser("quarantine", help="list or replay quarantined messages")
    qsub = quarantine.add_subparsers(dest="action", required=True, parser_class=_Parser)
    qsub.add_parser("list", help="list quarantined messages with their step and error")
    qreplay = qsub.add_parser("replay", help="run quarantined messages through the pipeline again")
    qreplay.add_argument("ids", nargs="*", type=_positive_int)
    qreplay.add_argument("--all", action="store_true", help="replay every quarantined message")

    companies = sub.add_parser("companies", help="seed and list companies")
    csub = companies.add_subparsers(dest="action", required=True, parser_class=_Parser)
    cseed = csub.add_parser("seed", help="create/update companies from the companies: section of a YAML file")
    cseed.add_argument("file", type=Path)
    csub.add_parser("list", help="list companies, their tier and domains")

    sub.add_parser("migrate", help="create or upgrade the database schema")
    explain = sub.add_parser("explain", help="the story of a ticket: threading, rules that fired or nearly did, SLA")
    explain.add_argument("number", type=_positive_int)
    timers = sub.add_parser("timers", help="fire the SLA warnings, breaches and timed rules that are due, once "
                            "(serve does this every timer_interval seconds)")
    timers.add_argument("--at", type=_iso_time, help="as if it were this time (ISO 8601; without an offset: UTC); "
                        "default: now")
    _add_rules_commands(sub)
    _add_mail_commands(sub)
    return parser


def _add_rules_commands(sub: "argparse._SubParsersAction[_Parser]") -> None:
    """``rules check|test`` and ``replay``: the admin's rules file."""
    rules = sub.add_parser("rules", help="check the rules file")
    rsub = rules.add_subparsers(dest="action", required=True, parser_class=_Parser)
    rcheck = rsub.add_parser("check", help="validate a rules file; each problem as file:line:column: message")
    rcheck.add_argument("file", nargs="?", type=Path, help="default: the configured rules_file")
    rtest = rsub.add_parser("test", help="what the rules would do with a mail as a new ticket, and why")
    rtest.add_argument("file", type=Path, help="the rules file")
    rtest.add_argument("message", type=Path, help="a mail (.eml)")
    rtest.add_argument("--at", type=_iso_time, help="when it arrives (ISO 8601; without an offset: in the SLA "
                       "calendar's time zone); default: its Date header")
    rtest.add_argument("--mailbox", help="the mailbox it arrives in (default: default_mailbox)")
    replay = sub.add_parser("replay", help="what a new rules file would change: the stored mail replayed with both")
    replay.add_argument("--rules", type=Path, required=True, help="the new rules file")
    replay.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    replay.add_argument("--keep", type=Path, metavar="DIR", help="keep the two scratch databases in DIR")


def _add_ticket_commands(sub: "argparse._SubParsersAction[_Parser]") -> None:
    """``tickets …`` and ``agents list``."""
    tickets = sub.add_parser("tickets", help="list, show, answer and change tickets")
    tsub = tickets.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tlist = tsub.add_parser("list", help="list tickets, newest first")
    tlist.add_argument("--status", choices=["new", "open", "pending", "resolved", "closed"])
    tlist.add_argument("--limit", type=_positive_int, default=50)
    tshow = tsub.add_parser("show", help="show one ticket and its thread")
    tshow.add_argument("number", type=_positive_int)
    _add_ticket_actions(tsub)
    agents = sub.add_parser("agents", help="the agents declared in the rules file, their passwords and API tokens")
    asub = agents.add_subparsers(dest="action", required=True, parser_class=_Parser)
    asub.add_parser("list", help="agents, their names, roles, teams and whether they write to customers")
    password = asub.add_parser("set-password", help="set an agent's panel password (from standard input when "
                               "it is not a terminal); ends their other sessions")
    password.add_argument("email")
    token = asub.add_parser("token", help="a new API token for an agent, shown once (or --revoke theirs)")
    token.add_argument("email")
    token.add_argument("--label", default="", help="what the token is for, e.g. the script using it")
    token.add_argument("--revoke", action="store_true", help="revoke every token of the agent instead")


def _add_ticket_actions(tsub: "argparse._SubParsersAction[_Parser]") -> None:
    """``tickets reply|note|set|merge|split|collaborators``: what agents do, from the command line."""
    for name, what in (("reply", "answer the customer (and cc) from the mailbox's address"),
                       ("note", "add an internal note; @name tells that agent")):
        action = tsub.add_parser(name, help=what)
        action.add_argument("number", type=_positive_int)
        action.add_argument("--as", dest="actor", metavar="EMAIL", required=True, help="the agent who writes it")
        action.add_argument("--file", type=Path, metavar="F", help="the text (default and '-': standard input)")
        _add_field_options(action)
    tset = tsub.add_parser("set", help="change status, urgency, line, team, assignee or tags")
    tset.add_argument("number", type=_positive_int)
    tset.add_argument("--as", dest="actor", metavar="EMAIL", help="the agent making the change (default: system)")
    _add_field_options(tset)
    merge = tsub.add_parser("merge", help="merge ticket SOURCE into ticket TARGET")
    merge.add_argument("source", type=_positive_int)
    merge.add_argument("target", type=_positive_int)
    merge.add_argument("--as", dest="actor", metavar="EMAIL", help="the agent merging (default: system)")
    merge.add_argument("--force", action="store_true", help="merge tickets of different customers too (the "
                       "source's requester becomes a cc of the target and receives its answers)")
    split = tsub.add_parser("split", help="move one customer mail of a ticket into a new ticket")
    split.add_argument("number", type=_positive_int)
    split.add_argument("message", type=_positive_int, help="the message's id (the panel shows it on each message)")
    split.add_argument("--as", dest="actor", metavar="EMAIL", help="the agent splitting (default: system)")
    follow = tsub.add_parser("collaborators", help="agents who follow a ticket besides its assignee")
    follow.add_argument("number", type=_positive_int)
    follow.add_argument("--add", action="append", default=[], metavar="EMAIL")
    follow.add_argument("--remove", action="append", default=[], metavar="EMAIL")
    follow.add_argument("--as", dest="actor", metavar="EMAIL", help="the agent making the change (default: system)")


def _add_field_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=["open", "pending", "resolved", "closed"])
    parser.add_argument("--urgency", choices=["low", "normal", "high", "critical"])
    parser.add_argument("--line", type=int, choices=[1, 2, 3, 4])
    parser.add_argument("--team", help="a team of the rules file ('' clears)")
    parser.add_argument("--assignee", metavar="EMAIL", help="a declared agent ('' unassigns)")
    parser.add_argument("--tag", action="append", metavar="+X|-X", help="add (+x or x) or remove (-x) a tag; "
                        "repeatable")


def _add_mail_commands(sub: "argparse._SubParsersAction[_Parser]") -> None:
    """``templates``, ``outbox`` and ``contacts``: the mail the desk sends."""
    templates = sub.add_parser("templates", help="check and preview the email templates")
    tmsub = templates.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tmsub.add_parser("check", help="render every template of every language with sample data")
    trender = tmsub.add_parser("render", help="the mail a template makes for a ticket")
    trender.add_argument("name", help="template name, e.g. acknowledgement")
    trender.add_argument("--ticket", type=_positive_int, required=True, help="ticket number")
    trender.add_argument("--language", help="default: the one the ticket's customer gets")
    trender.add_argument("--part", choices=["subject", "txt", "html", "all"], default="all")
    outbox = sub.add_parser("outbox", help="mail the desk sends: list, show, send, retry, resume after the breaker")
    osub = outbox.add_subparsers(dest="action", required=True, parser_class=_Parser)
    olist = osub.add_parser("list", help="newest first, with status and reason")
    olist.add_argument("--status", action="append", choices=["queued", "sending", "sent", "failed", "suppressed",
                                                              "held"], help="only these (repeatable)")
    olist.add_argument("--ticket", type=_positive_int, help="only mail about this ticket")
    olist.add_argument("--limit", type=_positive_int, default=50)
    oshow = osub.add_parser("show", help="print one mail as it is (or was) sent")
    oshow.add_argument("id", type=_positive_int)
    osub.add_parser("send", help="send what is due, once (serve does this continuously)")
    oretry = osub.add_parser("retry", help="queue failed mail again")
    oretry.add_argument("ids", nargs="+", type=_positive_int)
    oresume = osub.add_parser("resume", help="reset the tripped breaker and send the held mail")
    oresume.add_argument("--discard", action="store_true", help="drop the held mail instead of sending it")
    contacts = sub.add_parser("contacts", help="how our mail addresses a customer")
    ctsub = contacts.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ctshow = ctsub.add_parser("show", help="a contact's greeting, language and time zone")
    ctshow.add_argument("email")
    ctset = ctsub.add_parser("set", help="set a contact's greeting, language or time zone ('' clears)")
    ctset.add_argument("email")
    ctset.add_argument("--name", dest="preferred_name", metavar="NAME", help="the name to greet them by, e.g. Ivan")
    ctset.add_argument("--salutation", help="a whole greeting line, e.g. 'Dear Dr. Smith,'")
    ctset.add_argument("--language", type=_language, help="language of our mail, e.g. ru")
    ctset.add_argument("--timezone", type=_timezone, help="time zone of times in our mail, e.g. Europe/Moscow")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from mailhelpdesk.server import serve  # imports the web stack only when serving

    return serve(settings, args.role or frozenset(ROLES))


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "quarantine" and args.action == "replay" and bool(args.ids) == bool(args.all):
        parser.error("quarantine replay: give message IDs or --all (not both)")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "config":  # before the settings load: telling what is wrong with them is its job
            return _config_command(args, out)
        settings = load_settings(args.config, {
            "database_url": args.database_url, "data_dir": args.data_dir,
            "smtp_port": getattr(args, "smtp_port", None), "web_port": getattr(args, "web_port", None),
        })
        if args.command == "serve":
            return _serve(args, settings)
        if (code := _without_database(args, settings, out)) is not None:
            return code
        if args.command == "agents":  # passwords and tokens: the rules file and the accounts' tables
            return asyncio.run(_accounts(args, settings, stdin or sys.stdin, out, err))
        if args.command == "replay":  # opens the real and the scratch databases itself, one at a time
            from mailhelpdesk.commands.replay import replay_command

            return asyncio.run(replay_command(settings, args.rules, args.format, args.keep, out, err))
        return asyncio.run(_dispatch(args, settings, out, err))
    except ConfigError as exc:
        err.write(f"mailhelpdesk: error: {exc}\n")
        return EXIT_USAGE
    except MailHelpdeskError as exc:
        err.write(f"mailhelpdesk: error: {exc}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): not an error of ours
        _silence_stdout()
        return 0


def _config_command(args: argparse.Namespace, out: TextIO) -> int:
    from mailhelpdesk.commands.config import check_config, show_config

    command = check_config if args.action == "check" else show_config
    return command(args.file or args.config, os.environ, out)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _without_database(args: argparse.Namespace, settings: Settings, out: TextIO) -> int | None:
    """The commands that read files only (None for the others)."""
    if args.command == "rules":
        return _rules_command(args, settings, out)
    if args.command == "agents" and args.action == "list":  # the rules file
        return _agents_list(settings, out)
    if args.command == "templates" and args.action == "check":
        from mailhelpdesk.commands.templates import check_templates

        return check_templates(settings, out)
    return None


def _rules_command(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from mailhelpdesk.commands.rules import check_rules, test_rules
    from mailhelpdesk.companies.domains import load_freemail

    if args.action == "test":
        box = settings.mailbox(args.mailbox or settings.default_mailbox)
        freemail = load_freemail(settings.freemail_file, settings.freemail_extra)
        return test_rules(args.file, args.message, box, args.at, freemail, out)
    path = args.file or settings.rules_file
    if path is None:
        raise ConfigError("rules check: no rules file (give FILE, or set rules_file)")
    return check_rules(path, out, settings.templates_dir)


async def _accounts(args: argparse.Namespace, settings: Settings, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.accounts import api_token, set_password

    if args.action == "set-password":
        return await set_password(settings, args.email, stdin, out, err)
    return await api_token(settings, args.email, args.label, args.revoke, out)


def _agents_list(settings: Settings, out: TextIO) -> int:
    from mailhelpdesk.commands.agents import list_agents
    from mailhelpdesk.rules.current import CurrentRules

    list_agents(CurrentRules(settings.rules_file, settings.templates_dir).load(), out)
    return 0


async def _dispatch(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    """Commands that only read get the database alone; the rest get the whole runtime."""
    key = (args.command, getattr(args, "action", None))
    if key in _READS:
        from mailhelpdesk.reads import opened

        async with opened(settings) as reads:
            return await _READS[key](reads, args, out, err)
    from mailhelpdesk.app import running

    async with running(settings) as runtime:
        return await _HANDLERS[key](runtime, args, out, err)


Handler = Callable[["Runtime", argparse.Namespace, TextIO, TextIO], Awaitable[int]]
ReadHandler = Callable[["Reads", argparse.Namespace, TextIO, TextIO], Awaitable[int]]


async def _timers(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    runtime.rules.load()
    at = args.at or datetime.now(UTC)
    tally = await runtime.timers.run(at if at.tzinfo else at.replace(tzinfo=UTC))
    out.write(", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())) or "nothing due")
    out.write("\n")
    return 1 if tally.get("failed") else 0


async def _ingest(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.companies import seed_companies
    from mailhelpdesk.commands.ingest import ingest_paths

    runtime.rules.load()  # a broken rules file stops here, with all its problems
    if runtime.settings.rules_file is not None:
        await seed_companies(runtime, runtime.settings.rules_file)
    report = await ingest_paths(runtime, args.paths, args.mailbox or runtime.settings.default_mailbox, err)
    out.write("\n".join(report.lines()) + "\n")
    return 0


async def _status(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.status import write_status
    from mailhelpdesk.store.service_status import read_status

    return write_status(await read_status(reads.outbox), reads.settings, out)


async def _fetch(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.fetch import fetch_mailboxes

    return await fetch_mailboxes(runtime, args.mailbox, out)


async def _templates_render(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.templates import render_template

    runtime.rules.load()
    return await render_template(runtime, args.name, args.ticket, args.language, args.part, out, err)


async def _outbox_read(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands import outbox

    if args.action == "list":
        if await outbox.list_outbox(reads, out, args.status or [], args.ticket, args.limit) < 0:
            err.write(f"mailhelpdesk: error: no ticket #{args.ticket}\n")
            return EXIT_FAILURE
        return 0
    if not await outbox.show_outbox(reads, args.id, out):
        err.write(f"mailhelpdesk: error: no outbox mail {args.id}\n")
        return EXIT_FAILURE
    return 0


async def _outbox(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands import outbox

    if args.action == "send":
        return await outbox.send_outbox(runtime, out)
    if args.action == "retry":
        return await outbox.retry_outbox(runtime, args.ids, out)
    return await outbox.resume_outbox(runtime, args.discard, out)


async def _contacts_show(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.contacts import show_contact

    if not await show_contact(args.email, out):
        err.write(f"mailhelpdesk: error: no contact {args.email}\n")
        return EXIT_FAILURE
    return 0


async def _contacts_set(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.contacts import FIELDS, set_contact

    changes = {name: getattr(args, name) for name in FIELDS if getattr(args, name) is not None}
    if not changes:
        err.write("mailhelpdesk: error: contacts set: give --name, --salutation, --language or --timezone\n")
        return EXIT_USAGE
    if not await set_contact(args.email, changes, out):
        err.write(f"mailhelpdesk: error: no contact {args.email}\n")
        return EXIT_FAILURE
    return 0


async def _tickets_list(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.tickets import list_tickets

    await list_tickets(out, args.status, args.limit)
    return 0


async def _ticket_action(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.ticket_actions import agent_actor, read_text, run_action
    from mailhelpdesk.tickets.changes import FieldChanges

    runtime.rules.load()  # a broken rules file stops here, with all its problems
    actor = agent_actor(runtime, args.actor, required=args.action in ("reply", "note"))
    if args.action == "merge":
        return await run_action(runtime, lambda s, a, m: s.merge(args.source, args.target, a, m, args.force),
                                actor, out, err)
    if args.action == "split":
        return await run_action(runtime, lambda s, a, m: s.split(args.number, args.message, a, m), actor, out, err)
    if args.action == "collaborators":
        return await run_action(runtime, lambda s, a, m: s.collaborators(args.number, args.add, args.remove, a, m),
                                actor, out, err)
    changes = FieldChanges(args.status, args.urgency, args.line, args.team, args.assignee, tuple(args.tag or ()))
    if args.action == "set":
        if not changes:
            raise ConfigError("tickets set: give at least one of --status, --urgency, --line, --team, --assignee, "
                              "--tag")
        return await run_action(runtime, lambda s, a, m: s.set_fields(args.number, changes, a, m), actor, out, err)
    text = read_text(args.file)
    if args.action == "reply":
        return await run_action(runtime, lambda s, a, m: s.reply(args.number, text, a, m, changes), actor, out, err)
    return await run_action(runtime, lambda s, a, m: s.note(args.number, text, a, m, changes), actor, out, err)


async def _explain(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.explain import explain_ticket

    if not await explain_ticket(out, args.number):
        err.write(f"mailhelpdesk: error: no ticket #{args.number}\n")
        return EXIT_FAILURE
    return 0


async def _tickets_show(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.tickets import show_ticket

    if not await show_ticket(out, args.number):
        err.write(f"mailhelpdesk: error: no ticket #{args.number}\n")
        return EXIT_FAILURE
    return 0


async def _export(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.export import write_export

    if args.output is None:
        await write_export(out)
        return 0
    partial = args.output.with_name(f".{args.output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            count = await write_export(handle)
        partial.replace(args.output)  # never leave a half-written export under the real name
    except OSError as exc:
        partial.unlink(missing_ok=True)
        err.write(f"mailhelpdesk: error: cannot write {args.output}: {exc.strerror}\n")
        return EXIT_USAGE
    err.write(f"{count} records written to {args.output}\n")
    return 0


async def _quarantine_list(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.quarantine import list_quarantine

    count = await list_quarantine(reads, out)
    err.write(f"{count} quarantined\n")
    return 0


async def _quarantine_replay(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.quarantine import not_quarantined, replay

    missing = [] if args.all else await not_quarantined(runtime, args.ids)
    for inbound_id in missing:
        err.write(f"mailhelpdesk: error: message {inbound_id} is not in quarantine\n")
    results = await replay(runtime, None if args.all else args.ids)
    for r in results:
        where = f"ticket #{r.ticket_number}" if r.ticket_number else r.reason
        out.write(f"{r.inbound_id}: {r.state.value} {where}\n")
    still = sum(1 for r in results if r.state.value == "quarantined")
    return EXIT_FAILURE if still or missing else 0


async def _companies_seed(runtime: "Runtime", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.companies import seed_companies

    count = await seed_companies(runtime, args.file)
    out.write(f"{count} companies seeded from {args.file}\n")
    return 0


async def _companies_list(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mailhelpdesk.commands.companies import list_companies

    await list_companies(out)
    return 0


async def _migrate(reads: "Reads", args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write("database schema is up to date\n")
    return 0


# Commands that read (and ``migrate``, which opening the database does): no mail pipeline is built.
_READS: dict[tuple[str, str | None], ReadHandler] = {
    ("tickets", "list"): _tickets_list,
    ("tickets", "show"): _tickets_show,
    ("explain", None): _explain,
    ("export", None): _export,
    ("quarantine", "list"): _quarantine_list,
    ("companies", "list"): _companies_list,
    ("contacts", "show"): _contacts_show,
    ("outbox", "list"): _outbox_read,
    ("outbox", "show"): _outbox_read,
    ("migrate", None): _migrate,
    ("status", None): _status,
}

# Commands that process or send mail, change tickets, or write other data: the whole runtime is built.
_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("ingest", None): _ingest,
    ("fetch", None): _fetch,
    **{("tickets", action): _ticket_action for action in ("reply", "note", "set", "merge", "split",
                                                                       "collaborators")},
    ("quarantine", "replay"): _quarantine_replay,
    ("companies", "seed"): _companies_seed,
    ("timers", None): _timers,
    ("templates", "render"): _templates_render,
    ("contacts", "set"): _contacts_set,
    **{("outbox", action): _outbox for action in ("send", "retry", "resume")},
}
