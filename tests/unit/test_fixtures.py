"""The golden corpus in tests/data/mail: every NNN-*.eml is parsed and checked against NNN-*.expected.json.

An expectation file lists only what that mail is about; the keys are explained in ``_CHECKS``.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailhelpdesk.mail.bounce_report import bounce_details
from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.mail.reply_text import reply_text
from mailhelpdesk.pipeline.steps.auto_reply import auto_reply_reason, automated_signals
from mailhelpdesk.pipeline.steps.bounce import bounce_kind, bounce_reason, bounce_signals

MAIL_DIR = Path(__file__).resolve().parents[1] / "data" / "mail"
FIXTURES = sorted(MAIL_DIR.glob("*.eml"))


def _automatic(actual: str, expected: Any) -> None:
    if expected is True:
        assert actual, "expected an automatic message"
    elif expected is False:
        assert actual == "", f"expected a human message, got {actual!r}"
    else:
        assert actual == expected


def _signals(actual: list[str], expected: Any) -> None:
    """``false``: no weak signal; a list: each is the start of one of the signals."""
    if expected is False:
        assert actual == [], f"expected no automated signal, got {actual}"
        return
    for prefix in expected:
        assert any(signal.startswith(prefix) for signal in actual), f"no signal starts with {prefix!r}: {actual}"


def _attachments(mail: ParsedMail, expected: list[dict[str, Any]]) -> None:
    assert len(mail.attachments) == len(expected), [a.filename for a in mail.attachments]
    for attachment, wanted in zip(mail.attachments, expected, strict=True):
        for key, value in wanted.items():
            assert getattr(attachment, key) == value, (key, attachment)


def _contains(haystack: str, needles: list[str]) -> None:
    for needle in needles:
        assert needle in haystack, f"{needle!r} not in {haystack[:500]!r}"


def _not_contains(haystack: str, needles: list[str]) -> None:
    for needle in needles:
        assert needle not in haystack, f"{needle!r} unexpectedly in {haystack[:500]!r}"


def _addresses(actual: list[tuple[str, str]], expected: list[list[str]]) -> None:
    assert [list(pair) for pair in actual] == expected


_CHECKS: dict[str, Callable[[ParsedMail, Any], None]] = {
    "subject": lambda m, v: _equal(m.subject, v),
    "sender": lambda m, v: _equal(list(m.sender) if m.sender else None, v),
    "to": lambda m, v: _addresses(m.to, v),
    "cc": lambda m, v: _addresses(m.cc, v),
    "message_id": lambda m, v: _equal(m.message_id, v),
    "message_id_synthesized": lambda m, v: _equal(m.message_id_synthesized, v),
    "message_id_endswith": lambda m, v: _equal(m.message_id.endswith(v), True),
    "date": lambda m, v: _equal(m.date.isoformat() if m.date else None, v),
    "in_reply_to": lambda m, v: _equal(m.in_reply_to, v),
    "references": lambda m, v: _equal(m.references, v),
    "text_equals": lambda m, v: _equal(m.text, v),
    "text_contains": lambda m, v: _contains(m.text, v),
    "text_not_contains": lambda m, v: _not_contains(m.text, v),
    "html_contains": lambda m, v: _contains(m.html, v),
    "html_sanitized_contains": lambda m, v: _contains(m.html_sanitized, v),
    "html_sanitized_not_contains": lambda m, v: _not_contains(m.html_sanitized, v),
    "attachments": _attachments,
    "defects": lambda m, v: _equal(m.defects, v),
    "defects_include_prefix": lambda m, v: _prefixes(m.defects, v),
    "embedded_message_ids": lambda m, v: _equal(m.embedded_message_ids, v),
    "bounce": lambda m, v: _automatic(bounce_reason(m), v),
    "auto_reply": lambda m, v: _automatic(auto_reply_reason(m), v),
    "automated": lambda m, v: _signals([*automated_signals(m), *bounce_signals(m)], v),
    "bounce_details": lambda m, v: _equal(bounce_details(m, bounce_kind(bounce_reason(m))).as_data(), v),
    "reply_text": lambda m, v: _equal(reply_text(m.text), v),
}


def _prefixes(defects: list[str], prefixes: list[str]) -> None:
    for prefix in prefixes:
        assert any(d.startswith(prefix) for d in defects), f"no defect starts with {prefix!r}: {defects}"


def _equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def test_the_corpus_is_there() -> None:
    assert len(FIXTURES) >= 80
    for eml in FIXTURES:
        assert eml.with_suffix(".expected.json").exists(), eml.name


@pytest.mark.parametrize("eml", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(eml: Path) -> None:
    expected = json.loads(eml.with_suffix(".expected.json").read_text(encoding="utf-8"))
    unknown = set(expected) - set(_CHECKS)
    assert not unknown, f"unknown expectation keys {unknown}"
    mail = parse_mail(eml.read_bytes())
    for key, value in expected.items():
        try:
            _CHECKS[key](mail, value)
        except AssertionError as exc:
            raise AssertionError(f"{eml.name}: {key}: {exc}") from exc
