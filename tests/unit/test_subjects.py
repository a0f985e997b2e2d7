"""Subject normalisation, reply prefixes and ticket tokens."""

import pytest

from mailhelpdesk.mail.subjects import has_reply_prefix, normalize_subject, strip_prefixes, ticket_tokens


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Printer", "RE: Printer", "re:Printer", "Fwd: Printer", "FW: Printer", "Fw : Printer",
        "AW: Printer", "WG: Printer", "SV: Printer", "Antw: Printer", "Antwort: Printer",
        "Ответ: Printer", "Отв: Printer", "ОТВЕТ: Printer", "Re[2]: Printer", "Re^2: Printer",
        "Re(3): Printer",
        "Re [2]: Printer", "回复：Printer", "回复: Printer", "答复：Printer", "转发：Printer", "TR: Printer",
        "RV: Printer", "Odp: Printer", "VS: Printer", "RE : Printer", "Re: Re: AW: Printer",
        "[EXTERNAL] Re: Printer", "  Re:   Printer  ",
    ],
)
def test_reply_and_forward_prefixes(subject: str) -> None:
    assert has_reply_prefix(subject)
    assert normalize_subject(subject) == "printer"


@pytest.mark.parametrize(
    "subject",
    ["Real issue", "Reply needed", "Regarding invoice", "Fwdd: x", "Answer: soon", "Retour: x", "Printer",
     "Re issue without colon", "Отвертка сломалась", "回复 without colon", ""],
)
def test_no_prefix(subject: str) -> None:
    assert not has_reply_prefix(subject)
    assert strip_prefixes(subject) == (subject, False)


def test_normalize_removes_tokens_case_and_spacing() -> None:
    assert normalize_subject("RE: [#1042]  Printer   BROKEN") == "printer broken"
    assert normalize_subject("[#1042] Re: AW: Printer broken") == "printer broken"
    assert normalize_subject("Real issue") == "real issue"
    assert normalize_subject("Ответ: Принтер Сломан") == "принтер сломан"


def test_ticket_token_before_a_prefix_still_counts_as_reply() -> None:
    assert has_reply_prefix("[#1042] Re: Printer")
    assert not has_reply_prefix("[#1042] Printer")


def test_normalized_subject_is_bounded() -> None:
    assert len(normalize_subject("x" * 5000)) == 900


def test_prefix_loop_is_bounded() -> None:
    text, had = strip_prefixes("Re: " * 1000 + "x")
    assert had
    assert text.startswith("Re: ")  # stops after 20 rounds instead of spinning on hostile input


@pytest.mark.parametrize(
    ("subject", "tokens"),
    [
        ("[#1042] Printer", [1042]),
        ("Re: Printer [#1042]", [1042]),
        ("[#1] and [#22]", [1, 22]),
        ("#1042 without brackets", []),
        ("[# 1042]", []),
        ("[#abc]", []),
        ("[#1234567890123]", []),
    ],
)
def test_ticket_tokens(subject: str, tokens: list[int]) -> None:
    assert ticket_tokens(subject) == tokens
