"""Charset decoding: declared, mislabelled, unknown and absent charsets; RFC 2047 words; lenient base64."""

import base64

import pytest

from mailhelpdesk.mail.charsets import (
    codec_for,
    decode_base64,
    decode_bytes,
    decode_encoded_words,
    plausibility,
    repair_header_bytes,
)

RU = "Здравствуйте, принтер не печатает уже третий день."
FR = "Café crème, déjà vu : la facture est erronée."
DE = "Die Größe der Datei übersteigt das Maximum."
CZ = "Příliš žluťoučký kůň úpěl ďábelské ódy."
ZH = "你好，我的打印机坏了，请帮忙。"
JA = "プリンターが壊れました。"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        (' "UTF8" ', "utf-8"),
        ("us-ascii", "utf-8"),  # 8-bit bytes under "us-ascii" are nearly always UTF-8
        ("iso-8859-1", "cp1252"),  # mailers put cp1252 quotes under latin-1 labels
        ("gb2312", "gb18030"),
        ("iso-2022-jp", "iso2022_jp_ext"),
        ("windows-1251", "cp1251"),
        ("win-1251", "cp1251"),
        ("KOI8-R", "koi8-r"),
        ("iso-8859-8-i", "iso8859-8"),
        ("x-foo", None),
        ("", None),
        (None, None),
        # Python codecs that are not charsets must never be used to decode mail.
        ("base64", None),
        ("rot13", None),
        ("idna", None),
        ("undefined", None),
        ("unicode_escape", None),
    ],
)
def test_codec_for(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


@pytest.mark.parametrize(
    ("text", "label", "encoding"),
    [
        (RU, "utf-8", "utf-8"),
        (RU, "koi8-r", "koi8-r"),
        (RU, "windows-1251", "cp1251"),
        (FR, "iso-8859-1", "latin-1"),
        ("“Smart quotes” – €5", "iso-8859-1", "cp1252"),
        (CZ, "iso-8859-2", "iso8859-2"),
        ("Œuvre à 100 €", "iso-8859-15", "iso8859-15"),
        (JA, "iso-2022-jp", "iso-2022-jp"),
        (ZH, "gb2312", "gb2312"),
        ("plain ascii", "us-ascii", "ascii"),
        (DE, "us-ascii", "utf-8"),  # "us-ascii" is read as UTF-8 on purpose (see _SUPERSETS)
    ],
)
def test_declared_charsets_decode_exactly(text: str, label: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding), label) == (text, False)


@pytest.mark.parametrize(
    ("text", "label", "encoding"),
    [
        (RU, "utf-8", "cp1251"),  # declared utf-8, really windows-1251
        (RU, "utf-8", "koi8-r"),
        (FR, "utf-8", "latin-1"),  # declared utf-8, really latin-1
        (CZ, "utf-8", "iso8859-2"),
        (FR, "iso-8859-1", "utf-8"),  # declared latin-1, really UTF-8
        (RU, "koi8-r", "utf-8"),
        (ZH, "gb2312", "utf-8"),
        (DE, "x-foo", "utf-8"),  # unknown charset name
        (RU, "x-foo", "cp1251"),
        (RU, None, "cp1251"),  # no charset at all
        (ZH, None, "gb18030"),
        (RU, "undefined", "utf-8"),
    ],
)
def test_mislabelled_and_unknown_charsets_are_recovered(text: str, label: str | None, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding), label) == (text, True)


def test_bom_is_dropped() -> None:
    assert decode_bytes("\ufeffhello".encode("utf-8"), "utf-8") == ("hello", False)


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    text, fallback = decode_bytes(b"\x81\x8d\x8f\x90\x9d", "utf-8")
    assert fallback
    assert text  # some text comes out; nothing raises


def test_plausibility_prefers_the_right_reading() -> None:
    data = RU.encode("cp1251")
    right = plausibility(data.decode("cp1251"))
    for wrong in ("koi8-r", "cp1252", "iso8859-2"):
        assert right > plausibility(data.decode(wrong)), wrong
    assert plausibility("") == 0.0


def test_repair_header_bytes() -> None:
    as_parsed = "Счёт".encode("cp1251").decode("ascii", errors="surrogateescape")
    assert repair_header_bytes(as_parsed) == "Счёт"
    assert repair_header_bytes("already text") == "already text"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?utf-8?B?" + base64.b64encode("Привет".encode()).decode() + "?=", "Привет"),
        ("=?iso-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between encoded words is dropped
        ("=?utf-8?q?a?=\r\n =?iso-8859-1?q?b?=", "ab"),  # also between different charsets
        ("Re: =?utf-8?q?a?= b", "Re: a b"),  # whitespace next to plain text is kept
        ("x=?utf-8?q?a?=y", "xay"),  # words glued to text (invalid, but seen) still decode
        ("=?koi8-r?B?" + base64.b64encode("Почта".encode("koi8-r")).decode() + "?=", "Почта"),
        ("=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет"),
        ("=?utf-8?Q?spaces in Q?=", "spaces in Q"),  # invalid but common
        ("=?utf-8?B?0J/RgNC40LLQtdGC?", "=?utf-8?B?0J/RgNC40LLQtdGC?"),  # unterminated: left alone
    ],
)
def test_decode_encoded_words(header: str, expected: str) -> None:
    assert decode_encoded_words(header) == expected


def test_multibyte_character_split_across_words() -> None:
    data = "Ошибка".encode()
    first, second = base64.b64encode(data[:3]).decode(), base64.b64encode(data[3:]).decode()
    assert decode_encoded_words(f"=?UTF-8?B?{first}?= =?UTF-8?B?{second}?=") == "Ошибка"


@pytest.mark.parametrize(
    ("data", "decoded", "damaged"),
    [
        (b"aGVsbG8=", b"hello", False),
        (b"aGVs\r\nbG8=\n", b"hello", False),
        (b"aGVsbG8", b"hello", False),  # missing padding is harmless
        (b"aGVs!!bG8=", b"hello", True),  # junk characters are skipped and reported
        (b"aGVsbG8=aGk=", b"hellohi", False),  # separately padded chunks
        (b"aGVsbG8=a", b"hello", True),  # one dangling character cannot be decoded
        (b"", b"", False),
    ],
)
def test_decode_base64(data: bytes, decoded: bytes, damaged: bool) -> None:
    assert decode_base64(data) == (decoded, damaged)
