"""reply_text benchmark: how often is the new part of a reply exactly right, and at what cost?

    .venv/bin/python bench/reply_text_bench.py [--repeat 20] [--parser NAME ...] [--show NAME ...]

Runs ``reply_text`` over the reply fixtures in tests/data/replies (one ``NAME.txt`` or
``NAME.html`` and its ``NAME.expected.txt`` per case; see the README there) and prints, per
parser: the cases exactly right, the over-trimmed ones (some expected text missing: the worse
error, as the result may go to a customer as is), the under-trimmed ones (quote or signature
left) and the time per reply. HTML fixtures go through ``html_to_text`` first, outside the
timed part, and every parser gets that same text.

Other reply parsers are measured the same way when they can be imported: ``email-reply-parser``,
``mail-parser-reply`` and ``talon`` (quotations, then its rule-based signature cut), and the
last two once more without their signature cut (``-history``). They are not dependencies of
mailhelpdesk; run the bench with an interpreter that has them, e.g.

    python3.11 -m venv /tmp/replylibs
    /tmp/replylibs/bin/pip install nh3 email-reply-parser mail-parser-reply talon
    PYTHONPATH=. /tmp/replylibs/bin/python bench/reply_text_bench.py

A benchmark, not a test: it asserts nothing (tests/unit/test_reply_text_fixtures.py does), and
its timings depend on the machine.
"""

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mailhelpdesk.mail.html_text import html_to_text
from mailhelpdesk.mail.reply_text import reply_text

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "replies"
Parser = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    text: str  # what the parser gets: the .txt as is, or the .html through html_to_text
    expected: str
    html: bool


@dataclass(slots=True)
class Outcome:
    exact: list[str] = field(default_factory=list)
    over: list[str] = field(default_factory=list)
    under: list[str] = field(default_factory=list)
    layout: list[str] = field(default_factory=list)  # only blank lines or indentation differ
    failed: list[str] = field(default_factory=list)  # the parser raised
    seconds: float = 0.0  # best pass over all cases


def load_cases(directory: Path) -> list[Case]:
    cases = []
    for expected_path in sorted(directory.glob("*.expected.txt")):
        name = expected_path.name.removesuffix(".expected.txt")
        html_path, text_path = directory / f"{name}.html", directory / f"{name}.txt"
        html = html_path.exists()
        source = (html_path if html else text_path).read_text(encoding="utf-8")
        text = html_to_text(source) if html else source
        cases.append(Case(name, text, expected_path.read_text(encoding="utf-8"), html))
    return cases


_BLANK_RUN = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """Line endings, trailing spaces and runs of blank lines do not count (see the fixtures' README)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")


def verdict(expected: str, actual: str) -> str:
    """exact, over (an expected line is missing), under (all there, and more), or layout."""
    want, got = normalise(expected), normalise(actual)
    if want == got:
        return "exact"
    want_lines = [line.strip() for line in want.split("\n") if line.strip()]
    got_lines = [line.strip() for line in got.split("\n") if line.strip()]
    remaining = iter(got_lines)
    if not all(line in remaining for line in want_lines):  # a subsequence check: order counts
        return "over"
    return "under" if len(got_lines) > len(want_lines) else "layout"


# === parsers =====================================================================================


def _email_reply_parser() -> Parser:
    from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]

    return lambda text: str(EmailReplyParser.parse_reply(text))


def _mail_parser_reply(*, signature: bool) -> Parser:
    from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]
    from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-not-found]

    # Every language it knows, as a desk with international customers would configure it.
    parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))

    def parse(text: str) -> str:
        replies = parser.read(text).replies
        if not replies:
            return text
        return str(replies[0].body if signature else replies[0].full_body)

    return parse


def _talon(*, signature: bool) -> Parser:
    from talon import quotations  # type: ignore[import-not-found]
    from talon.signature.bruteforce import extract_signature  # type: ignore[import-not-found]

    # talon's machine-learned signature model does not load with current scikit-learn, so its
    # rule-based signature cut follows the quotation cut.
    def parse(text: str) -> str:
        reply = str(quotations.extract_from_plain(text))
        return str(extract_signature(reply)[0]) if signature else reply

    return parse


# The "-history" variants leave the signature alone: both libraries also cut a closing and the
# name under it ("Best regards, / Anna"), which the fixtures keep as the sender's text.
PARSERS: dict[str, Callable[[], Parser]] = {
    "mailhelpdesk": lambda: reply_text,
    "email-reply-parser": _email_reply_parser,
    "mail-parser-reply": lambda: _mail_parser_reply(signature=True),
    "mail-parser-reply-history": lambda: _mail_parser_reply(signature=False),
    "talon": lambda: _talon(signature=True),
    "talon-history": lambda: _talon(signature=False),
}


def available(names: Sequence[str]) -> dict[str, Parser]:
    found = {}
    for name in names:
        try:
            found[name] = PARSERS[name]()
        except ImportError as error:
            print(f"{name}: not installed in this interpreter ({error.name}), skipped")
    return found


# === measuring ===================================================================================


def measure(parse: Parser, cases: Sequence[Case], repeat: int) -> tuple[Outcome, dict[str, str]]:
    outcome, results = Outcome(), {}
    for case in cases:
        try:
            results[case.name] = parse(case.text)
        except Exception as error:  # noqa: BLE001 - a library that raises on a case is a result too
            results[case.name] = ""
            outcome.failed.append(f"{case.name} ({type(error).__name__})")
            continue
        getattr(outcome, verdict(case.expected, results[case.name])).append(case.name)
    best = float("inf")
    raised = {entry.split(" ")[0] for entry in outcome.failed}
    texts = [case.text for case in cases if case.name not in raised]
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            parse(text)
        best = min(best, time.perf_counter() - start)
    outcome.seconds = best
    return outcome, results


def report(name: str, outcome: Outcome, total: int) -> None:
    def share(items: list[str]) -> str:
        return f"{len(items):3} ({len(items) / total * 100:5.1f} %)"

    per_reply = outcome.seconds / total * 1e6
    print(f"{name:26} {share(outcome.exact)}  {share(outcome.over)}  {share(outcome.under)}  "
          f"{len(outcome.layout) + len(outcome.failed):3}   {per_reply:10.1f}")


def details(name: str, outcome: Outcome) -> None:
    for label, items in (("over-trimmed", outcome.over), ("under-trimmed", outcome.under),
                         ("layout only", outcome.layout), ("raised", outcome.failed)):
        if items:
            print(f"  {name} {label} ({len(items)}): {', '.join(items)}")


def show(cases: Sequence[Case], results: dict[str, dict[str, str]], names: Sequence[str]) -> None:
    by_name = {case.name: case for case in cases}
    for wanted in names:
        case = by_name[wanted]
        print(f"\n=== {wanted}{' (html, as text)' if case.html else ''}\n{case.text.rstrip()}")
        print(f"--- expected\n{case.expected.rstrip()}")
        for parser, found in results.items():
            print(f"--- {parser}: {verdict(case.expected, found[wanted])}\n{found[wanted].rstrip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="directory of fixtures")
    parser.add_argument("--repeat", type=int, default=20, help="timed passes over all cases; the best counts")
    parser.add_argument("--parser", action="append", choices=sorted(PARSERS), help="default: all importable")
    parser.add_argument("--show", action="append", default=[], metavar="NAME", help="print a case and results")
    args = parser.parse_args(argv)
    cases = load_cases(args.fixtures)
    print(f"reply_text benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    html = sum(case.html for case in cases)
    print(f"fixtures: {len(cases)} cases in {args.fixtures} ({html} of them HTML, through html_to_text)")
    parsers = available(args.parser or list(PARSERS))
    print(f"\n{'parser':26} {'exact':>13}  {'over-trimmed':>13}  {'under-trimmed':>13}  {'other':>5}   µs per reply")
    measured = {name: measure(parse, cases, args.repeat) for name, parse in parsers.items()}
    for name, (outcome, _) in measured.items():
        report(name, outcome, len(cases))
    print("(other: only blank lines or indentation differ, or the parser raised)\n")
    for name, (outcome, _) in measured.items():
        details(name, outcome)
    show(cases, {name: results for name, (_, results) in measured.items()}, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
