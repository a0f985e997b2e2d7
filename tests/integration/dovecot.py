"""A throwaway Dovecot IMAP server on 127.0.0.1 (Debian's dovecot-imapd), for the IMAP tests.

Each server has its own directory (config, users, Maildirs, logs) and port; users log in with
PLAIN passwords from a passwd-file. If it cannot start, the test fails loudly with its log.

A server started with ``introspection_url`` also takes XOAUTH2 (and OAUTHBEARER) logins: Dovecot's
oauth2 passdb posts each token to that URL, an ``Introspection`` endpoint on loopback that stands
in for the OAuth provider (Microsoft, Google) and says which tokens are valid, for whom.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from imapclient import IMAPClient

DOVECOT = "/usr/sbin/dovecot"
_CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = dovecot-test-{port}
log_path = {dir}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechanisms}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_privileged_group =
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Archive {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""

# Tried before the passwords: only for the token mechanisms, so a password is never sent to it.
_OAUTH_PASSDB = """passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
"""
# RFC 7662 introspection: Dovecot posts token=…, the answer says whether it is active and whose.
_OAUTH_ARGS = """introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


@dataclass(frozen=True, slots=True)
class Dovecot:
    directory: Path
    port: int  # IMAP (STARTTLS offered when the server has TLS)
    users: dict[str, str]  # user -> password
    tls_port: int = 0  # implicit TLS (imaps); 0: no TLS
    ca_file: Path | None = None  # the self-signed certificate clients must trust

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> int:
        """Deliver ``raw`` into ``folder``; its UID."""
        with self.session(user) as client:
            answer = client.append(folder, raw, flags=flags)
        return int(answer.split(b"]")[0].split()[-1])

    @contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        client = self.client(user)
        try:
            yield client
        finally:
            client.logout()

    def maildir(self, user: str) -> Path:
        return self.directory / "mail" / user / "Maildir"

    def start(self) -> None:
        # Not captured: the daemon keeps its parent's stdout/stderr open, so a pipe would never close.
        with (self.directory / "start.log").open("w") as start_log:
            started = subprocess.run([DOVECOT, "-c", str(self.directory / "dovecot.conf")], stdout=start_log,
                                     stderr=subprocess.STDOUT, check=False)
        _wait_until_listening(self, started)

    def stop(self) -> None:
        """Stop the server (connections drop); ``start`` brings it back on the same port and mail."""
        subprocess.run([DOVECOT, "-c", str(self.directory / "dovecot.conf"), "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_dovecot(users: dict[str, str], tls: bool = False, introspection_url: str = "") -> Iterator[Dovecot]:
    """A server in a directory of its own under /tmp: Dovecot's auth and mail processes run as other
    users and must reach it (pytest's own temporary directories are private to root). With
    ``introspection_url`` it also accepts XOAUTH2 tokens that this URL says are active."""
    if not Path(DOVECOT).is_file():
        raise AssertionError(f"{DOVECOT} is missing: install dovecot-imapd (scripts/test does)")
    directory = Path(tempfile.mkdtemp(prefix="mhd-dovecot-"))
    directory.chmod(0o755)
    try:
        yield from _serve(directory, users, tls, introspection_url)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _serve(directory: Path, users: dict[str, str], tls: bool, introspection_url: str) -> Iterator[Dovecot]:
    nobody = pwd.getpwnam("nobody")
    for sub in ("run", "state", "mail"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    os.chown(directory / "mail", nobody.pw_uid, nobody.pw_gid)
    (directory / "users").write_text("".join(
        f"{user}:{{PLAIN}}{password}:{nobody.pw_uid}:{nobody.pw_gid}::{directory}/mail/{user}\n"
        for user, password in users.items()))
    port, tls_port = _free_port(), _free_port() if tls else 0
    ssl = _certificate(directory) if tls else "ssl = no"
    oauth = _oauth(directory, introspection_url) if introspection_url else {"oauth_mechanisms": "", "oauth_passdb": ""}
    (directory / "dovecot.conf").write_text(_CONFIG.format(dir=directory, port=port, tls_port=tls_port, ssl=ssl,
                                                           **oauth))
    server = Dovecot(directory, port, users, tls_port, directory / "cert.pem" if tls else None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _oauth(directory: Path, introspection_url: str) -> dict[str, str]:
    """The dovecot.conf parts for token logins; their args file is written beside it."""
    (directory / "oauth2.conf").write_text(_OAUTH_ARGS.format(url=introspection_url))
    return {"oauth_mechanisms": " xoauth2 oauthbearer", "oauth_passdb": _OAUTH_PASSDB.format(dir=directory)}


def _certificate(directory: Path) -> str:
    """A self-signed certificate for 127.0.0.1 and localhost; Dovecot's ssl settings for it."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(directory / "key.pem"),
                    "-out", str(directory / "cert.pem")], capture_output=True, check=True)
    (directory / "key.pem").chmod(0o644)  # read by Dovecot's own processes
    return f"ssl = yes\nssl_cert = <{directory}/cert.pem\nssl_key = <{directory}/key.pem"


def _wait_until_listening(server: Dovecot, started: subprocess.CompletedProcess[bytes]) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    logs = [p.read_text() for p in (server.directory / "start.log", server.directory / "dovecot.log") if p.exists()]
    raise AssertionError(f"Dovecot did not start (exit {started.returncode}):\n" + "\n".join(logs))


@dataclass(slots=True)
class Introspection:
    """An OAuth provider's token introspection endpoint (RFC 7662) on loopback: the tokens it
    accepts (token -> user) are set by the test; every other token is inactive."""

    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)  # the tokens Dovecot asked about, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept_only(self, tokens: dict[str, str]) -> None:
        with self.lock:
            self.tokens = dict(tokens)

    def answer(self, token: str) -> dict[str, object]:
        with self.lock:
            self.asked.append(token)
            user = self.tokens.get(token)
        return {"active": True, "username": user} if user is not None else {"active": False}


def _introspection_handler(endpoint: Introspection) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
            body = json.dumps(endpoint.answer(form.get("token", [""])[0])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test output is for failures

    return Handler


@contextmanager
def running_introspection() -> Iterator[Introspection]:
    """An ``Introspection`` endpoint served from a thread until the block ends."""
    endpoint = Introspection()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _introspection_handler(endpoint))
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/introspect"
    thread = threading.Thread(target=server.serve_forever, name="introspection", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
