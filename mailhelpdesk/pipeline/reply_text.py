"""The new part of a reply: the text above quoted history and the signature (best effort)."""

import re

# A line that introduces quoted history, in the clients and languages we see most.
_HISTORY_MARKERS = [
    r"^-{2,}\s*(?:original message|исходное сообщение|ursprüngliche nachricht|message d'origine"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|forwarded message"
    r"|пересылаемое сообщение|weitergeleitete nachricht)\s*-{2,}\s*$",
    r"^_{10,}\s*$",  # Outlook's rule above the quoted header block
    r"^on\b.{0,200}\bwrote:\s*$",
    r"^am\b.{0,200}\bschrieb.{0,80}:\s*$",
    r"^le\b.{0,200}\ba écrit\s*:\s*$",
    r"^el\b.{0,200}\bescribió:\s*$",
    r"^il\b.{0,200}\bha scritto:\s*$",
    r"^op\b.{0,200}\bschreef.{0,80}:\s*$",
    r"^den\b.{0,200}\bskrev.{0,80}:\s*$",
    r"^.{0,200}\b(?:писал|написал|пишет)(?:\(а\)|а)?\s*:\s*$",
    r"^\d{1,2}[./]\d{1,2}[./]\d{2,4}.{0,100}[,\s].{0,200}:\s*$",  # "12.03.2026 10:15, Иван пишет:"
    r"^(?:from|von|de|от|van|da|od|från|fra):\s.+$",  # a quoted header block without a rule
    r"^在.{0,200}写道[:：]\s*$",
]
_HISTORY = re.compile("|".join(f"(?:{m})" for m in _HISTORY_MARKERS), re.IGNORECASE)
_SIGNATURE = re.compile(
    r"^(?:-- ?|--|__\s*|sent from my \w+.*|sent from (?:mail|outlook) for .*|отправлено с .*|"
    r"von meinem \w+ gesendet.*|envoyé de mon .*|get outlook for .*)$",
    re.IGNORECASE,
)


def reply_text(text: str) -> str:
    """Strip quoted history (marker lines, ``>`` blocks) and the signature from ``text``."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _HISTORY.match(stripped) and index > 0 and _has_content(kept):
            break
        if _HISTORY.match(stripped) and _looks_like_header_block(lines, index):
            break
        if _SIGNATURE.match(stripped) and _has_content(kept):
            break
        if stripped.startswith(">") and _rest_is_quoted(lines, index) and _has_content(kept):
            break
        kept.append(line)
    result = "\n".join(kept).strip()
    return result or text.strip()


def _has_content(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _rest_is_quoted(lines: list[str], start: int) -> bool:
    rest = [line.strip() for line in lines[start:] if line.strip()]
    quoted = sum(1 for line in rest if line.startswith(">"))
    return quoted >= max(1, int(len(rest) * 0.6))


def _looks_like_header_block(lines: list[str], index: int) -> bool:
    following = " ".join(lines[index : index + 6]).lower()
    return any(key in following for key in ("subject:", "sent:", "тема:", "betreff:", "objet:", "date:"))
