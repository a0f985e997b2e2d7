"""The REST API in process on each engine: bearer tokens, queues by keyset, a ticket and its
thread, every action through the ticket service, companies and contacts, and the schema."""

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from mailhelpdesk.app import Runtime, running
from mailhelpdesk.config import Settings
from mailhelpdesk.domain.types import TicketStatus, Urgency
from mailhelpdesk.store.accounts import AccountStore
from mailhelpdesk.store.models import Contact, Event, Message, Outbox, Ticket, TicketCollaborator
from mailhelpdesk.store.queues import QUEUES, SORTS
from mailhelpdesk.tickets.changes import SETTABLE_STATUSES
from mailhelpdesk.web.api_types import QueueName, SettableStatus, SortName, StatusName, UrgencyName
from mailhelpdesk.web.app import create_web_app

from .conftest import ruled_settings
from .mails import SUPPORT, Clock, ingest, mail, new_message_id, reply_to

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
teams:
  dispatch: {line: 1}
  network: {line: 2}
agents:
  - {email: anna@example.com, name: Anna Smirnova, teams: [dispatch], role: admin}
  - {email: oleg@example.com, name: Oleg Petrov, teams: [dispatch]}
  - {email: ivan@example.com, name: Ivan Orlov, teams: [network]}
sla:
  calendar: office
  policies:
    - name: Urgent
      urgencies: [high, critical]
      first_response: 1h
      resolution: 8h
    - name: Standard
      first_response: 4h
      resolution: 2d
rules:
  - name: Outages are urgent
    on: ticket_created
    when: {subject: {contains: outage}}
    then: {urgency: critical}
"""
PATHS = ("/api/v1/tickets", "/api/v1/tickets/{number}", "/api/v1/tickets/{number}/messages",
         "/api/v1/tickets/{number}/attachments/{attachment_id}", "/api/v1/tickets/{number}/reply",
         "/api/v1/tickets/{number}/note", "/api/v1/tickets/{number}/collaborators",
         "/api/v1/tickets/{number}/merge", "/api/v1/tickets/{number}/split", "/api/v1/companies",
         "/api/v1/companies/{company_id}", "/api/v1/contacts", "/api/v1/contacts/{contact_id}")


class Client:
    """An API client with oleg's bearer token, on the loopback Host the panel answers to."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"host": "127.0.0.1", "authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def rt(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = ruled_settings(make_settings, database_url, tmp_path, RULES,
                              mailboxes=[{"name": "support", "address": SUPPORT}])
    async with running(settings, clock=Clock(NOW)) as runtime:
        runtime.rules.load()
        yield runtime


@pytest.fixture
async def api(rt: Runtime) -> AsyncIterator[Client]:
    app = create_web_app(rt, clock=lambda: NOW)
    token = await AccountStore().create_token("oleg@example.com", "tests", NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as http:
        yield Client(http, token)


def with_attachment(subject: str = "Invoice", sender: str = "Ann Example <ann@acme.com>") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, subject
    msg["Date"], msg["Message-ID"] = format_datetime(NOW), new_message_id("ann@acme.com")
    msg.set_content("The invoice is attached.\n")
    msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes()


def test_the_schemas_enums_are_the_desks_names() -> None:
    assert set(get_args(QueueName)) == set(QUEUES) and set(get_args(SortName)) == set(SORTS)
    assert get_args(StatusName) == tuple(s.value for s in TicketStatus)
    assert get_args(SettableStatus) == SETTABLE_STATUSES
    assert get_args(UrgencyName) == tuple(u.value for u in Urgency)


# --- who may call ------------------------------------------------------------------------------

async def test_without_a_valid_token_every_call_is_refused(rt: Runtime, api: Client) -> None:
    await ingest(rt, mail(date=NOW))
    revoked = await AccountStore().create_token("anna@example.com", "old", NOW)
    await AccountStore().revoke_tokens("anna@example.com", NOW)
    for authorization in ("", "Bearer nonsense", f"Basic {revoked}", f"Bearer {revoked}", "Bearer "):
        for path in ("/api/v1/tickets", "/api/v1/openapi.json", "/api/v1/companies"):
            response = await api.call("GET", path, headers={"authorization": authorization})
            assert response.status_code == 401, (authorization, path)
            assert response.headers["www-authenticate"] == "Bearer"
    refused = await api.call("POST", "/api/v1/tickets/1000/note", json={"text": "hi"},
                             headers={"authorization": "Bearer nonsense"})
    assert refused.status_code == 401
    assert not await Message.filter(visibility="internal").exists()


# --- reading -----------------------------------------------------------------------------------

async def test_a_queue_pages_by_keyset_with_the_panels_filters(rt: Runtime, api: Client) -> None:
    numbers = [await ingest(rt, mail(f"{'Outage' if i % 2 else 'Question'} {i}", sender=f"u{i}@initech.com",
                                     date=NOW - timedelta(minutes=i))) for i in range(5)]
    for sort in ("due", "urgency", "updated"):
        seen, after = [], ""
        while True:
            page = await api.ok("GET", "/api/v1/tickets", params={"sort": sort, "limit": 2, "after": after})
            seen += [row["number"] for row in page["tickets"]]
            if page["next"] is None:
                break
            after = page["next"]
        whole = await api.ok("GET", "/api/v1/tickets", params={"sort": sort, "limit": 200})
        assert seen == [row["number"] for row in whole["tickets"]] and sorted(seen) == numbers
    critical = await api.ok("GET", "/api/v1/tickets", params={"urgency": "critical", "queue": "unassigned"})
    assert {row["number"] for row in critical["tickets"]} == {numbers[1], numbers[3]}
    row = critical["tickets"][0]
    assert row["urgency"] == "critical" and row["requester"].endswith("@initech.com") and row["overdue"] is False
    assert (await api.ok("GET", "/api/v1/tickets", params={"queue": "mine"}))["tickets"] == []


async def test_a_bad_query_is_a_400_never_a_fresh_start(rt: Runtime, api: Client) -> None:
    await ingest(rt, mail(date=NOW))
    await ingest(rt, mail("Second", sender="bob@initech.com", date=NOW))
    due_cursor = (await api.ok("GET", "/api/v1/tickets", params={"limit": 1}))["next"]
    for params in ({"after": "garbage"}, {"after": "fn4"}, {"sort": "updated", "after": due_cursor},
                   {"after": base64.urlsafe_b64encode(b"due|-~99999999999999").decode()},
                   {"queue": "nonsense"}, {"sort": "best"}, {"limit": 0}, {"limit": -1}, {"limit": 201},
                   {"line": 9}, {"urgency": "panic"}, {"company": 10**30}, {"mailbox": "a\x00b"}):
        response = await api.call("GET", "/api/v1/tickets", params=params)
        assert response.status_code == 400, (params, response.text)


async def test_a_ticket_reads_with_its_people_deadlines_and_followers(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail("Printer outage", cc="Bob <bob@acme.com>", date=NOW))
    await TicketCollaborator.create(ticket=await Ticket.get(number=number), agent="ivan@example.com", created_at=NOW)

    ticket = await api.ok("GET", f"/api/v1/tickets/{number}")

    assert (ticket["number"], ticket["status"], ticket["urgency"], ticket["line"]) == (number, "new", "critical", 1)
    assert ticket["requester"]["email"] == "ann@acme.com" and ticket["requester"]["name"] == "Ann Example"
    assert [c["email"] for c in ticket["cc"]] == ["bob@acme.com"]
    assert ticket["company"]["name"] and ticket["company"]["tier"] == "standard"
    assert ticket["collaborators"] == ["ivan@example.com"] and ticket["mailbox"] == "support"
    assert ticket["sla_policy"] == "Urgent" and ticket["merged_into"] is None and ticket["rating"] is None
    assert datetime.fromisoformat(ticket["deadlines"]["first_response"]) == NOW + timedelta(hours=1)
    assert (await api.call("GET", f"/api/v1/tickets/{number + 50}")).status_code == 404
    assert (await api.call("GET", f"/api/v1/tickets/{10**30}")).status_code == 400
    assert (await api.call("GET", "/api/v1/tickets/-3")).status_code == 400


async def test_the_thread_pages_and_tells_what_became_of_our_mail(rt: Runtime, api: Client) -> None:
    first = mail(date=NOW - timedelta(minutes=5))
    number = await ingest(rt, first)
    await ingest(rt, reply_to(first, body="It also smells of smoke.\n", date=NOW - timedelta(minutes=4)))
    await api.ok("POST", f"/api/v1/tickets/{number}/reply", json={"text": "Please switch it off."})

    thread, after = [], ""
    while True:
        page = await api.ok("GET", f"/api/v1/tickets/{number}/messages", params={"limit": 1, "after": after})
        thread += page["messages"]
        if page["next"] is None:
            break
        after = page["next"]

    whole = (await api.ok("GET", f"/api/v1/tickets/{number}/messages"))["messages"]
    assert [m["id"] for m in thread] == [m["id"] for m in whole]
    assert len({m["date"] for m in thread}) < len(thread)  # mail of the same moment pages by id
    customer = [m for m in thread if m["direction"] == "in"]
    assert [m["from"]["email"] for m in customer] == ["ann@acme.com"] * 2 and customer[0]["delivery"] is None
    assert customer[0]["to"] == [{"email": SUPPORT, "name": ""}] and "smoke" in customer[1]["reply_text"]
    [answer] = [m for m in thread if m["direction"] == "out" and "switch it off" in m["text"]]
    assert answer["delivery"]["status"] == "queued" and answer["delivery"]["audience"] == "customer"
    assert answer["delivery"]["label"] == "to customer · queued" and answer["note"] is False
    assert (await api.call("GET", f"/api/v1/tickets/{number + 50}/messages")).status_code == 404
    assert (await api.call("GET", f"/api/v1/tickets/{number}/messages", params={"after": "x"})).status_code == 400


async def test_attachments_download_as_the_panel_serves_them(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, with_attachment())
    thread = (await api.ok("GET", f"/api/v1/tickets/{number}/messages"))["messages"]
    [attachment] = [a for m in thread if m["direction"] == "in" for a in m["attachments"]]
    assert (attachment["filename"], attachment["content_type"]) == ("invoice.pdf", "application/pdf")

    download = await api.call("GET", f"/api/v1/tickets/{number}/attachments/{attachment['id']}")

    assert download.status_code == 200 and download.content == b"%PDF-1.4 invoice"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''invoice.pdf"
    assert download.headers["content-type"] == "application/octet-stream"
    other = await ingest(rt, mail("Another", date=NOW))
    assert (await api.call("GET", f"/api/v1/tickets/{other}/attachments/{attachment['id']}")).status_code == 404
    assert (await api.call("GET", f"/api/v1/tickets/{number}/attachments/{10**20}")).status_code == 400


# --- acting ------------------------------------------------------------------------------------

async def test_a_reply_is_queued_to_the_customer_as_the_tokens_agent(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail(date=NOW))
    files = [{"filename": "../steps.txt", "content_type": "text/plain",
              "data_base64": base64.encodebytes(b"1. Switch it off.\n" * 10).decode()}]  # wrapped lines

    done = await api.ok("POST", f"/api/v1/tickets/{number}/reply",
                        json={"text": "Please restart it.", "status": "pending", "attachments": files})

    assert done["number"] == number and "status: new → pending" in done["changes"]
    [answer] = await Outbox.filter(ticket__number=number, template="agent_reply")
    assert done["outbox_id"] == answer.id and answer.status == "queued" and answer.recipient == "ann@acme.com"
    assert b"Please restart it." in answer.raw_message and b'filename="steps.txt"' in answer.raw_message
    assert (await Ticket.get(number=number)).status == "pending"
    assert await Event.filter(ticket__number=number, kind="message.agent_answer", actor="agent:oleg@example.com"
                              ).exists()


async def test_a_reply_with_bad_files_sends_nothing(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail(date=NOW))
    chunk = base64.b64encode(b"\0" * (11 * 1024 * 1024)).decode()
    for files, status in (([{"filename": "a", "data_base64": "not base64!"}], 400),
                          ([{"filename": "a", "data_base64": "", "content_type": "text/html\r\nBcc: x@evil.example"}],
                           400),
                          ([{"filename": "a", "data_base64": chunk}, {"filename": "b", "data_base64": chunk}], 413)):
        response = await api.call("POST", f"/api/v1/tickets/{number}/reply", json={"text": "Hi", "attachments": files})
        assert response.status_code == status, response.text[:300]
    assert not await Outbox.filter(ticket__number=number, template="agent_reply").exists()


async def test_a_note_stays_inside(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail(date=NOW))
    customer_mail = await Outbox.filter(audience="customer").count()

    done = await api.ok("POST", f"/api/v1/tickets/{number}/note", json={"text": "@ivan can you look?"})

    assert done == {"number": number, "changes": [], "outbox_id": None}
    note = await Message.get(ticket__number=number, visibility="internal")
    assert note.text == "@ivan can you look?" and note.from_addr == "oleg@example.com"
    assert await Outbox.filter(audience="customer").count() == customer_mail
    assert await Outbox.filter(template="agent_mention", recipient="ivan@example.com").exists()


async def test_fields_change_and_values_the_desk_does_not_know_change_nothing(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail(date=NOW))
    fields = {"status": "open", "urgency": "high", "line": 2, "team": "network", "assignee": "Ivan@example.com",
              "tags_add": ["printer", "Floor3"]}

    done = await api.ok("PATCH", f"/api/v1/tickets/{number}", json=fields)

    assert "urgency: normal → high" in done["changes"]
    ticket = await Ticket.get(number=number)
    assert (ticket.status, ticket.urgency, ticket.line, ticket.team, ticket.assignee) == (
        "open", "high", 2, "network", "ivan@example.com")
    assert sorted(ticket.tags) == ["floor3", "printer"]
    for body, status in (({"team": "sales"}, 422), ({"assignee": "stranger@evil.example"}, 422),
                         ({"status": "new"}, 400), ({"line": 7}, 400), ({"tags_add": ["-x"]}, 400),
                         ({"tags_add": ["a"], "tags_remove": ["A"]}, 400), ({"colour": "red"}, 400),
                         ({"urgency": 5}, 400)):
        response = await api.call("PATCH", f"/api/v1/tickets/{number}", json=body)
        assert response.status_code == status, (body, response.text)
    assert "unknown team 'sales'" in (await api.call("PATCH", f"/api/v1/tickets/{number}",
                                                     json={"team": "sales"})).json()["detail"]
    after = await Ticket.get(number=number)
    assert (after.team, after.assignee, sorted(after.tags)) == ("network", "ivan@example.com", ["floor3", "printer"])
    removed = await api.ok("PATCH", f"/api/v1/tickets/{number}", json={"tags_remove": ["printer"], "assignee": ""})
    assert removed["number"] == number
    assert (await Ticket.get(number=number)).tags == ["floor3"]


async def test_a_refused_action_is_a_409_with_the_reason_and_changes_nothing(rt: Runtime, api: Client) -> None:
    ours = await ingest(rt, mail(date=NOW))
    theirs = await ingest(rt, mail("Other", sender="eve@globex.ru", date=NOW))
    events = await Event.all().count()

    refused = await api.call("POST", f"/api/v1/tickets/{ours}/merge", json={"into": theirs})
    into_itself = await api.call("POST", f"/api/v1/tickets/{ours}/merge", json={"into": ours})
    only_mail = await Message.get(ticket__number=ours, direction="in")
    split = await api.call("POST", f"/api/v1/tickets/{ours}/split", json={"message": only_mail.id})

    assert refused.status_code == 409 and "different customers" in refused.json()["detail"]
    assert into_itself.status_code == 409 and into_itself.json()["detail"] == f"cannot merge #{ours} into itself"
    assert split.status_code == 409 and "only customer mail stays" in split.json()["detail"]
    assert await Event.all().count() == events
    assert (await Ticket.get(number=ours)).merged_into is None
    unknown = await api.call("POST", f"/api/v1/tickets/{theirs + 50}/note", json={"text": "hi"})
    assert unknown.status_code == 404
    assert (await api.call("POST", f"/api/v1/tickets/{ours}/merge", json={"into": 10**30})).status_code == 400


async def test_merge_split_and_collaborators(rt: Runtime, api: Client) -> None:
    first = mail(date=NOW)
    one = await ingest(rt, first)
    two = await ingest(rt, mail("Printer again", date=NOW))
    await ingest(rt, reply_to(first, body="And the scanner is broken too.\n", date=NOW))

    followers = await api.ok("POST", f"/api/v1/tickets/{one}/collaborators", json={"add": ["anna@example.com"]})
    stranger = await api.call("POST", f"/api/v1/tickets/{one}/collaborators", json={"add": ["x@evil.example"]})
    merged = await api.ok("POST", f"/api/v1/tickets/{two}/merge", json={"into": one})
    again = await api.call("POST", f"/api/v1/tickets/{two}/note", json={"text": "hi"})
    scanner = await Message.get(ticket__number=one, text__contains="scanner")
    split = await api.ok("POST", f"/api/v1/tickets/{one}/split", json={"message": scanner.id})

    assert followers["changes"] == ["collaborator + anna@example.com"]
    assert stranger.status_code == 422 and "not a declared agent" in stranger.json()["detail"]
    assert merged["number"] == one and (await Ticket.get(number=two)).merged_into == one
    assert again.status_code == 409 and again.json()["detail"] == f"ticket #{two} was merged into #{one}"
    assert split["number"] not in (one, two)
    assert (await Message.get(id=scanner.id).prefetch_related("ticket")).ticket.number == split["number"]
    assert (await api.ok("GET", f"/api/v1/tickets/{two}"))["merged_into"] == one


async def test_malformed_bodies_are_400s(rt: Runtime, api: Client) -> None:
    number = await ingest(rt, mail(date=NOW))
    path = f"/api/v1/tickets/{number}/note"
    for content in (b"{not json", b"\xff\xfe\x00", b'{"text": 5}', b'{"text": "a\\u0000b"}', b'{"text": ""}',
                    b'{"text": "\\ud800"}', b"[]", b'{"text": "hi", "extra": 1}', b""):
        response = await api.call("POST", path, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400, (content, response.text)
    assert not await Message.filter(ticket__number=number, visibility="internal").exists()


# --- companies and contacts --------------------------------------------------------------------

async def test_companies_and_contacts_page_by_id(rt: Runtime, api: Client) -> None:
    for i in range(3):
        await ingest(rt, mail(f"Question {i}", sender=f"User {i} <user{i}@company{i}.com>", date=NOW))
    await ingest(rt, mail("More", sender="Other <other@company0.com>", date=NOW))

    first = await api.ok("GET", "/api/v1/companies", params={"limit": 2})
    rest = await api.ok("GET", "/api/v1/companies", params={"limit": 2, "after": first["next"]})
    companies = first["companies"] + rest["companies"]
    assert rest["next"] is None and len(companies) == 3
    [zero] = [c for c in companies if c["domains"] == ["company0.com"]]
    company = await api.ok("GET", f"/api/v1/companies/{zero['id']}")
    assert (company["contacts"], company["tickets"], company["tickets_by_status"]) == (2, 2, {"new": 2})

    contacts = await api.ok("GET", "/api/v1/contacts", params={"company": zero["id"]})
    assert sorted(c["email"] for c in contacts["contacts"]) == ["other@company0.com", "user0@company0.com"]
    [found] = (await api.ok("GET", "/api/v1/contacts", params={"email": " User1@Company1.com"}))["contacts"]
    await Contact.filter(id=found["id"]).update(preferred_name="Uno", language="ru", timezone="Europe/Moscow")
    contact = await api.ok("GET", f"/api/v1/contacts/{found['id']}")
    assert (contact["name"], contact["preferred_name"], contact["language"], contact["timezone"]) == (
        "User 1", "Uno", "ru", "Europe/Moscow")
    assert contact["company"]["name"] and contact["tickets"] == 1
    for path in ("/api/v1/companies/999999", "/api/v1/contacts/999999"):
        assert (await api.call("GET", path)).status_code == 404
    for path in ("/api/v1/companies/99999999999", "/api/v1/contacts?after=-1", "/api/v1/companies?limit=1000"):
        assert (await api.call("GET", path)).status_code == 400


# --- the schema --------------------------------------------------------------------------------

async def test_the_schema_lists_the_api_and_not_the_panel(api: Client) -> None:
    response = await api.call("GET", "/api/v1/openapi.json")

    assert response.status_code == 200
    schema = json.loads(response.text)
    assert schema["info"]["title"] == "mailhelpdesk" and schema["openapi"].startswith("3.")
    assert set(PATHS) <= set(schema["paths"]) and all(p.startswith("/api/v1/") for p in schema["paths"])
    assert schema["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    limit = next(p for p in schema["paths"]["/api/v1/tickets"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 200)
    reply = schema["paths"]["/api/v1/tickets/{number}/reply"]["post"]
    assert {"200", "404", "409", "413"} <= set(reply["responses"])
    assert (await api.call("GET", "/api/v1/openapi.json", headers={"authorization": ""})).status_code == 401
    mistyped = await api.call("GET", "/api/v1/tickets/oops")  # JSON, not the schema router's HTML page
    assert mistyped.status_code == 404 and mistyped.headers["content-type"] == "application/json"
