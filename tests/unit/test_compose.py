"""compose(): MIME structure, exact header values, wire safety and header injection."""

import dataclasses
import email
import email.policy
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhelpdesk.outbound.compose import compose
from mailhelpdesk.outbound.draft import Draft, OutboundFile

SUBJECT = "Заявка: не работает сервер"
NAME = "Иван Петров"
TEXT = "Здравствуйте, Иван!\n\nСервер снова работает.\n"
HTML = "<p>Здравствуйте, Иван!</p>\n<p>Сервер снова работает.</p>\n"
ALWAYS = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]


def draft(**changes: Any) -> Draft:
    base = Draft(
        from_name="Поддержка",
        from_addr="support@helpdesk.example",
        to=((NAME, "ivan@example.ru"),),
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        message_id="m1.abc@helpdesk.example",
        date=datetime(2024, 3, 5, 9, 30, 15, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)


def full_draft(**changes: Any) -> Draft:
    return draft(
        in_reply_to="orig-1@mail.example.ru",
        references=("root@mail.example.ru", "orig-1@mail.example.ru"),
        reply_to="t-1042.sig@helpdesk.example",
        auto_submitted="auto-replied",
        loop_token="helpdesk-7f3a",
        language="ru",
        **changes,
    )


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def header_names(raw: bytes) -> list[str]:
    lines = header_block(raw).split(b"\r\n")
    return [line.split(b":", 1)[0].decode() for line in lines if not line.startswith((b" ", b"\t"))]


def assert_wire_safe(raw: bytes) -> None:
    assert raw.isascii()
    assert raw.endswith(b"\r\n")
    lines = raw[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line and b"\n" not in line  # no bare CR or LF
        assert len(line) <= 998
    for line in header_block(raw).split(b"\r\n"):
        assert len(line) <= 76, line  # RFC 2047's limit; holds with short addresses and IDs


def body_of(part: EmailMessage) -> str:
    # The wire form is canonical CRLF; compare with the draft's "\n".
    return cast(str, part.get_content()).replace("\r\n", "\n")


def test_multipart_alternative_with_cyrillic_round_trip() -> None:
    raw = compose(draft())
    assert_wire_safe(raw)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert body_of(cast(EmailMessage, plain)) == TEXT
    assert body_of(cast(EmailMessage, html)) == HTML
    for part in (plain, html):
        assert part["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
        assert "MIME-Version" not in part
    assert message["MIME-Version"] == "1.0"


def test_plain_only_when_there_is_no_html() -> None:
    raw = compose(draft(html=""))
    assert_wire_safe(raw)
    message = parse(raw)
    assert not message.is_multipart()
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert body_of(message) == TEXT


def test_mostly_ascii_bodies_are_quoted_printable_cyrillic_ones_base64() -> None:
    ascii_text = "Hello,\n" + "x" * 2000 + " = tail  \n.\nFrom here\n"
    message = parse(compose(draft(text=ascii_text, html="")))
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert body_of(message) == ascii_text
    message = parse(compose(draft(html="")))
    assert message["Content-Transfer-Encoding"] == "base64"


def test_body_line_breaks_become_crlf() -> None:
    raw = compose(draft(text="a\rb\r\nc\nd\x00e\u2028f", html=""))
    assert_wire_safe(raw)
    assert body_of(parse(raw)) == "a\nb\nc\nd\x00e\u2028f\n"


def test_exact_header_values() -> None:
    raw = compose(full_draft(to=((NAME, "ivan@example.ru"), ("", "ops@example.ru"), ("Anna", "anna@example.ru"))))
    assert_wire_safe(raw)
    message = parse(raw)
    assert str(message["From"]) == "Поддержка <support@helpdesk.example>"
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        (NAME, "ivan@example.ru"), ("", "ops@example.ru"), ("Anna", "anna@example.ru"),
    ]
    assert str(message["Subject"]) == SUBJECT
    assert str(message["Date"]) == "Tue, 05 Mar 2024 09:30:15 +0000"
    assert message["Date"].datetime == datetime(2024, 3, 5, 9, 30, 15, tzinfo=UTC)
    assert str(message["Message-ID"]) == "<m1.abc@helpdesk.example>"
    assert str(message["In-Reply-To"]) == "<orig-1@mail.example.ru>"
    assert str(message["References"]) == "<root@mail.example.ru> <orig-1@mail.example.ru>"
    assert str(message["Reply-To"]) == "t-1042.sig@helpdesk.example"
    assert str(message["Auto-Submitted"]) == "auto-replied"
    assert str(message["X-Auto-Response-Suppress"]) == "All"
    assert str(message["X-Loop"]) == "helpdesk-7f3a"
    assert str(message["Content-Language"]) == "ru"
    assert "Precedence" not in message


def test_date_keeps_its_offset() -> None:
    moscow = timezone(timedelta(hours=3))
    message = parse(compose(draft(date=datetime(2024, 3, 5, 12, 30, tzinfo=moscow))))
    assert str(message["Date"]) == "Tue, 05 Mar 2024 12:30:00 +0300"


def test_non_ascii_name_and_subject_are_encoded_words() -> None:
    block = header_block(compose(draft(from_name=NAME)))
    lines = block.decode("ascii").split("\r\n")
    from_line = next(line for line in lines if line.startswith("From:"))
    subject_line = next(line for line in lines if line.startswith("Subject:"))
    assert from_line.startswith("From: =?utf-8?b?") and from_line.endswith("?= <support@helpdesk.example>")
    assert subject_line.startswith("Subject: =?utf-8?")


def test_ascii_subject_stays_readable() -> None:
    block = header_block(compose(draft(subject="Re: [#1042] Printer broken")))
    assert b"\r\nSubject: Re: [#1042] Printer broken\r\n" in block


def test_optional_headers_absent_when_empty() -> None:
    raw = compose(draft())
    assert sorted(header_names(raw)) == sorted([*ALWAYS])
    message = parse(raw)
    for name in ("In-Reply-To", "References", "Reply-To", "Auto-Submitted", "X-Auto-Response-Suppress",
                 "X-Loop", "Content-Language", "Precedence"):
        assert name not in message


def test_optional_headers_present_when_set() -> None:
    names = header_names(compose(full_draft()))
    optional = ["In-Reply-To", "References", "Reply-To", "Auto-Submitted", "X-Auto-Response-Suppress",
                "X-Loop", "Content-Language"]
    assert sorted(names) == sorted([*ALWAYS, *optional])


def test_references_capped_to_first_and_last_nineteen() -> None:
    ids = tuple(f"r{i}@example.org" for i in range(30))
    message = parse(compose(draft(references=ids)))
    assert str(message["References"]).split() == [f"<{i}>" for i in (ids[0], *ids[11:])]
    message = parse(compose(draft(references=ids[:20])))
    assert str(message["References"]).split() == [f"<{i}>" for i in ids[:20]]


def test_long_message_ids_are_never_encoded() -> None:
    # The stdlib would wrap these as encoded-words; they must stay literal, on their own line.
    long_id = "DB9PR03MB7434A8E1F2D4C5E3B8E5B6A1D9A12@DB9PR03MB7434.eurprd03.prod.outlook.com"
    raw = compose(draft(in_reply_to=long_id, references=(long_id, "x" * 100 + "@example.org")))
    block = header_block(raw)
    assert b"=?" not in block.split(b"\r\nDate:")[1]
    assert f"In-Reply-To: <{long_id}>".encode() in block
    assert str(parse(raw)["References"]) == f"<{long_id}> <{'x' * 100}@example.org>"


@pytest.mark.parametrize("subject", ["Ж" * 5000, "word " * 1000, "x" * 5000, "Заявка " * 800])
def test_very_long_subject_is_truncated_and_folded(subject: str) -> None:
    raw = compose(draft(subject=subject))
    assert_wire_safe(raw)
    assert str(parse(raw)["Subject"]) == subject[:900].rstrip(" ")


@pytest.mark.parametrize(
    "name",
    ["Smith, John", 'John "Jack" Smith', "a@b.example", "x <y@z.example>", "semi;colon", "back\\slash",
     "J. R. R. Tolkien", "(comment)", "Петров, Иван", "Иван <ivan@evil.example>", "plain name"],
)
def test_display_names_with_specials_round_trip(name: str) -> None:
    to = ((name, "a@example.org"), (name, "b@example.org"))
    message = parse(compose(draft(from_name=name, to=to)))
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        (name, "a@example.org"), (name, "b@example.org"),
    ]
    assert message["From"].addresses[0].display_name == name


def test_long_quoted_display_name_is_folded_without_losing_its_quotes() -> None:
    # Python 3.11's own folder drops the quotes here and the parser then sees two mailboxes.
    name = "Smith, John (Head of Operations, Infrastructure and Networking), Acme Corporation Ltd"
    raw = compose(draft(to=((name, "john@example.org"),)))
    assert_wire_safe(raw)
    assert [(a.display_name, a.addr_spec) for a in parse(raw)["To"].addresses] == [(name, "john@example.org")]


def test_encoded_word_lookalikes_stay_literal() -> None:
    # The stdlib would decode this and write the CRLF inside it as a real line break.
    trap = "=?utf-8?q?x=0D=0ABcc:_evil@example.com?="
    raw = compose(draft(subject=trap, from_name=trap, to=((trap, "a@example.org"),)))
    assert_wire_safe(raw)
    assert sorted(header_names(raw)) == sorted(ALWAYS)
    message = parse(raw)
    assert str(message["Subject"]) == trap
    assert "Bcc" not in message


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("x\r\nBcc: evil@example.com", "x Bcc: evil@example.com"),
        ("a \r\n\t b", "a b"),
        ("a\x00b\x1bc\x7fd\x85e\u2028f\u2029g", "a b c d e f g"),
        ("\r\n lead and trail \n", "lead and trail"),
        ("many     spaces", "many spaces"),
        ("bad \ud800 surrogate", "bad \ufffd surrogate"),
    ],
)
def test_control_characters_become_one_space(dirty: str, clean: str) -> None:
    raw = compose(draft(subject=dirty, from_name=dirty, to=((dirty, "a@example.org"),)))
    assert_wire_safe(raw)
    assert sorted(header_names(raw)) == sorted(ALWAYS)
    message = parse(raw)
    assert str(message["Subject"]) == clean
    assert message["From"].addresses[0].display_name == clean
    assert message["To"].addresses[0].display_name == clean


BAD_ADDRESSES = [
    "", "no-at-sign", "a b@example.org", "a@example.org\r\nBcc: x@example.com", "<a@example.org>",
    "a@example.org,b@example.org", "a;b@example.org", '"a"@example.org', "a@", "@example.org",
    "a\x00@example.org", "иван@пример.рф", "=?utf-8?q?a?=@example.org", "a@example.org ",
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_bad_addresses_raise(address: str) -> None:
    with pytest.raises(ValueError):
        compose(draft(from_addr=address))
    with pytest.raises(ValueError):
        compose(draft(to=(("Ok", "ok@example.org"), ("Name", address))))
    if address:  # '' means "no Reply-To"
        with pytest.raises(ValueError):
            compose(draft(reply_to=address))


@pytest.mark.parametrize(
    "message_id",
    ["", "no-at-sign", "a b@example.org", "<a@example.org>", "a@b\r\nBcc: x@y", "a,b@c", "ид@x", "=?q?x?=@y",
     "x" * 981 + "@y"],
)
def test_bad_message_ids_raise(message_id: str) -> None:
    with pytest.raises(ValueError):
        compose(draft(message_id=message_id))
    with pytest.raises(ValueError):
        compose(draft(references=("ok@example.org", message_id)))
    if message_id:
        with pytest.raises(ValueError):
            compose(draft(in_reply_to=message_id))


def test_no_recipients_or_naive_date_raise() -> None:
    with pytest.raises(ValueError):
        compose(draft(to=()))
    with pytest.raises(ValueError):
        compose(draft(date=datetime(2024, 3, 5, 9, 30)))


# Customer text: anything, with line breaks, NUL, Unicode separators, lone surrogates and
# ready-made injection attempts mixed in.
NASTY = st.sampled_from([
    "\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85", "\t", " ", ":", ",", ";", "<", ">", "@", '"',
    "\\", "(", "=?", "?=", "Иван", "x\r\nBcc: evil@example.com", "\r\nX-Injected: 1", "\n\nbody",
    "=?utf-8?q?=0D=0ABcc:_evil@example.com?=", "=?utf-8?b?DQpYLUluamVjdGVkOiAx?=",
])
CUSTOMER_TEXT = st.lists(
    st.one_of(st.text(max_size=16), NASTY, st.characters(categories=["Cs"])), max_size=8
).map("".join)


def expected_clean(value: str) -> str:
    value = re.sub("[\ud800-\udfff]", "\ufffd", value)
    return re.sub("[ \x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", value).strip()


@settings(max_examples=300, deadline=None)
@given(from_name=CUSTOMER_TEXT, to_names=st.lists(CUSTOMER_TEXT, min_size=1, max_size=3), subject=CUSTOMER_TEXT)
def test_customer_text_cannot_inject_headers(from_name: str, to_names: list[str], subject: str) -> None:
    to = tuple((name, f"c{i}@example.org") for i, name in enumerate(to_names))
    raw = compose(draft(from_name=from_name, to=to, subject=subject))
    assert_wire_safe(raw)
    assert sorted(header_names(raw)) == sorted(ALWAYS)
    assert not re.search(rb"(?im)^(bcc|x-injected)[ \t]*:", header_block(raw))

    message = parse(raw)
    assert sorted(message.keys()) == sorted(ALWAYS)
    assert str(message["Subject"]) == expected_clean(subject)[:900].rstrip()
    assert [a.addr_spec for a in message["To"].addresses] == [address for _, address in to]
    # Python 3.11's display-name parser keeps the space between adjacent encoded-words and
    # handles Unicode spaces loosely, so names are compared without whitespace.
    names = [squeeze(a.display_name) for a in message["To"].addresses]
    assert names == [squeeze(expected_clean(name)[:200]) for name in to_names]  # names are cut at 200
    assert squeeze(message["From"].addresses[0].display_name) == squeeze(expected_clean(from_name)[:200])
    assert message["From"].addresses[0].addr_spec == "support@helpdesk.example"


def squeeze(value: str) -> str:
    return "".join(value.split())


def test_an_answer_carries_cc_and_files_and_no_file_name_adds_a_header() -> None:
    files = (OutboundFile("manual.pdf", "application/pdf", b"%PDF-1.4"),
             OutboundFile("=?utf-8?q?a=0D=0AX-Evil:_1?=", "text/plain", b"x"),
             OutboundFile("odd.bin", "not a type", b"\x00\x01"))
    raw = compose(draft(cc=(("Bob", "bob@acme.com"),), attachments=files))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Cc"] == "Bob <bob@acme.com>"
    parts = list(cast(EmailMessage, message).iter_attachments())
    assert [p.get_content_type() for p in parts] == ["application/pdf", "text/plain", "application/octet-stream"]
    assert parts[0].get_content() == b"%PDF-1.4" and parts[0].get_filename() == "manual.pdf"
    assert all(p["X-Evil"] is None for p in parts)
    assert b"\r\nX-Evil" not in raw
