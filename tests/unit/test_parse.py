"""parse_mail(): API details and robustness on hostile input (bounded time and memory, never raises).

Per-feature behaviour on realistic mail lives in the fixture corpus (test_fixtures.py).
"""

import base64
import email
import random
from email.header import Header
from email.message import Message
from email.policy import compat32

import pytest

from mailhelpdesk.mail.parse import (
    MAX_DEPTH,
    MAX_HEADER_CHARS,
    MAX_PARTS,
    ParsedMail,
    content_fingerprint,
    decode_header_value,
    parse_mail,
    parse_msgid_list,
    synthesize_message_id,
)

SIMPLE = b"From: A <a@example.com>\nTo: b@example.com\nSubject: Hi\n\nHello\n"


def _assert_storable(mail: ParsedMail) -> None:
    """Everything we store must encode as UTF-8 and contain no NUL (PostgreSQL rejects both)."""
    for value in (mail.text, mail.html, mail.html_sanitized, mail.subject, mail.message_id):
        value.encode("utf-8")
        assert "\x00" not in value
    for attachment in mail.attachments:
        attachment.filename.encode("utf-8")


# --- hostile input -------------------------------------------------------------------------


def test_zero_bytes_parse_to_an_empty_mail() -> None:
    mail = parse_mail(b"")
    assert mail.sender is None
    assert mail.subject == "" and mail.text == "" and mail.attachments == []
    assert mail.message_id_synthesized
    assert mail.message_id == synthesize_message_id(mail.fingerprint)


@pytest.mark.parametrize("seed", range(20))
def test_binary_junk_never_raises(seed: int) -> None:
    rng = random.Random(seed)
    raw = rng.randbytes(rng.randint(1, 20_000))
    if seed % 2:  # junk behind a plausible header exercises the body decoders too
        raw = b"From: x@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" + raw
    mail = parse_mail(raw)
    _assert_storable(mail)


def test_mime_bomb_is_cut_at_max_parts() -> None:
    parts = b"".join(b"--XX\nContent-Type: text/plain\n\npart %d\n" % i for i in range(10_000))
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=XX\n\n" + parts + b"--XX--\n"
    mail = parse_mail(raw)
    assert any(d.startswith("TooManyParts") for d in mail.defects)
    assert "part 0\n" in mail.text
    assert "part 9999" not in mail.text
    assert mail.text.count("part ") < MAX_PARTS


def _nested(levels: int) -> bytes:
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(levels))
    tail = b"".join(b"\n--b%d--\n" % i for i in reversed(range(levels)))
    return b"From: a@example.com\nSubject: deep\n" + head + b"Content-Type: text/plain\n\ninnermost\n" + tail


def test_nesting_deeper_than_max_depth_is_not_read() -> None:
    mail = parse_mail(_nested(MAX_DEPTH + 20))
    assert any(d.startswith("TooDeep") for d in mail.defects)
    assert "innermost" not in mail.text


def test_three_thousand_levels_of_nesting_keep_the_headers() -> None:
    # The stdlib feed parser recurses per level and raises RecursionError; we fall back to the headers.
    mail = parse_mail(_nested(3000))
    assert mail.subject == "deep"
    assert mail.sender == ("", "a@example.com")
    assert any(d.startswith("ParserFailure: RecursionError") for d in mail.defects)
    assert "innermost" in mail.text  # the body is kept as text rather than lost


def test_one_megabyte_header_is_clipped() -> None:
    big_subject, big_header = b"x" * 1_000_000, b"y " * 500_000
    raw = b"From: a@example.com\nSubject: " + big_subject + b"\nX-Big: " + big_header + b"\n\nbody\n"
    mail = parse_mail(raw)
    assert len(mail.subject) == MAX_HEADER_CHARS
    assert mail.subject.endswith("…")
    assert mail.text == "body\n"
    assert len(mail.header("X-Big")) > 900_000  # header() is not clipped: it is the raw value, decoded


def test_fifty_megabyte_message_parses() -> None:
    blob = random.Random(1).randbytes(37 * 1024 * 1024)
    raw = (
        b"From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: text/plain\n\nsee attachment\n"
        b"--XX\nContent-Type: application/octet-stream; name=dump.bin\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(blob) + b"--XX--\n"
    )
    assert len(raw) > 50_000_000
    mail = parse_mail(raw)
    assert mail.text == "see attachment"
    assert [(a.filename, a.size) for a in mail.attachments] == [("dump.bin", len(blob))]


def test_nul_and_lone_surrogates_never_reach_the_output() -> None:
    subject = b"=?utf-8?B?" + base64.b64encode(b"x\x00y") + b"?="
    raw = b"From: a\x00b <a@example.com>\nSubject: " + subject + b"\n\nbo\x00dy\n"
    mail = parse_mail(raw)
    _assert_storable(mail)
    assert mail.subject == "xy"
    assert mail.text == "body\n"


# --- identity ------------------------------------------------------------------------------


def test_synthesized_message_id_is_stable_and_distinct() -> None:
    first, again = parse_mail(SIMPLE), parse_mail(SIMPLE)
    other = parse_mail(SIMPLE + b"more\n")
    assert first.message_id_synthesized
    assert first.message_id == again.message_id == synthesize_message_id(first.fingerprint)
    assert other.message_id != first.message_id
    relayed = parse_mail(b"Received: from mx2.example.com by mx.helpdesk.test\n" + SIMPLE)
    assert relayed.message_id == first.message_id  # a re-delivery is the same message


def test_fingerprint_ignores_trace_headers_but_not_content() -> None:
    base = parse_mail(SIMPLE)
    redelivered = parse_mail(b"Received: from mx2 by mx3\nDelivered-To: x@example.com\n" + SIMPLE)
    changed = parse_mail(SIMPLE.replace(b"Hello", b"Hallo"))
    assert base.fingerprint == redelivered.fingerprint
    assert base.fingerprint != changed.fingerprint
    assert content_fingerprint(email.message_from_bytes(SIMPLE, policy=compat32), SIMPLE) == base.fingerprint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("<a@x> <b@y>\n <a@x>", ["a@x", "b@y"]),
        ("a@x b@y", ["a@x", "b@y"]),  # brackets omitted by some mailers
        ("<a@x", ["a@x"]),
        ("<no-at-sign>", ["no-at-sign"]),
        ("<" + "x" * 2000 + "@y>", []),
        ("garbage without ids", []),
    ],
)
def test_parse_msgid_list(value: str | None, expected: list[str]) -> None:
    assert parse_msgid_list(value) == expected


def test_message_id_header_variants() -> None:
    assert parse_mail(b"Message-ID: <id-1@example.com>\n\nx").message_id == "id-1@example.com"
    assert parse_mail(b"Message-Id:   id-2@example.com  \n\nx").message_id == "id-2@example.com"
    broken = parse_mail(b"Message-ID: <>\n\nx")
    assert broken.message_id_synthesized


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("plain", "plain"),
        ("=?utf-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
        ("=?utf-8?b?0J/RgNC40LLQtdGC?=", "Привет"),  # lowercase encoding letter
        ("=?UTF-8*ru?Q?=D0=9F=D1=80=D0=B8?=", "При"),  # RFC 2231 language suffix
        ("=?x-unknown-charset?Q?caf=E9?=", "café"),
        ("=?utf-8?B?@@@?=", ""),  # garbage payload decodes to nothing rather than raising
        ("=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"),
        ("a\r\n\tb", "a b"),
    ],
)
def test_decode_header_value(value: str | None, expected: str) -> None:
    assert decode_header_value(value) == expected


def test_decode_header_value_unpacks_compat32_header_objects() -> None:
    # compat32 wraps values with raw 8-bit bytes in Header objects whose str() loses the bytes.
    raw = "Привет".encode().decode("ascii", errors="surrogateescape")
    msg = Message()
    msg["Subject"] = raw
    value = msg.get("Subject")
    assert isinstance(value, Header)
    assert decode_header_value(value) == "Привет"


def test_header_accessors_decode_raw_values() -> None:
    mail = parse_mail("X-Note: Grüße\nX-Note: =?utf-8?Q?zweite?=\n\nx".encode())
    assert mail.header("x-note") == "Grüße"
    assert mail.header_all("X-Note") == ["Grüße", "zweite"]
    assert mail.header("X-Missing") == ""


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Mon, 16 Mar 2026 10:15:00 +0100", "2026-03-16T09:15:00+00:00"),
        ("Mon, 16 Mar 2026 10:15:00 -0000", "2026-03-16T10:15:00+00:00"),
        ("16 Mar 2026 10:15 GMT", "2026-03-16T10:15:00+00:00"),
        ("not a date", None),
        ("Mon, 31 Feb 2026 10:15:00 +0100", None),
        ("", None),
    ],
)
def test_dates_are_aware_utc_or_none(date: str, expected: str | None) -> None:
    mail = parse_mail(f"Date: {date}\n\nx".encode())
    assert (mail.date.isoformat() if mail.date else None) == expected


def test_addresses_lowercased_and_invalid_ones_dropped() -> None:
    mail = parse_mail(b"From: Big <BIG@Example.COM>\nTo: ok@example.com, not-an-address, <>\n\nx")
    assert mail.sender == ("Big", "big@example.com")
    assert mail.to == [("", "ok@example.com")]


def test_an_encoded_word_is_never_an_address() -> None:
    """RFC 2047: an encoded word may only be a display name; decoding it into an address would let
    ``=?utf-8?q?ceo=40bank.example?=`` pass for the bank's CEO."""
    encoded = base64.b64encode("Иван <ivan@example.ru>".encode()).decode()
    assert parse_mail(f"From: =?utf-8?B?{encoded}?=\n\nx".encode()).sender is None
    forged = parse_mail(b"From: =?utf-8?q?ceo=40bank.example?=\nReturn-Path: <x@evil.example>\n\nx")
    assert forged.sender == ("", "x@evil.example")
    named = parse_mail(b"From: =?utf-8?q?ceo=40bank.example?= <x@evil.example>\n\nx")
    assert named.sender == ("ceo@bank.example", "x@evil.example")


@pytest.mark.parametrize(("fallback", "expected"), [
    ("Sender: Desk <desk@acme.example>\n", ("Desk", "desk@acme.example")),
    ("Reply-To: Ann <ann@acme.example>\n", ("Ann", "ann@acme.example")),
    ("Return-Path: <bounce@acme.example>\n", ("", "bounce@acme.example")),
])
def test_mail_without_a_usable_from_takes_its_sender_from_the_next_header(fallback: str,
                                                                          expected: tuple[str, str]) -> None:
    assert parse_mail(f"From: undisclosed\n{fallback}Subject: x\n\nx".encode()).sender == expected


def test_a_list_that_rewrites_from_gives_the_writer_back() -> None:
    """Google Groups and Mailman rewrite From for DMARC; the writer is named in X-Original-Sender or Reply-To."""
    head = "From: 'Anna Petrova' via Users <users@googlegroups.com>\nList-Id: <users.googlegroups.com>\n"
    assert parse_mail(f"{head}X-Original-Sender: anna@acme.example\n\nx".encode()).sender == (
        "Anna Petrova", "anna@acme.example")
    via_reply_to = parse_mail(f"{head}Reply-To: anna@acme.example\n\nx".encode())
    assert via_reply_to.sender == ("Anna Petrova", "anna@acme.example")
    # Without a list, "via" is only words in a name.
    plain = parse_mail(b"From: Bob via Phone <bob@acme.example>\nReply-To: other@acme.example\n\nx")
    assert plain.sender == ("Bob via Phone", "bob@acme.example")


# --- bodies --------------------------------------------------------------------------------


def test_alternative_inside_mixed_keeps_the_text_before_it() -> None:
    # A plain part before a multipart/alternative must not make the alternative's plain part a "duplicate".
    raw = (
        b"Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\nintro\n"
        b"--M\nContent-Type: multipart/alternative; boundary=A\n\n"
        b"--A\nContent-Type: text/plain\n\nplain body\n"
        b"--A\nContent-Type: text/html\n\n<p>html body</p>\n--A--\n--M--\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "intro\n\nplain body"
    assert mail.html == "<p>html body</p>"


def test_empty_plain_alternative_falls_back_to_html() -> None:
    raw = (
        b"Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\n \n"
        b"--A\nContent-Type: text/html\n\n<p>only here</p>\n--A--\n"
    )
    assert parse_mail(raw).text == "only here"


def test_html_meta_charset_is_used_when_mime_says_nothing() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Счёт</body></html>'.encode("cp1251")
    mail = parse_mail(b"Content-Type: text/html\n\n" + html)
    assert mail.text == "Счёт"
    assert mail.defects == []


def test_uuencoded_part_is_decoded() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nx\n"
        b"--B\nContent-Type: application/octet-stream; name=a.txt\nContent-Transfer-Encoding: x-uuencode\n\n"
        b"begin 644 a.txt\n%:&5L;&\\*\n`\nend\n--B--\n"
    )
    (attachment,) = parse_mail(raw).attachments
    assert attachment.filename == "a.txt"
    assert attachment.size == 5


def test_unsafe_filenames_are_neutralised() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nx\n"
        b"--B\nContent-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="../../etc/pass\\wd"\n\n'
        b"data\n--B--\n"
    )
    (attachment,) = parse_mail(raw).attachments
    assert "/" not in attachment.filename and "\\" not in attachment.filename
    assert attachment.filename.endswith("etc_pass_wd")
