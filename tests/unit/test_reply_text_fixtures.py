"""reply_text() over the reply fixtures in tests/data/replies (see the README there).

Every case must come out exactly as expected, except the known under-trims listed below with
the reason they stay: those must keep every expected line (never an over-trim) and must still
be under-trims, so that the list is updated when one gets fixed.
"""

import re
from pathlib import Path

import pytest

from mailhelpdesk.mail.html_text import html_to_text
from mailhelpdesk.mail.reply_text import reply_text

REPLIES = Path(__file__).resolve().parents[1] / "data" / "replies"
CASES = sorted(path.name.removesuffix(".expected.txt") for path in REPLIES.glob("*.expected.txt"))

KNOWN_UNDER_TRIMS = {
    "wrote-en-4-unquoted": "an attribution with neither a time nor an address and no > quotes below it "
    "reads like the sender's own sentence ('On 3 November you wrote:'), so it is left in place",
    "sig-emdash-line-en": "a line of several dashes separates parts of the sender's own text as often as "
    "it opens a signature; only '--', '-- ' or a single dash does",
}

_BLANK_RUN = re.compile(r"\n{3,}")


def _normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n")


def _result(name: str) -> tuple[str, str]:
    html = REPLIES / f"{name}.html"
    source = html_to_text(html.read_text(encoding="utf-8")) if html.exists() else (
        (REPLIES / f"{name}.txt").read_text(encoding="utf-8"))
    expected = (REPLIES / f"{name}.expected.txt").read_text(encoding="utf-8")
    return _normalise(expected), _normalise(reply_text(source))


def _missing(expected: str, actual: str) -> list[str]:
    """Expected lines that are not in the result, in order (what an over-trim cut)."""
    remaining = iter(line.strip() for line in actual.split("\n"))
    return [line for line in (e.strip() for e in expected.split("\n")) if line and line not in remaining]


def test_there_are_enough_fixtures() -> None:
    assert len(CASES) >= 80
    assert set(KNOWN_UNDER_TRIMS) <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_fixture(name: str) -> None:
    expected, actual = _result(name)
    assert not _missing(expected, actual), f"over-trimmed: {_missing(expected, actual)}\n---\n{actual}"
    if name in KNOWN_UNDER_TRIMS:
        assert actual != expected, f"{name} is right now: remove it from KNOWN_UNDER_TRIMS"
    else:
        assert actual == expected
