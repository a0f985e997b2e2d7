"""Turning bytes with a declared (often wrong) charset into text without losing it.

Real mail lies about its charset: "utf-8" that is windows-1251, "iso-8859-1" that is
windows-1252, gb2312 text that needs gb18030, names no codec knows. We decode strictly
with the declared charset first, then fall back to a short list of likely candidates
scored for plausibility, and only as a last resort replace undecodable bytes.
"""

import codecs
import unicodedata

# Supersets that decode everything the declared charset can, plus what mailers put there anyway.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "x-user-defined": "cp1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}

# Tried in this order when the declared charset fails; scored, best wins.
_FALLBACKS = ("utf-8", "cp1251", "koi8-r", "cp1252", "iso8859-2", "gb18030")


def codec_for(charset: str | None) -> str | None:
    """The Python codec to use for a declared charset, or None if unknown."""
    if not charset:
        return None
    name = charset.strip().strip('"').strip("'").lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data``; return the text and whether a fallback or replacement was needed."""
    declared = codec_for(charset)
    if declared:
        try:
            return data.decode(declared), False
        except (UnicodeDecodeError, LookupError):
            pass
    if _is_ascii(data):
        return data.decode("ascii"), declared is None and charset is not None
    return _best_guess(data), True


def _is_ascii(data: bytes) -> bool:
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True


def _best_guess(data: bytes) -> str:
    try:
        return data.decode("utf-8")  # valid UTF-8 is almost never an accident
    except UnicodeDecodeError:
        pass
    best_text, best_score = data.decode("utf-8", errors="replace"), -1.0
    for codec in _FALLBACKS[1:]:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = plausibility(text)
        if score > best_score:
            best_text, best_score = text, score
    return best_text


def plausibility(text: str) -> float:
    """Score how much ``text`` looks like human writing in a single script.

    Wrong single-byte guesses produce mixed-case soup, box-drawing characters and
    control codes; right ones produce mostly lowercase letters of one script.
    """
    if not text:
        return 0.0
    score = 0.0
    for ch in text:
        if ch.isspace() or ch in ".,;:!?-()\"'":
            score += 0.5
        elif ch.isalpha():
            score += 1.0 if ch.islower() else 0.3
        elif ch.isdigit():
            score += 0.5
        elif unicodedata.category(ch).startswith(("C", "S")):
            score -= 1.0
    return score / len(text)


def repair_header_bytes(value: str) -> str:
    """Headers with raw 8-bit bytes arrive as surrogate escapes; decode those bytes properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    raw = value.encode("ascii", errors="surrogateescape")
    text, _ = decode_bytes(raw, "utf-8")
    return text
