"""Turning bytes with a declared (often wrong) charset into text without losing it.

Real mail lies about its charset: "utf-8" that is windows-1251, "iso-8859-1" that is UTF-8,
gb2312 text that needs gb18030, names no codec knows. Bytes that are valid UTF-8 with 8-bit
sequences are decoded as UTF-8 whatever the label says: legacy text almost never forms valid
UTF-8 by accident, while single-byte labels decode anything and so never fail. Otherwise we
decode with the declared charset first, then fall back to a short list of likely candidates
scored for plausibility, and only as a last resort replace undecodable bytes. The same rules
decode RFC 2047 encoded words in headers.
"""

import binascii
import codecs
import re
import unicodedata
from itertools import pairwise

# Supersets that decode everything the declared charset can, plus what mailers put there anyway.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "cp1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-mac-cyrillic": "mac-cyrillic",
    "win-1251": "cp1251",
    "cp-1251": "cp1251",
    "x-cp1251": "cp1251",
    "windows-874": "cp874",
}

# Codecs Python knows that are not charsets: they raise odd errors or rewrite text (idna,
# unicode_escape) instead of decoding it. A message may still name them.
_NOT_CHARSETS = frozenset(
    ("idna", "punycode", "raw-unicode-escape", "raw_unicode_escape", "unicode-escape", "unicode_escape",
     "undefined")
)


# Tried in this order when the declared charset fails; scored, best wins (ties go to the first).
_FALLBACKS = ("cp1251", "koi8-r", "cp1252", "iso8859-2", "gb18030", "cp932")
_SAMPLE_CHARS = 20_000  # scoring more text does not change the verdict, only the time it takes


def codec_for(charset: str | None) -> str | None:
    """The Python codec to use for a declared charset, or None if unknown."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").strip().lower()
    name = _SUPERSETS.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data``; return the text and whether a fallback or replacement was needed."""
    declared = codec_for(charset)
    if (declared is None or declared.startswith("iso2022_jp")) and b"\x1b$" in data and _is_ascii(data):
        jis = decode_jis(data)  # ISO-2022-JP, declared or not, with the vendor characters it carries
        if jis is not None:
            return _strip_bom(jis), declared is None
    if declared and not declared.startswith("utf") and not _is_ascii(data) and _is_utf8(data):
        return _strip_bom(data.decode("utf-8")), True  # "iso-8859-1" or "gb2312" that is really UTF-8
    if declared:
        try:
            return _strip_bom(data.decode(declared)), False
        except (UnicodeError, LookupError, ValueError):
            pass
    if _is_ascii(data):
        return data.decode("ascii"), declared is None and charset is not None
    return _strip_bom(_best_guess(data)), True


_JIS_ESCAPE = re.compile(rb"\x1b(\$@|\$B|\$\(B|\(B|\(J|\(I|\$\(D|\$A|\$\(C|\.A|\.F|N)")


def decode_jis(data: bytes) -> str | None:
    """ISO-2022-JP read as CP932 does: Japanese mail clients put NEC and IBM extension characters
    (①, ㈱, Ⅲ) in it, which the strict codec refuses. None for escapes of other ISO-2022 variants."""
    out: list[str] = []
    mode = b"(B"
    position = 0
    for match in _JIS_ESCAPE.finditer(data):
        out.append(_jis_run(data[position:match.start()], mode))
        mode = match.group(1)
        position = match.end()
        if mode not in (b"$@", b"$B", b"$(B", b"(B", b"(J", b"(I"):
            return None  # JIS X 0212, Chinese or Korean sets: the ISO-2022-JP-2 codec knows them
    out.append(_jis_run(data[position:], mode))
    return "".join(out)


def _jis_run(run: bytes, mode: bytes) -> str:
    if mode in (b"(B", b"(J"):
        return run.decode("ascii", errors="replace")
    if mode == b"(I":  # half-width katakana
        return bytes(b + 0x80 for b in run if 0x21 <= b <= 0x5F).decode("cp932", errors="replace")
    sjis = bytearray()
    for index in range(0, len(run) - 1, 2):
        sjis += _to_sjis(run[index], run[index + 1])
    return sjis.decode("cp932", errors="replace")


def _to_sjis(first: int, second: int) -> bytes:
    """A JIS X 0208 code (two bytes 0x21–0x7E) as its Shift_JIS bytes."""
    if not (0x21 <= first <= 0x7E and 0x21 <= second <= 0x7E):
        return b"?"
    lead = (first - 0x21) // 2 + 0x81
    lead += 0x40 if lead > 0x9F else 0
    trail = second + 0x1F + (1 if second >= 0x60 else 0) if first % 2 else second + 0x7E
    return bytes((lead, trail))


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _is_ascii(data: bytes) -> bool:
    return data.isascii()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _best_guess(data: bytes) -> str:
    if _is_utf8(data):
        return data.decode("utf-8")  # valid UTF-8 with 8-bit bytes is almost never an accident
    best_text, best_score = data.decode("utf-8", errors="replace"), -1.0
    for codec in _FALLBACKS:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = plausibility(text)
        if score > best_score:
            best_text, best_score = text, score
    return best_text


_WORD = re.compile(r"[^\W\d_]+")
_COMMON_PUNCTUATION = frozenset(".,;:!?-()\"'«»„“”‘’/")


def plausibility(text: str) -> float:
    """Score how much ``text`` looks like human writing, roughly in [-1, 1].

    Wrong single-byte guesses produce box-drawing characters and control codes, words that
    mix scripts ("cafй"), flip case mid-word ("зДРАВСТВУЙТЕ" from koi8-r read as cp1251), or
    Latin words made only of accented letters ("Ïðèâåò" from cp1251 read as cp1252).
    """
    sample = text[:_SAMPLE_CHARS]
    if not sample:
        return 0.0
    score = sum(_word_score(word) for word in _WORD.findall(sample))
    last = len(sample) - 1
    for index, ch in enumerate(sample):
        if ch.isalpha():
            continue
        if ch.isspace() or ch in _COMMON_PUNCTUATION or ch.isdigit():
            score += 0.5
        elif "\u3000" <= ch <= "\u303f" or "\uff01" <= ch <= "\uff20":
            score += 0.3  # ideographic and full-width punctuation: "：", "、", "。"
        elif unicodedata.category(ch).startswith("C"):
            score -= 3.0  # C1 controls and unassigned code points do not occur in writing
        elif 0 < index < last and sample[index - 1].isalpha() and sample[index + 1].isalpha():
            score -= 3.0  # a symbol glued inside a word: "Dij┼at"
        else:
            score -= 1.0 if unicodedata.category(ch).startswith("S") else 0.3
    return score / len(sample)


def _word_score(word: str) -> float:
    scripts = {_script(ch) for ch in word}
    if len({"CJK" if s == "KANA" else s for s in scripts}) > 1:  # Japanese mixes kana and kanji
        return -1.0 * len(word)
    if any(a.islower() and b.isupper() for a, b in pairwise(word)):
        return -0.5 * len(word)
    if "LATIN" in scripts and len(word) >= 4 and not any(ch.isascii() for ch in word):
        return -0.5 * len(word)
    if "KANA" in scripts:
        return 1.0 * len(word)  # kana are Japanese: Shift_JIS read as gb18030 makes rare Han characters
    if "CJK" in scripts:
        return 0.8 * len(word)  # a little below alphabets: gb18030 turns any byte pair into a character
    if "HALFWIDTH" in scripts:
        return -0.5 * len(word)  # what other 8-bit text turns into when read as Shift_JIS
    return sum(0.5 if ch.isupper() else 1.0 for ch in word)


_CJK_SCRIPTS = frozenset(("CJK", "HANGUL", "FULLWIDTH", "IDEOGRAPHIC"))
_KANA_SCRIPTS = frozenset(("HIRAGANA", "KATAKANA"))


def _script(ch: str) -> str:
    script = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return "CJK" if script in _CJK_SCRIPTS else "KANA" if script in _KANA_SCRIPTS else script


def repair_header_bytes(value: str, charset: str = "utf-8") -> str:
    """Headers with raw 8-bit bytes arrive as surrogate escapes; decode those bytes properly
    (valid UTF-8 as UTF-8, else as ``charset``, else the best guess)."""
    if value.isascii():  # the common case, checked in C before the per-character scan
        return value
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("utf-8", errors="surrogateescape")
    text, _ = decode_bytes(raw, charset)
    return text


# --- RFC 2047 encoded words ----------------------------------------------------------------

# Lenient on purpose: spaces inside Q text and missing whitespace around words occur in real mail.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*?)\?=")
_GAP = re.compile(r"[ \t\r\n]*")


def decode_encoded_words(text: str) -> str:
    """Decode RFC 2047 words in ``text``; plain text around them is kept as it is.

    Adjacent words with the same charset are decoded together, because mailers split a
    multi-byte character across two words; whitespace between encoded words is dropped.
    """
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
        joins_previous = position > 0 and _GAP.fullmatch(gap) is not None
        if pending and not (joins_previous and charset.lower() == pending_charset.lower()):
            out.append(decode_bytes(bytes(pending), pending_charset)[0])
            pending.clear()
        if not joins_previous:
            out.append(gap)
        pending += _decode_word(match.group(2), match.group(3))
        pending_charset = charset
        position = match.end()
    if pending:
        out.append(decode_bytes(bytes(pending), pending_charset)[0])
    out.append(text[position:])
    return "".join(out)


def _decode_word(encoding: str, payload: str) -> bytes:
    data = payload.encode("utf-8", errors="surrogateescape")
    if encoding in "qQ":
        return binascii.a2b_qp(data.replace(b"_", b" "))
    return decode_base64(data)[0]


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_ALPHABET)  # for bytes.translate: C speed
_B64_WHITESPACE = b" \t\r\n"
_B64_PADDING = re.compile(rb"=+")


def decode_base64(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 the way mail readers do; also report whether the input was damaged.

    Junk characters are skipped, missing padding is added, and runs ended by padding are
    decoded separately (some mailers concatenate separately encoded chunks).
    """
    cleaned = data.translate(None, _B64_JUNK)
    damaged = len(cleaned) != len(data.translate(None, _B64_WHITESPACE))
    body = cleaned.rstrip(b"=")
    chunks = [body] if b"=" not in body else _B64_PADDING.split(cleaned)  # one run: the common case
    out: list[bytes] = []
    for chunk in chunks:
        if len(chunk) % 4 == 1:  # one dangling character cannot encode anything
            chunk, damaged = chunk[:-1], True
        if chunk:
            out.append(binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4)))
    return b"".join(out), damaged
