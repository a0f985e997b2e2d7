"""A fresh database gets its schema from the migrations; opening it again changes nothing."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api.migrate import migrate
from tortoise.migrations.autodetector import MigrationAutodetector

from mailhelpdesk.app import running
from mailhelpdesk.config import Settings
from mailhelpdesk.store.db import tortoise_config
from mailhelpdesk.store.models import Ticket

from .conftest import MAILBOXES
from .mails import ingest, mail

TABLES = {"inbound", "company", "company_domain", "contact", "ticket", "ticket_cc", "message", "attachment",
          "event", "ticket_timer", "tortoise_migrations"}


async def query(sql: str) -> list[dict[str, Any]]:
    return list(await Tortoise.get_connection("default").execute_query_dict(sql))


async def table_names(url: str) -> set[str]:
    if url.startswith("sqlite"):
        rows = await query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await query("SELECT table_name AS name FROM information_schema.tables "
                           "WHERE table_schema = 'public'")
    return {str(r["name"]) for r in rows}


async def applied() -> list[tuple[str, str]]:
    rows = await query("SELECT app, name FROM tortoise_migrations ORDER BY id")
    return [(str(r["app"]), str(r["name"])) for r in rows]


async def test_fresh_database_is_migrated_and_reopening_is_a_no_op(
    make_settings: Callable[..., Settings], empty_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(empty_database_url, tmp_path, mailboxes=MAILBOXES)
    async with running(settings) as rt:
        assert await table_names(empty_database_url) >= TABLES
        first = await applied()
        assert ("models", "0001_initial") in first
        number = await ingest(rt, mail())

    async with running(settings) as rt:
        assert await applied() == first  # nothing re-applied, nothing recorded twice
        assert await Ticket.filter(number=number).exists()  # and nothing dropped
        assert await ingest(rt, mail("Second request")) == number + 1


async def test_models_have_no_changes_missing_from_the_migrations(sqlite_url: str,
                                                                  make_settings: Callable[..., Settings],
                                                                  tmp_path: Path) -> None:
    async with running(make_settings(sqlite_url, tmp_path)):
        detector = MigrationAutodetector(Tortoise.apps, tortoise_config(sqlite_url)["apps"])
        pending = [(w.name, [type(op).__name__ for op in w.operations]) for w in await detector.changes()]

    assert pending == [], "models changed without a migration: run `tortoise makemigrations`"



async def test_a_populated_database_is_upgraded_to_the_sla_clock(empty_database_url: str,
                                                                make_settings: Callable[..., Settings],
                                                                tmp_path: Path) -> None:
    """0003 adds NOT NULL columns: a table with rows (PostgreSQL is strict) must take them."""
    database_url = empty_database_url
    config = tortoise_config(database_url)
    await migrate(config=config, target="models.0002_ticket_rules")
    await Tortoise.init(config=config)
    now = "2026-11-23 10:00:00+00:00"
    await query(f"INSERT INTO contact (email, name, created_at) VALUES ('ann@acme.com', 'Ann', '{now}')")
    await query("INSERT INTO ticket (number, subject, normalized_subject, status, urgency, line, team, mailbox,"
                " requester_id, created_at, updated_at, assignee, tags, sla_policy) VALUES (1000, 'Old', 'old',"
                f" 'open', 'normal', 1, '', 'support', 1, '{now}', '{now}', '', '[]', 'Standard')")
    await Tortoise.close_connections()

    async with running(make_settings(database_url, tmp_path, mailboxes=MAILBOXES)):
        assert ("models", "0003_sla_timers") in await applied()
        ticket = await Ticket.get(number=1000)
        assert (ticket.sla_policy, ticket.sla_policy_rule, ticket.sla_paused_seconds) == ("Standard", "", 0)
        assert (ticket.status_since, ticket.sla_paused_at) == (None, None)


async def test_mail_stored_before_message_refs_is_found_by_its_late_parent_after_the_upgrade(
        database_url: str, make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """0015 writes the references of mail stored before 0012 from its own columns."""
    settings = make_settings(database_url, tmp_path, mailboxes=MAILBOXES)
    parent = mail("Scanner jams", message_id="<parent-1@acme.com>")
    answer = mail("Re: Scanner jams", message_id="<answer-1@acme.com>", in_reply_to="<parent-1@acme.com>")
    async with running(settings) as rt:
        number = await ingest(rt, answer)
        await query('DELETE FROM "message_ref"')  # as a database from before 0012 has it
        await query("DELETE FROM tortoise_migrations WHERE name = '0015_backfill_message_refs'")

    async with running(settings) as rt:  # the upgrade
        refs = await query('SELECT "ref" FROM "message_ref"')
        # the answer's parent, and the acknowledgement's reference to the answer
        assert sorted(r["ref"] for r in refs) == ["answer-1@acme.com", "parent-1@acme.com"]
        result = await rt.intake.receive("support", parent, "test")

    assert result is not None and (result.ticket_number, result.created_ticket) == (number, False)
