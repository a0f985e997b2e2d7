"""A running service fires SLA timers by itself and picks up an edited rules file within seconds."""

import json
import os
import smtplib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from .test_serve import Service, _wait_processed

RULES = """
calendars:
  office: {timezone: UTC, hours: 24x7}
sla:
  calendar: office
  policies:
    - {name: Standard, first_response: 1h}
rules:
  - name: Breach
    on: sla_breached
    then: {tags: [breached]}
"""
RELOADED = RULES + """
  - name: Reloaded
    on: ticket_created
    when: {subject: {contains: reload}}
    then: {urgency: critical}
"""
BROKEN = RELOADED.replace("urgency: critical", "urgncy: critical")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    (tmp_path / "rules.yaml").write_text(RULES)
    with svc.config.open("a") as config:
        config.write("rules_file: rules.yaml\ntimer_interval: 1\nrules_reload_interval: 1\n")
    svc.start()
    yield svc
    svc.stop()


def send(svc: Service, subject: str, msgid: str, date: datetime | None = None) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Pat <pat@globex.ru>", "support@helpdesk.test", subject
    msg["Message-ID"], msg["Date"] = f"<{msgid}>", format_datetime(date or datetime.now(UTC))
    msg.set_content("Hello\n")
    with smtplib.SMTP("127.0.0.1", svc.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    _wait_processed(svc)


def tickets(svc: Service) -> dict[str, dict[str, Any]]:
    done = svc.cli("export")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return {r["subject"]: r for r in records if r["type"] == "ticket"}


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    later = time.time() + 1  # a new modification time even on a coarse clock
    os.utime(path, (later, later))


def wait_for(check: Any, seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    pytest.fail(f"not within {seconds} s: {check.__doc__ or check}")


def test_an_overdue_ticket_is_breached_by_the_running_service(service: Service) -> None:
    send(service, "Old question", "old@globex.ru", datetime.now(UTC) - timedelta(hours=3))

    def breached() -> bool:
        """the timer job tagged the ticket"""
        return "breached" in tickets(service)["Old question"]["tags"]

    wait_for(breached)
    story = service.cli("explain", "1000").stdout
    assert "SLA first_response breached (due" in story and "rule 'Breach' on sla_breached" in story


def test_an_edited_rules_file_is_used_and_a_broken_one_refused(service: Service, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    edit(rules, RELOADED)
    serial = iter(range(100))

    def reloaded() -> bool:
        """a new mail gets the new rule"""
        number = next(serial)
        send(service, f"reload test {number}", f"r{number}@globex.ru")
        return bool(tickets(service)[f"reload test {number}"]["urgency"] == "critical")

    wait_for(reloaded)
    edit(rules, BROKEN)
    time.sleep(3)  # three looks at the file
    send(service, "reload after a bad edit", "bad@globex.ru")
    assert tickets(service)["reload after a bad edit"]["urgency"] == "critical"  # the last good rules

    service.stop()
    assert service.proc is not None and service.proc.stdout is not None
    log = service.proc.stdout.read().decode()
    assert "rules reloaded from rules.yaml" in log
    assert "the edited rules file is refused (1 problem(s)); the last good rules stay in force" in log
    assert "rules.yaml:16:12: unknown field 'urgncy' in then of rule 'Reloaded'" in log
