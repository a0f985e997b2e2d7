"""Subject normalisation and ticket tokens."""

import re

# Reply/forward prefixes in the languages our customers write in, with counters (Re[2], Re^3)
# and the full-width colon of CJK mailers.
_PREFIX_WORDS = (
    "re", "aw", "sv", "vs", "antw", "antwort", "odp", "ynt", "rif", "r",
    "ответ", "отв", "на", "回复", "回覆", "答复", "fwd", "fw", "wg", "tr", "rv", "enc", "fs", "vb",
    "vl", "i", "doorst", "pd", "пересл", "переслано", "转发", "轉寄", "答覆", "返信", "転送", "회신", "전달",
    "απ", "σχετ", "πρθ", "odg",
)
_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:" + "|".join(re.escape(w) for w in _PREFIX_WORDS) + r")\s*"
    r"(?:\[\d+\]|\^\d+|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"\[#(\d{1,12})\]")
_WS = re.compile(r"\s+")


def strip_prefixes(subject: str) -> tuple[str, bool]:
    """Remove leading reply/forward prefixes; report whether any was present."""
    text, had_prefix = subject, False
    for _ in range(20):
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text, had_prefix = stripped, True
    return text, had_prefix


def normalize_subject(subject: str) -> str:
    """Key for subject comparison: prefixes, ticket tokens, case and spacing removed."""
    text, _ = strip_prefixes(_TOKEN.sub(" ", subject))
    text, _ = strip_prefixes(text)
    return _WS.sub(" ", text).strip().casefold()[:900]


def has_reply_prefix(subject: str) -> bool:
    return strip_prefixes(_TOKEN.sub(" ", subject).strip())[1] or strip_prefixes(subject)[1]


def ticket_tokens(subject: str) -> list[int]:
    return [int(n) for n in _TOKEN.findall(subject)]
