"""``mailhelpdesk export``: every documented field, and the same bytes after a repeated ingest."""

import hashlib
from pathlib import Path

from .helpdesk import Helpdesk, summary_of
from .mailbuild import LOG, SCREENSHOT, mail, write_mbox, write_thread

TICKET_FIELDS = {"type", "version", "number", "subject", "status", "urgency", "line", "team", "assignee", "tags",
                 "sla_policy", "deadlines", "sla_clock", "status_since", "mailbox", "company", "requester", "cc",
                 "created_at", "updated_at", "rating", "messages"}
MESSAGE_FIELDS = {"message_id", "in_reply_to", "references", "direction", "visibility", "from", "to", "cc",
                  "subject", "date", "text", "reply_text", "attachments", "flags", "template", "defects",
                  "thread_signal"}
INBOUND_FIELDS = {"type", "version", "id", "mailbox", "state", "reason", "step", "error", "message_id", "from",
                  "subject", "source", "size", "raw_sha256", "accepted_at", "flags"}


def test_export_has_every_documented_field(helpdesk: Helpdesk, inbox: Path) -> None:
    files = write_thread(inbox)
    assert helpdesk.ingest(inbox) == summary_of(created=1, threaded=1, auto_replies=2, bounces=1, ignored=1,
                                                quarantined=1)

    records = helpdesk.export()
    assert [r["type"] for r in records] == ["ticket", "inbound", "inbound", "inbound"]
    ticket = records[0]
    assert set(ticket) == TICKET_FIELDS
    assert ticket["number"] == 1000 and ticket["subject"] == "Server down"
    assert (ticket["status"], ticket["urgency"], ticket["line"], ticket["team"]) == ("new", "normal", 1, "")
    assert (ticket["assignee"], ticket["tags"], ticket["sla_policy"]) == ("", [], "")
    assert ticket["deadlines"] == {"first_response": None, "next_response": None, "update": None, "resolution": None}
    assert ticket["company"] == {"name": "globex.test", "domains": ["globex.test"], "tier": "standard"}
    assert ticket["requester"] == {"email": "eve@ops.globex.test", "name": "Eve Stone"}
    assert ticket["cc"] == [{"email": "max@globex.test", "name": "Max Mild"}]  # our own address is no cc
    assert ticket["created_at"] == "2025-03-03T09:00:00+00:00"
    assert ticket["sla_clock"] == {"stopped_since": None, "stopped_seconds": 0}
    assert ticket["status_since"] == "2025-03-03T09:00:00+00:00"
    assert ticket["updated_at"] == "2025-03-03T09:30:00+00:00"

    messages = ticket["messages"]
    assert [m["message_id"] for m in messages] == ["req@globex.test", "rep@globex.test", "ooo@globex.test",
                                                   "dsn@mx.globex.test"]
    for m in messages:
        assert set(m) == MESSAGE_FIELDS
        assert m["direction"] == "in"
    first, second, ooo, dsn = messages
    assert first["from"] == {"email": "eve@ops.globex.test", "name": "Eve Stone"}
    assert first["to"] == [{"email": "support@helpdesk.test", "name": ""}]
    assert first["cc"] == [{"email": "max@globex.test", "name": "Max Mild"},
                           {"email": "support@helpdesk.test", "name": "Helpdesk"}]
    assert first["date"] == "2025-03-03T09:00:00+00:00"
    assert first["text"] == "Our server is down since 9:00.\n"
    assert first["attachments"] == [
        {"filename": f.filename, "content_type": f.content_type, "size": len(f.data),
         "sha256": hashlib.sha256(f.data).hexdigest()}
        for f in (SCREENSHOT, LOG)
    ]
    assert (first["in_reply_to"], first["references"]) == ([], [])
    assert (second["in_reply_to"], second["references"]) == (["req@globex.test"], ["req@globex.test"])
    assert (second["subject"], second["reply_text"]) == ("Re: Server down", "Still down.")
    assert [(m["visibility"], m["flags"]) for m in messages] == [
        ("public", {"auto_reply": False, "bounce": False, "automated": False}),
        ("public", {"auto_reply": False, "bounce": False, "automated": False}),
        ("internal", {"auto_reply": True, "bounce": False, "automated": False}),
        ("internal", {"auto_reply": True, "bounce": True, "automated": False}),  # the DSN is also Auto-Submitted
    ]
    assert ooo["from"]["email"] == "max@globex.test" and dsn["from"]["email"] == "mailer-daemon@mx.acme.test"

    loose = {Path(r["source"]).name: r for r in records[1:]}
    for r in loose.values():
        assert set(r) == INBOUND_FIELDS
        assert r["mailbox"] == "support"
    loop, junk, stray = loose["5-loop.eml"], loose["6-junk.bin"], loose["7-stray-ooo.eml"]
    assert (loop["message_id"], stray["message_id"]) == ("loop@helpdesk.test", "stray@else.test")
    assert (loop["state"], loop["step"]) == ("ignored", "loop")
    assert "X-Loop" in loop["reason"]
    assert (junk["state"], junk["step"]) == ("quarantined", "parse")
    assert junk["reason"].startswith("not an email")
    assert (junk["size"], junk["raw_sha256"]) == (len(files["6-junk.bin"]),
                                                  hashlib.sha256(files["6-junk.bin"]).hexdigest())
    assert (stray["state"], stray["flags"]) == ("ignored", {"auto_reply": True, "bounce": False, "automated": False})
    assert "not related to any ticket" in stray["reason"]
    assert stray["from"] == "zed@else.test" and stray["subject"] == "Automatic reply: I am away"


def test_second_ingest_of_the_same_input_changes_nothing(helpdesk: Helpdesk, inbox: Path) -> None:
    write_thread(inbox)
    mbox = write_mbox(inbox.parent / "more.mbox", [
        mail(f"Question {i}", sender=f"User {i} <u{i}@initech.test>", message_id=f"q{i}@initech.test", minute=i)
        for i in range(5)
    ])
    first = helpdesk.ingest(inbox, mbox)
    assert first == summary_of(created=6, threaded=1, auto_replies=2, bounces=1, ignored=1, quarantined=1)
    exported = helpdesk.export_text()

    second = helpdesk.ingest(inbox, mbox)

    assert second == summary_of(duplicates=first["messages"])
    assert helpdesk.export_text() == exported
