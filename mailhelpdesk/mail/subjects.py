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
# The forward prefixes among them: a forward starts a new request, a reply continues one.
_FORWARD_WORDS = frozenset(("fwd", "fw", "wg", "tr", "rv", "enc", "vb", "vl", "i", "doorst", "pd", "пересл",
                            "переслано", "转发", "轉寄", "転送", "전달", "πρθ"))
_FIRST_WORD = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?([^\s:：\[\(^]+)")
# Subjects people reuse for unrelated requests: a match on one of them alone proves little.
_GENERIC = frozenset((
    "", "(no subject)", "no subject", "problem", "problems", "question", "questions", "help", "issue", "request",
    "urgent", "hello", "hi", "info", "information", "support", "error", "test", "fyi", "important", "please help",
    "вопрос", "вопросы", "проблема", "помощь", "срочно", "просьба", "заявка", "ошибка", "здравствуйте", "привет",
    "без темы", "информация", "frage", "problem", "hilfe", "anfrage", "dringend", "fehler", "question", "problème",
    "demande", "urgent", "aide", "pregunta", "problema", "ayuda", "consulta", "domanda", "richiesta", "vraag",
    "質問", "問題", "お問い合わせ", "问题", "咨询", "帮助",
))
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


def is_forward(subject: str) -> bool:
    """Whether the subject's first prefix forwards ("Fwd: Re: x" does; "Re: Fwd: x" answers a forward)."""
    text = _TOKEN.sub(" ", subject)
    if not strip_prefixes(text)[1]:
        return False
    first = _FIRST_WORD.match(text)
    return first is not None and first.group(1).casefold() in _FORWARD_WORDS


def is_generic(normalized: str) -> bool:
    """A subject people reuse for different requests ("Problem", "Вопрос"), or one with no words."""
    return normalized in _GENERIC or not any(ch.isalpha() for ch in normalized)
