"""The whole service: `mailhelpdesk serve` receives mail over real SMTP and shows it over HTTP."""

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from integration.dovecot import running_dovecot

from .sink import free_port

SECRET = "serve-test-secret-" + "y" * 32
AGENT, PASSWORD = "ivan@helpdesk.test", "a long enough password"
RULES = "teams:\n  support: {line: 1}\n  billing: {line: 2}\nagents:\n" \
        "  - {email: ivan@helpdesk.test, name: Ivan, teams: [support], role: admin}\n"


class Service:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.smtp_port, self.web_port = free_port(), free_port()
        self.config = root / "config.yaml"
        (root / "rules.yaml").write_text(RULES)
        self.config.write_text(
            f"data_dir: {root / 'data'}\nrules_file: {root / 'rules.yaml'}\n"
            "mailboxes:\n  - {name: support, address: support@helpdesk.test}\n"
            "  - {name: billing, address: billing@helpdesk.test, team: billing}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.cookie = ""

    def start(self) -> None:
        env = {**os.environ, "MAILHELPDESK_SECRET_KEY": SECRET}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailhelpdesk", "--config", str(self.config), "serve",
             "--smtp-port", str(self.smtp_port), "--web-port", str(self.web_port)],
            cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                pytest.fail(f"serve exited with {self.proc.returncode}:\n{out}")
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail("serve did not answer on its web port within 30 s")

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/health", timeout=5) as resp:
            return dict(json.loads(resp.read()))

    def page(self, path: str) -> str:
        """A panel page as the logged-in agent (``log_in`` first)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}", headers={"Cookie": self.cookie})
        with urllib.request.urlopen(request, timeout=5) as resp:
            return str(resp.read().decode())

    def log_in(self, email: str = AGENT, password: str = PASSWORD) -> None:
        """Set the password with the real command, then log in through the form as a browser does."""
        assert self.cli("agents", "set-password", email, stdin=password + "\n").returncode == 0
        opener = urllib.request.build_opener(_NoRedirect)
        with opener.open(f"http://127.0.0.1:{self.web_port}/login", timeout=5) as form:
            csrf = _cookies(form.headers.get_all("Set-Cookie") or [])
            token = re.search(r'name="_csrf_token" value="([^"]+)"', form.read().decode())
        assert token, "no CSRF token in the login form"
        body = urllib.parse.urlencode({"email": email, "password": password, "_csrf_token": token.group(1)})
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}/login", data=body.encode(),
                                         headers={"Cookie": csrf})
        with pytest.raises(urllib.error.HTTPError) as redirected:  # the 303 to the panel
            opener.open(request, timeout=10)
        assert redirected.value.code == 303, redirected.value.read()
        self.cookie = _cookies(redirected.value.headers.get_all("Set-Cookie") or [])
        assert "mhd_session=" in self.cookie

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MAILHELPDESK_SECRET_KEY": SECRET}
        return subprocess.run([sys.executable, "-m", "mailhelpdesk", "--config", str(self.config), *args],
                              cwd=self.root, env=env, capture_output=True, text=True, timeout=60, check=False,
                              input=stdin)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _cookies(headers: list[str]) -> str:
    """A Cookie header from Set-Cookie headers (name=value of each)."""
    return "; ".join(h.split(";", 1)[0] for h in headers)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    svc.start()
    yield svc
    svc.stop()


def _mail(subject: str, sender: str, to: str, msgid: str, reply_to: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, subject, f"<{msgid}>"
    if reply_to:
        msg["In-Reply-To"] = f"<{reply_to}>"
    msg.set_content("Здравствуйте! Принтер в бухгалтерии не печатает.\n")
    return msg


def _wait_processed(svc: Service, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.health()["pending"] == 0:
            return
        time.sleep(0.1)
    pytest.fail("messages still pending")


def test_mail_over_smtp_becomes_a_threaded_ticket_shown_in_the_panel(service: Service) -> None:
    with smtplib.SMTP("127.0.0.1", service.smtp_port, timeout=10) as smtp:
        smtp.send_message(_mail("Принтер не печатает", "Анна <anna@globex.ru>", "support@helpdesk.test",
                                "m1@globex.ru"))
        smtp.send_message(_mail("Re: Принтер не печатает", "Анна <anna@globex.ru>", "support@helpdesk.test",
                                "m2@globex.ru", reply_to="m1@globex.ru"))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("x@example.org", ["nobody@elsewhere.test"], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.recipients["nobody@elsewhere.test"][0] == 550
    _wait_processed(service)
    service.log_in()
    listing = service.page("/")
    assert "Принтер не печатает" in listing and "globex.ru" in listing
    detail = service.page("/tickets/1000")
    assert detail.count("<article") == 3  # two mails and our acknowledgement
    assert "[#1000]" in detail
    shown = service.cli("tickets", "show", "1000")
    assert shown.returncode == 0, shown.stderr
    assert "[references]" in shown.stdout


def test_mail_accepted_before_a_kill_is_processed_after_restart(tmp_path: Path) -> None:
    svc = Service(tmp_path)
    svc.start()
    with smtplib.SMTP("127.0.0.1", svc.smtp_port, timeout=10) as smtp:
        for i in range(20):
            reply = smtp.send_message(_mail(f"Request {i}", f"user{i}@initech.com", "billing@helpdesk.test",
                                            f"k{i}@initech.com"))
            assert reply == {}
    svc.stop(signal.SIGKILL)  # whatever was not processed yet must survive in the inbound table
    svc.start()
    try:
        _wait_processed(svc)
        listed = svc.cli("tickets", "list", "--limit", "100")
        assert listed.returncode == 0, listed.stderr
        assert sum(1 for line in listed.stdout.splitlines() if "Request " in line) == 20
        exported = [json.loads(line) for line in svc.cli("export").stdout.splitlines()]
        tickets = [r for r in exported if r["type"] == "ticket"]
        assert len(tickets) == 20 and {t["mailbox"] for t in tickets} == {"billing"}
        assert {t["team"] for t in tickets} == {"billing"}
    finally:
        svc.stop()


def test_the_panel_needs_a_login_set_by_the_command_line_and_names_no_server(service: Service) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{service.web_port}/", timeout=5) as resp:
        assert resp.url.endswith("/login?next=%2F")  # redirected to the form
        assert "Server" not in resp.headers and resp.headers["X-Frame-Options"] == "DENY"
    weak = service.cli("agents", "set-password", AGENT, stdin="short\n")
    assert weak.returncode == 2 and "at least 10 characters" in weak.stderr
    service.log_in()
    assert "All open" in service.page("/")  # the queues, not the login form

    token = service.cli("agents", "token", AGENT, "--label", "e2e")
    assert token.returncode == 0, token.stderr
    request = urllib.request.Request(f"http://127.0.0.1:{service.web_port}/api/v1/me",
                                     headers={"Authorization": f"Bearer {token.stdout.strip()}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.loads(resp.read())["email"] == AGENT
    foreign = urllib.request.Request(f"http://127.0.0.1:{service.web_port}/login", headers={"Host": "evil.test"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(foreign, timeout=5)
    assert refused.value.code == 400


def test_mail_in_an_imap_mailbox_becomes_a_ticket_while_serve_runs(tmp_path: Path) -> None:
    """serve waits on a real Dovecot account in IDLE (poll_seconds 300): a mail delivered there is a
    ticket within seconds, left unread for the people who read that mailbox; SIGTERM stops it all."""
    with running_dovecot({"desk": "imap secret"}) as dovecot:
        svc = Service(tmp_path)
        (tmp_path / "imap.password").write_text("imap secret\n")
        svc.config.write_text(
            f"data_dir: {tmp_path / 'data'}\nrules_file: {tmp_path / 'rules.yaml'}\nmailboxes:\n"
            "  - name: support\n    address: support@helpdesk.test\n    imap:\n      host: 127.0.0.1\n"
            f"      port: {dovecot.port}\n      security: none\n      username: desk\n"
            f"      password_file: {tmp_path / 'imap.password'}\n      poll_seconds: 300\n")
        svc.start()
        try:
            dovecot.append("desk", _mail("Scanner offline", "Olga <olga@acme.test>", "support@helpdesk.test",
                                         "imap1@acme.test").as_bytes())
            deadline = time.monotonic() + 15
            while "Scanner offline" not in svc.cli("tickets", "list").stdout:
                assert time.monotonic() < deadline, "the IMAP mail did not become a ticket within 15 s"
                time.sleep(0.3)
        finally:
            svc.stop()
        assert svc.proc is not None and svc.proc.poll() is not None  # stopped, the fetcher with it
        with dovecot.session("desk") as client:
            client.select_folder("INBOX")
            assert not any(b"\\Seen" in flags for flags in client.get_flags(client.search("ALL")).values())


@pytest.mark.parametrize("taken", ["smtp", "web"])
def test_a_port_in_use_stops_serve_with_one_line(tmp_path: Path, taken: str) -> None:
    svc = Service(tmp_path)
    port = svc.smtp_port if taken == "smtp" else svc.web_port
    with socket.create_server(("127.0.0.1", port)):
        result = subprocess.run(
            [sys.executable, "-m", "mailhelpdesk", "--config", str(svc.config), "serve",
             "--smtp-port", str(svc.smtp_port), "--web-port", str(svc.web_port)],
            cwd=tmp_path, env={**os.environ, "MAILHELPDESK_SECRET_KEY": SECRET}, capture_output=True, text=True,
            timeout=60, check=False)
    what = "SMTP" if taken == "smtp" else "web panel"
    assert result.returncode == 1
    assert result.stderr == f"mailhelpdesk: error: cannot listen for the {what} on 127.0.0.1:{port}: " \
                            "Address already in use\n"
