"""The new part of a reply: the text above quoted history and the signature (best effort).

History starts at the first of: a separator line ("-----Original Message-----"), an
attribution line ("On ... wrote:", possibly wrapped over three lines), an Outlook-style
header block ("From:/Sent:/To:/Subject:" in many languages), or a block of ``>`` lines.
When the sender answered below or between ``>`` quotes, ``reply_text`` keeps everything up
to the sender's last own line, the quotes included (they say what each answer answers);
only a trailing quote goes. ``new_text`` keeps just the answers. When nothing new is left,
``reply_text`` returns the whole text: a message that is all quote still says something.
Zero-width characters (Gmail's marks) are ignored when markers are recognised. Only the
first ``MAX_LINES`` lines are searched, which keeps the work linear and bounded on huge bodies.

The result may be sent on to a customer as is (an agent's reply by mail), so a doubtful
marker is left in place: cutting a sentence of the sender is worse than leaving a quote.
Markers that people also write in their own text ("In your message you wrote:", "From:
Monday ...", "Sent from my phone today") count only with more evidence around them.
"""

import re

MAX_LINES = 10_000

_VERBS = (
    r"wrote|schrieb|a écrit|escribió|ha scritto|schreef|geschreven|skrev|escreveu|napisał(?:\(a\))?|pisze"
    r"|kirjoitti|írta|yazdı|написал(?:\(а\)|а)?|писал(?:\(а\)|а|и)?|пишет"
)
_INTRO_WORDS = r"on|am|le|el|il|op|den|em|w dniu|dnia|в|kl\."  # what an attribution may start with
# Mailers may make the line bold ("*----- Original Message -----*") when HTML becomes text, and
# draw it with "=" or "_" (Zoho: "===== Forwarded message =====").
_SEPARATOR = re.compile(
    r"^\**(?:[-=_]{2,}\s*(?:original message|исходное сообщение|ursprüngliche nachricht|message d'origine"
    r"|mensaje original|messaggio originale|oorspronkelijk bericht|oprindelig meddelelse|originalmeddelande"
    r"|alkuperäinen viesti|wiadomość oryginalna|původní zpráva|forwarded message|пересылаемое сообщение"
    r"|weitergeleitete nachricht|message transféré|mensaje reenviado|oprindelig besked|opprinnelig melding"
    r"|ursprungligt meddelande|originalnachricht)\s*[-=_]{2,}"
    rf"|-{{2,}}\s*(?:{_INTRO_WORDS})\s.{{0,300}}\s(?:{_VERBS})(?!\w).{{0,300}}-{{2,}}"  # Zoho: "---- On ... wrote ----"
    r"|begin forwarded message:|début du message réexpédié\s?:|-{3,}\s*forwarded by .*-{3,})\**$",
    re.IGNORECASE,
)
_SEPARATOR_FIRST = "*-=_bBdD"  # what a separator line can start with: a cheap test before the regex
# Gmail's tracking mark and other invisible characters that mailers put in and around markers.
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
_RULE = re.compile(r"^_{10,}$")  # Outlook's line above its header block; mailing list footers
_ORNAMENT = re.compile(r"^[-_=*~—–\s]*$")  # a line of dashes left above a cut
_WRAP_WIDTH = 60  # a quoted line at least this long may have been wrapped by a mailer
_CLOCK = r"(?<![\d.])\d{1,2}[:.]\d{2}(?![\d.])"  # 10:15, or 17.50 (Finnish); not the 03.11 of a date
_ATTRIBUTION = re.compile(
    rf"^(?:(?:{_INTRO_WORDS})\s.{{0,300}}?"
    rf"\b(?:{_VERBS})(?!\w)(?:.{{0,150}}[:：])?"
    # The verb first: "Ivan <i@a.b> schrieb am Mo., 3. Nov. 2026, 10:15:", "Вы писали 3 ноября 2026 г., 10:15:"
    rf"|.{{0,300}}\b(?:{_VERBS})(?!\w).{{0,150}}[:：]"
    r"|.{0,300}(?:写道|寫道|書きました|님이 작성)\s*[:：]?"
    # No verb (Gmail in Russian, Yandex, Mail.ru): a time and an address in angle brackets, as
    # mailers write them and people seldom do.
    rf"|(?=.{{0,300}}{_CLOCK})(?=.{{0,300}}<\s?[\w.+-]+@[\w-]+\.[\w.-]+\s?>).{{0,300}}[:：])\s*$",
    re.IGNORECASE,
)
_VERB_AT_END = re.compile(rf"(?:\b(?:{_VERBS})|写道|寫道|書きました|님이 작성)$", re.IGNORECASE)
# An attribution with both is a mailer's: enough alone, even when the history below is not quoted.
_COMPLETE = re.compile(rf"(?=.*{_CLOCK}).*[\w.+-]+@[\w-]+\.[\w.-]+")
# Where a wrapped attribution may start: an intro word, or any line with a date or time in it.
_INTRO = re.compile(rf"^(?:(?:{_INTRO_WORDS})\s|.{{0,100}}\d)", re.IGNORECASE)
# Mailers write the sender's name; a person writes "On Monday I wrote to billing@... at 10:15:".
_FIRST_PERSON = re.compile(
    r"(?<!\S)(?:i|we|my|our|ich|wir|mein\w*|unser\w*|je|j'\w*|nous|notre|nos|я|мы|мо[йяиё]|наш\w*)(?!\S)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\*?\s*([^\W\d_][^:：]{0,24}?)\s*\*?\s*[:：]")
_FROM_LABELS = frozenset((
    "from", "von", "de", "van", "da", "от", "fra", "från", "od", "lähettäjä", "feladó", "kimden", "发件人",
    "寄件者", "差出人", "보낸 사람", "보낸사람", "expéditeur", "remetente", "mittente", "afzender",
    "avsändare", "nadawca", "odesílatel",
))
_SENT_LABELS = frozenset((
    "sent", "date", "gesendet", "datum", "envoyé", "envoyé le", "enviado", "enviado el", "enviada em",
    "data", "verzonden", "inviato", "отправлено", "дата", "sendt", "skickat", "wysłano", "wysłane",
    "lähetetty", "elküldve", "gönderildi", "发送时间", "時間", "日付", "送信日時", "보낸 날짜", "tarih",
))
_SUBJECT_LABELS = frozenset((
    "subject", "betreff", "objet", "asunto", "assunto", "onderwerp", "oggetto", "тема", "emne", "ämne",
    "temat", "aihe", "tárgy", "konu", "主题", "主旨", "件名", "제목", "sujet",
))
_OTHER_LABELS = frozenset((
    "to", "an", "à", "a", "para", "aan", "кому", "til", "till", "do", "cc", "копия", "címzett", "kime",
    "收件人", "宛先", "copie à",
))
_ALL_LABELS = _FROM_LABELS | _SENT_LABELS | _SUBJECT_LABELS | _OTHER_LABELS
# "-- " (RFC 3676) as people and mailers write it; a single dash is "--" after autocorrection.
# A line of several dashes is a separator in the text, not a signature.
_DELIMITER = re.compile(r"^(?:--|__|—|–)$")
# A mobile footer: a known phrase and a few words, no comma ("Sent from my desk, which ..." is a sentence).
# Bare "sent from"/"enviado desde" need a possessive or a mail app after them: "Sent from our warehouse".
_MOBILE_FOOTER = re.compile(
    r"^(?:sent from (?:my|a|an|outlook|yahoo|mail|gmail|proton|aol|samsung|bluemail|spark|blackberry)\b"
    r"|sent with (?:proton|spark|bluemail)|get outlook for|von meinem|gesendet (?:von|mit)"
    r"|envoyé (?:de|depuis) mon|envoyé à partir de|envoyé avec|enviado desde (?:mi|outlook|yahoo|correo|gmail)\b"
    r"|enviado do meu|inviato da|verstuurd (?:vanaf|met)|verzonden (?:vanaf|met)|skickat från|sendt fra"
    r"|wysłane z|отправлено (?:с|из|через)\b)(?:\s+[^\s,]+){0,5}\s*$",
    re.IGNORECASE,
)
_FOOTER_TAIL = 2  # non-blank lines a mobile footer may have below it: leftovers of history ("De : Support")


def reply_text(text: str) -> str:
    """Strip quoted history (marker lines, a trailing ``>`` block) and the signature from ``text``.

    Quotes that the sender answered below stay, so that each answer keeps its question.
    """
    return _new_part(text, from_start=False, keep_quotes=True) or _whole(text)


def _whole(text: str) -> str:
    """The fallback: the text as it came, unless there is nothing visible in it."""
    return text.strip() if _INVISIBLE.sub("", text).strip() else ""


def new_text(text: str) -> str:
    """The writer's own new words, '' when there are none.

    Unlike ``reply_text`` nothing falls back to the whole text, and a signature right at the
    top is all signature: an agent's reply that holds only a command, a signature and the
    quoted notification has nothing to say to the customer (the notification is internal).
    """
    return _new_part(text, from_start=True, keep_quotes=False)


def _new_part(text: str, from_start: bool, keep_quotes: bool) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Markers are recognised on ``view``; what is returned are the sender's own characters.
    view = [_INVISIBLE.sub("", line) for line in lines] if _has_invisible(text) else lines
    kept, head = _kept_lines(view, keep_quotes)
    kept = kept[: head + _signature_start([view[i] for i in kept[head:]], from_start or head > 0)]
    while kept and _ORNAMENT.match(view[kept[-1]]):
        kept.pop()
    return "\n".join(lines[i] if view[i].strip() else view[i] for i in kept).strip()


def _has_invisible(text: str) -> bool:
    # Plain "in" tests are several times faster than the regex on the usual mail without them.
    return not text.isascii() and any(char in text for char in _INVISIBLE_CHARS)


def _kept_lines(lines: list[str], keep_quotes: bool) -> tuple[list[int], int]:
    """Indices of the lines above history, with the answers below quotes (and, if ``keep_quotes``,
    the quotes they answer); and the position among them where a signature may start."""
    begin = _after_leading_header_block(lines)
    start = _history_start(lines, begin)
    if start is None:
        return list(range(begin, len(lines))), 0
    if not keep_quotes:
        return list(range(begin, start)) + _answers_between_quotes(lines, start), 0
    end = _end_of_answers(lines, start)
    kept = list(range(begin, end))
    return kept, 0 if end == start else _below_last_quote(lines, kept)


def _below_last_quote(lines: list[str], kept: list[int]) -> int:
    """Position in ``kept`` right below its last quoted line: a "--" line between quotes was
    followed by more of the sender's answers, so it was no signature."""
    head = len(kept)
    while head > 0 and not lines[kept[head - 1]].lstrip().startswith(">"):
        head -= 1
    return head


def _after_leading_header_block(lines: list[str]) -> int:
    """Where the text starts when it opens with a header block (a forward pasted without comment)."""
    first = next((i for i, line in enumerate(lines[:MAX_LINES]) if line.strip()), 0)
    if not _header_block_at(lines, first):
        return 0
    blank = next((i for i in range(first, min(len(lines), first + 20)) if not lines[i].strip()), None)
    return blank if blank is not None else 0


def _history_start(lines: list[str], begin: int) -> int | None:
    for index in range(begin, min(len(lines), MAX_LINES)):
        stripped = lines[index].strip()
        if not stripped:
            continue
        if stripped.startswith(">") or _attribution_at(lines, index):
            return index
        if _is_history_marker(lines, index):
            while index > begin and _label(lines[index - 1]):  # "Message du : ..." right above "De : ..."
                index -= 1
            return index
    return None


def _is_history_marker(lines: list[str], index: int) -> bool:
    stripped = lines[index].strip()
    if (stripped[:1] in _SEPARATOR_FIRST and _SEPARATOR.match(stripped)) or _header_block_at(lines, index):
        return True
    return bool(_RULE.match(stripped)) and _header_block_follows(lines, index)


def _attribution_at(lines: list[str], index: int) -> int:
    """Lines of an attribution that starts history at ``index``; 0 if there is none.

    One with a time and an address is a mailer's. Any other ("Ivan Petrov wrote:", but also an
    agent's "In your last message you wrote:") counts only with ``>`` quotes right below.
    """
    span = _attribution_span(lines, index)
    if not span:
        return 0
    joined = " ".join(line.strip() for line in lines[index : index + span])
    return span if _COMPLETE.match(joined) or _quote_follows(lines, index + span) else 0


def _quote_follows(lines: list[str], index: int) -> bool:
    """Whether the first non-blank line of the next four is a ``>`` quote."""
    for line in lines[index : index + 4]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def _attribution_span(lines: list[str], index: int) -> int:
    """Lines an "On ... wrote:" attribution takes here (mailers wrap it over up to three); 0 if none."""
    joined = lines[index].strip()
    if _is_attribution(joined):
        return 1
    if not _INTRO.match(joined):
        return 0
    for extra, line in enumerate(lines[index + 1 : index + 3], start=2):
        stripped = line.strip()
        quoted = stripped.startswith(">") and not stripped.startswith(">:")  # Gmail wraps "<a@b.c" / ">:"
        if not stripped or quoted:
            return 0
        joined = f"{joined} {stripped}"
        if len(joined) > 450:
            return 0
        if _is_attribution(joined):
            return extra
    return 0


def _is_attribution(text: str) -> bool:
    """Whether ``text`` (a stripped line, or wrapped lines joined) reads as an attribution."""
    # Every form ends with a colon or with its verb: testing the end first spares almost every
    # line of a body the long pattern.
    if not text.endswith((":", "：")) and not _VERB_AT_END.search(text[-24:]):
        return False
    return len(text) <= 450 and bool(_ATTRIBUTION.match(text)) and not _FIRST_PERSON.search(text)


def _header_block_at(lines: list[str], index: int) -> bool:
    """A quoted header block: a From-like label, then Sent/Date, To or Subject labels right below.

    Mailers put one under the sender's text, a rule or a separator line; under a line ending
    with ":" ("this is the message we received:", "send it like this:") it is an example that
    the sender wrote out.
    """
    if index >= len(lines) or _label(lines[index]) not in _FROM_LABELS or _introduced(lines, index):
        return False
    following = {_label(line) for line in lines[index + 1 : index + 7]}
    has_sent, has_subject = bool(following & _SENT_LABELS), bool(following & _SUBJECT_LABELS)
    has_address = "@" in lines[index] or "mailto:" in lines[index].lower()
    others = len(following & (_SENT_LABELS | _SUBJECT_LABELS | _OTHER_LABELS))
    return (has_sent and has_subject) or (has_address and others >= 2)


def _introduced(lines: list[str], index: int) -> bool:
    """Whether the last non-blank line above ``index`` (at most three up) ends with a colon."""
    for line in reversed(lines[max(0, index - 3) : index]):
        if line.strip():
            return line.rstrip().endswith((":", "："))
    return False


def _header_block_follows(lines: list[str], index: int) -> bool:
    return any(_header_block_at(lines, i) for i in range(index + 1, min(index + 3, len(lines))))


def _label(line: str) -> str:
    if ":" not in line and "：" not in line:  # most lines: spares them the regex
        return ""
    match = _LABEL.match(line.strip())
    return match.group(1).strip().lower() if match else ""


def _quote_style(lines: list[str], start: int) -> bool:
    """Whether history at ``start`` is a ``>`` block (possibly under an attribution line)."""
    return any(line.strip().startswith(">") for line in lines[start : start + 5])


def _end_of_answers(lines: list[str], start: int) -> int:
    """Where the kept text ends: after the sender's last own line below ``start``, else at ``start``.

    A signature or a mobile footer below the quote is no answer: the quote above it is trailing.
    When the search stops at ``MAX_LINES`` with answers found, the unread rest may hold more of
    them, so it is kept.
    """
    if not _quote_style(lines, start):
        return start
    found, complete = _answer_lines(lines, start)
    tail = max(len(found) - 1, 0)  # the run of lines below the last quote: where a signature may be
    while tail > 0 and found[tail - 1] == found[tail] - 1:
        tail -= 1
    below_last_quote = [lines[i] for i in found[tail:]]
    own = [i for i in found[: tail + _signature_start(below_last_quote, from_start=True)] if lines[i].strip()]
    if not own:
        return start
    return own[-1] + 1 if complete else len(lines)


def _answers_between_quotes(lines: list[str], start: int) -> list[int]:
    """The sender's lines (and blank lines) below or between the ``>`` quotes from ``start`` on."""
    if not _quote_style(lines, start):
        return []
    found, _ = _answer_lines(lines, start)
    return found if any(lines[i].strip() for i in found) else []


def _answer_lines(lines: list[str], start: int) -> tuple[list[int], bool]:
    """Indices of the sender's lines and blank lines from ``start`` on, and whether all was read.

    Attribution lines go with the quote they introduce, a line sandwiched between quoted
    lines is a quote a mailer wrapped badly, and other kinds of history end the search.
    """
    found: list[int] = []
    end = min(len(lines), MAX_LINES)
    index = start
    while index < end:
        stripped = lines[index].strip()
        span = _attribution_at(lines, index) if stripped and not stripped.startswith(">") else 0
        if span:
            index += span
            continue
        if stripped and not stripped.startswith(">"):
            if _is_history_marker(lines, index) or _RULE.match(stripped):
                return found, True
            if not _is_wrapped_quote(lines, index):
                found.append(index)
        elif not stripped:
            found.append(index)
        index += 1
    return found, end == len(lines)


def _is_wrapped_quote(lines: list[str], index: int) -> bool:
    """A line between two quoted lines that a mailer broke off the long quoted line above it.

    A short answer typed right under a question ("> Is it down?" / "Yes, since 9:40.") is
    the sender's own: the line above must be long and stop mid-sentence.
    """
    before = lines[index - 1].strip() if index > 0 else ""
    after = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if not (before.startswith(">") and after.startswith(">")):
        return False
    return len(before) >= _WRAP_WIDTH and not before.endswith((".", "?", "!", ":", ";"))


def _signature_start(lines: list[str], from_start: bool = False) -> int:
    """Index of the signature delimiter or mobile footer; only after some content, unless
    ``from_start`` (a reply that opens with its signature said nothing else).

    A mobile footer is the end of what the sender typed, so it counts only at the end: with
    more text below it, "Sent from my phone today" was a sentence.
    """
    seen_content = from_start
    for index, line in enumerate(lines):
        stripped = line.strip()
        if seen_content and _DELIMITER.match(stripped):
            return index
        if seen_content and _MOBILE_FOOTER.match(stripped) and _only_leftovers_below(lines, index):
            return index
        seen_content = seen_content or bool(stripped)
    return len(lines)


def _only_leftovers_below(lines: list[str], index: int) -> bool:
    """Whether below ``index`` there is nothing the sender wrote: blank lines, rules, and at most
    ``_FOOTER_TAIL`` lines left over from history ("De : Support"), or another footer.
    """
    count = 0
    for below in range(index + 1, len(lines)):  # no slice: a copy per footer-like line adds up
        stripped = lines[below].strip()
        if not stripped or _ORNAMENT.match(stripped):
            continue
        count += 1
        if count > _FOOTER_TAIL or not (_MOBILE_FOOTER.match(stripped) or _is_label_line(stripped)):
            return False
    return True


def _is_label_line(line: str) -> bool:
    label = _label(line)
    return bool(label) and label in _ALL_LABELS
