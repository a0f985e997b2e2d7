"""How a collection of mail is classified: bounces, auto-replies, automated, people.

    .venv/bin/python bench/machine_mail.py DIR [DIR ...] [--expect bounce|human] [--list]

Reads every file under each DIR (one mail per file) and prints how many are bounces (including
complaints and list managers' notices), clear auto-replies, only automated (a ticket, no
automatic answer) and persons' mail, with the time per mail. ``--expect bounce`` prints the
share recognised as machine mail (never a ticket) and names the misses; ``--expect human``
names the mails that would be kept out of tickets. The floor is parsing alone.
"""

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from mailhelpdesk.mail.parse import parse_mail
from mailhelpdesk.pipeline.steps.auto_reply import auto_reply_reason, automated_signals
from mailhelpdesk.pipeline.steps.bounce import bounce_reason, bounce_signals

_SKIP = {"LICENSE", "README", "README.md"}


def verdict(raw: bytes) -> tuple[str, str]:
    mail = parse_mail(raw)
    if reason := bounce_reason(mail):
        return "bounce", reason
    if reason := auto_reply_reason(mail):
        return "auto-reply", reason
    if signals := automated_signals(mail) + bounce_signals(mail):
        return "automated", "; ".join(signals)
    return "person", ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--expect", choices=("bounce", "human"))
    parser.add_argument("--list", action="store_true", help="print each file's verdict")
    args = parser.parse_args(argv)
    files = [p for d in args.dirs for p in sorted(d.rglob("*")) if p.is_file() and p.name not in _SKIP
             and p.suffix != ".json"]
    raws = [p.read_bytes() for p in files]
    started = time.perf_counter()
    for raw in raws:
        parse_mail(raw)
    floor = time.perf_counter() - started
    started = time.perf_counter()
    verdicts = [verdict(raw) for raw in raws]
    took = time.perf_counter() - started
    counts = Counter(kind for kind, _ in verdicts)
    kinds = ("bounce", "auto-reply", "automated", "person")
    print(f"{len(files)} mails: " + ", ".join(f"{counts[k]} {k}" for k in kinds))
    print(f"{took / max(len(files), 1) * 1000:.2f} ms per mail (floor, parsing alone: "
          f"{floor / max(len(files), 1) * 1000:.2f} ms)")
    for path, (kind, reason) in zip(files, verdicts, strict=True):
        wrong = (args.expect == "bounce" and kind not in ("bounce", "auto-reply")) or (
            args.expect == "human" and kind in ("bounce", "auto-reply"))
        if args.list or wrong:
            print(f"{'MISS ' if wrong else ''}{path}: {kind} {reason[:120]}")
    if args.expect == "bounce":
        machine = counts["bounce"] + counts["auto-reply"]
        print(f"recognised as machine mail: {machine}/{len(files)} = {machine / max(len(files), 1):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
