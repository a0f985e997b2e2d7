"""A throwaway Postfix on 127.0.0.1 (Debian's package), relaying one domain to an LMTP port.

Each instance has its own config and queue directories, SMTP port and log file, and runs no
daemon in a chroot; it delivers ``helpdesk.test`` over LMTP to the port it is given, retrying
every second or two while nothing listens there. If it cannot start, the test fails loudly
with its log. Starting Postfix needs root (as CI runs).
"""

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
DOMAIN = "helpdesk.test"

_MAIN = """compatibility_level = 3.6
myhostname = mx.{domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {domain}
relay_transport = lmtp:inet:127.0.0.1:{lmtp_port}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
syslog_name = mhd-postfix-{smtp_port}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
lmtp_connect_timeout = 2s
default_destination_concurrency_limit = 4
"""

# type private unpriv chroot wakeup maxproc command: nothing chrooted, only what relaying needs.
_MASTER = """127.0.0.1:{smtp_port} inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
smtp unix - - n - - smtp
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass
class Postfix:
    dir: Path
    smtp_port: int

    @property
    def conf(self) -> Path:
        return self.dir / "conf"

    def postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POSTFIX, "-c", str(self.conf), *args], capture_output=True, text=True,
                              timeout=60, check=False)

    def queue(self) -> str:
        """``postqueue -p``: what is still waiting ("Mail queue is empty" when nothing)."""
        return subprocess.run(["postqueue", "-c", str(self.conf), "-p"], capture_output=True, text=True,
                              timeout=30, check=False).stdout

    def flush(self) -> None:
        """Try the deferred mail now rather than at the next queue run."""
        subprocess.run(["postqueue", "-c", str(self.conf), "-f"], capture_output=True, timeout=30, check=False)

    def log(self) -> str:
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_postfix(lmtp_port: int) -> Iterator[Postfix]:
    root = Path(tempfile.mkdtemp(prefix="mhd-postfix-"))
    root.chmod(0o755)  # Postfix's daemons run as the postfix user and must reach the queue
    server = Postfix(root, _free_port())
    server.conf.mkdir()
    (root / "queue").mkdir()  # the daemons create their directories below it at start
    values = {"domain": DOMAIN, "dir": root, "lmtp_port": lmtp_port, "smtp_port": server.smtp_port}
    (server.conf / "main.cf").write_text(_MAIN.format(**values))
    (server.conf / "master.cf").write_text(_MASTER.format(**values))
    try:
        _start(server)
        yield server
    finally:
        server.postfix("stop")
        shutil.rmtree(root, ignore_errors=True)


def _start(server: Postfix) -> None:
    started = server.postfix("start")
    if started.returncode != 0:
        raise RuntimeError(f"postfix did not start ({started.returncode}):\n{started.stderr}\n{server.log()}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.smtp_port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"postfix does not listen on {server.smtp_port} after 30 s:\n{server.log()}")
