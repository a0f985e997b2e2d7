"""Invariant "no mail is lost, none processed twice" across ``kill -9`` of a running ingest."""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from .helpdesk import Helpdesk, parse_summary, summary_of
from .mailbuild import mail, out_of_office, reply, without_from, write_mbox

THREADS = 500  # 3 messages each: 1,500 messages
KILL_AFTER_TICKETS = 60
DEADLINE = 240.0


def corpus() -> list[bytes]:
    """Threads of a request and two follow-ups; in every 10th thread the last follow-up is an
    out-of-office, in every 50th the request has no sender and goes to quarantine."""
    mails = []
    for t in range(THREADS):
        sender, subject, first = f"User {t} <user{t}@corp{t % 40}.test>", f"Issue {t}", f"t{t}.0@corp.test"
        if t % 50 == 49:
            mails.append(without_from(message_id=first))
        else:
            mails.append(mail(subject, sender=sender, message_id=first, minute=t,
                              body=f"Problem number {t}.\nFrom the start it failed.\n"))
        mails.append(reply(first, subject, sender=sender, message_id=f"t{t}.1@corp.test", minute=t + 1))
        if t % 10 == 9:
            mails.append(out_of_office(first, sender=f"Away {t} <away{t}@corp{t % 40}.test>",
                                       message_id=f"t{t}.2@corp.test", minute=t + 2))
        else:
            mails.append(reply(f"t{t}.1@corp.test", subject, sender=sender, message_id=f"t{t}.2@corp.test",
                               minute=t + 2))
    return mails


def count(db: Path, sql: str) -> int:
    """One ``count(*)``, read-only so a running writer is not disturbed."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
        return int(conn.execute(sql).fetchone()[0])


def ticket_count(db: Path) -> int:
    return count(db, "SELECT count(*) FROM ticket")


def ticket_count_while_starting(db: Path) -> int:
    """As ``ticket_count``, 0 while the database or its schema does not exist yet."""
    try:
        return ticket_count(db) if db.exists() else 0
    except sqlite3.OperationalError:
        return 0


def interrupted_ingest(helpdesk: Helpdesk, mbox: Path) -> int:
    """Start an ingest and ``kill -9`` it once tickets exist; return the tickets committed by then."""
    victim = helpdesk.popen("ingest", str(mbox), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE
        while (seen := ticket_count_while_starting(helpdesk.sqlite_path)) < KILL_AFTER_TICKETS:
            assert victim.poll() is None, f"ingest ended (exit {victim.returncode}) before it could be killed"
            assert time.monotonic() < deadline, f"only {seen} tickets after {DEADLINE} s"
            time.sleep(0.05)
        helpers = children(victim.pid)  # the parse worker and multiprocessing's resource tracker
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop(victim)
    if (os.cpu_count() or 1) >= 2:
        assert helpers, "ingest of 1,500 messages on a multi-core machine started no parse worker"
    assert wait_gone(helpers, 10.0) == set(), "helper processes outlived the killed ingest"
    committed = ticket_count(helpdesk.sqlite_path)
    assert seen <= committed < THREADS, "the kill did not interrupt the batch"
    return committed


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    """The processes among ``pids`` still alive (not zombies) after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        alive = {p for p in pids if _alive(p)}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def stop(proc: "subprocess.Popen[bytes]") -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Export records without the wall-clock time of acceptance, which differs between runs, and
    without inbound rows' ids: storage keys, of which a re-run's tries at bytes stored already use
    up some (``INSERT … ON CONFLICT DO NOTHING`` takes a number from the sequence, on both engines)."""
    return [{k: v for k, v in r.items() if k != "accepted_at" and not (k == "id" and r.get("type") == "inbound")}
            for r in records]


def test_kill_9_during_ingest_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "archive.mbox", corpus())
    clean, crashed = Helpdesk(tmp_path / "clean"), Helpdesk(tmp_path / "crashed")
    with (tmp_path / "clean.out").open("wb") as clean_out:
        clean_run = clean.popen("ingest", str(mbox), stdout=clean_out, stderr=subprocess.STDOUT)  # meanwhile
        try:
            committed = interrupted_ingest(crashed, mbox)
            pending = count(crashed.sqlite_path, "SELECT count(*) FROM inbound WHERE state = 'accepted'")
            rerun = crashed.ingest(mbox)
            assert clean_run.wait(timeout=DEADLINE) == 0, (tmp_path / "clean.out").read_text()
        finally:
            stop(clean_run)

    reference = parse_summary((tmp_path / "clean.out").read_text())
    # Two follow-ups per thread, less the out-of-offices; the first reply to a quarantined request
    # starts its own ticket (and the out-of-office sent to that request is ignored).
    assert reference == summary_of(created=THREADS, threaded=2 * THREADS - THREADS // 10 - THREADS // 50,
                                   auto_replies=THREADS // 10, quarantined=THREADS // 50)
    assert rerun["duplicates skipped"] >= committed
    assert rerun.get("recovered from an earlier interrupted run", 0) == pending
    assert crashed.query("SELECT count(*) FROM inbound WHERE state = 'accepted'") == [(0,)]
    assert crashed.query("SELECT count(*) FROM inbound") == clean.query("SELECT count(*) FROM inbound")
    assert comparable(crashed.export()) == comparable(clean.export())
    # The re-run's summary accounts for each input message once (a message recovered from the
    # interrupted run is not also counted as a duplicate of itself).
    assert rerun["messages"] == reference["messages"], rerun
