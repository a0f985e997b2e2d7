"""Turn a ``Draft`` into the exact bytes handed to the SMTP relay.

The header block is rendered here, token by token, rather than by ``email``'s header classes,
because on the Python this project runs (3.11.7) those classes are unsafe with customer text:
they decode encoded-word look-alikes in the values they are given, so a subject such as
``=?utf-8?q?x=0D=0ABcc:_evil@example.com?=`` is written out as a real ``Bcc:`` line (the
generator's guard, ``policy.verify_generated_headers``, only arrived in 3.11.10); they drop the
quotes of a display name they have to fold, turning ``"Smith, John"`` into two addresses; and
they wrap a long Message-ID in References as encoded words, which breaks threading. ``email``
still does what it does well: the MIME tree and the transfer encoding of the bodies.

Every header line is built from tokens we made ourselves: control characters are gone, no
plain token contains ``=?``, and anything else (non-ASCII, over-long words) becomes RFC 2047
base64 encoded-words. Nothing a customer types can therefore start a new header line.
"""

import base64
import re
from collections.abc import Sequence
from email.message import MIMEPart
from email.policy import SMTP
from email.utils import format_datetime

from mailhelpdesk.outbound.draft import Draft

# RFC 2045 caps quoted-printable lines at 76 characters; the stdlib uses max_line_length for it.
_MIME_POLICY = SMTP.clone(max_line_length=76)

# RFC 2047: a line holding an encoded-word may not exceed 76 characters.
_MAX_LINE = 76
# No token made from text is longer than this, so "Subject: " plus one token still fits on
# the first line.
_MAX_TOKEN = 64
# 39 octets -> 52 base64 characters, plus 12 for "=?utf-8?b?" and "?=" makes 64.
_EW_OCTETS = 39

_MAX_SUBJECT = 900
_MAX_NAME = 200
_MAX_REFERENCES = 20
# "In-Reply-To: <id>" must stay within RFC 5322's 998 octets.
_MAX_ID = 980
_MAX_ADDRESS = 254

# C0, DEL, C1 (incl. NEL), LINE/PARAGRAPH SEPARATOR and the space itself: runs become one space.
_BREAKERS = re.compile("[ \x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SURROGATES = re.compile("[\ud800-\udfff]")
# RFC 5322 atext: a display name of such words needs no quoting.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9_.-]+")
_MESSAGE_ID = re.compile(r"[^\s<>,;\"()\\]+@[^\s<>,;\"()\\]+")
_MIME_NAME = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}")  # a MIME type or subtype


def compose(draft: Draft) -> bytes:
    """The complete message for ``draft``: ASCII only, CRLF line endings, ready for SMTP."""
    return _header_block(draft).encode("ascii") + _body(draft).as_bytes(policy=_MIME_POLICY)


def _header_block(draft: Draft) -> str:
    if not draft.to:
        raise ValueError("a draft needs at least one recipient")
    if draft.date.tzinfo is None:
        raise ValueError("Draft.date must be timezone-aware")
    headers = [
        _header("From", _mailbox_tokens(draft.from_name, draft.from_addr)),
        _header("To", _address_list_tokens(draft.to)),
        *([_header("Cc", _address_list_tokens(draft.cc))] if draft.cc else []),
        _header("Subject", _text_tokens(_clean(draft.subject)[:_MAX_SUBJECT].rstrip())),
        _header("Date", [format_datetime(draft.date)]),
        _header("Message-ID", _id_tokens([draft.message_id])),
    ]
    if draft.in_reply_to:
        headers.append(_header("In-Reply-To", _id_tokens([draft.in_reply_to])))
    if draft.references:
        headers.append(_header("References", _id_tokens(_capped(draft.references))))
    if draft.reply_to:
        headers.append(_header("Reply-To", [_checked_address(draft.reply_to)]))
    headers += _optional_headers(draft)
    return "".join(headers) + "MIME-Version: 1.0\r\n"


def _optional_headers(draft: Draft) -> list[str]:
    headers = []
    if draft.auto_submitted:
        headers.append(_header("Auto-Submitted", _text_tokens(_clean(draft.auto_submitted))))
        # Keeps Exchange/Outlook from answering our automatic mail with their own.
        headers.append(_header("X-Auto-Response-Suppress", ["All"]))
    for name, value in (("X-Loop", _clean(draft.loop_token)), ("Content-Language", _clean(draft.language))):
        if value:
            headers.append(_header(name, _text_tokens(value)))
    return headers


def _body(draft: Draft) -> MIMEPart:
    # MIMEPart rather than EmailMessage: the latter adds MIME-Version to every part.
    message = MIMEPart(policy=_MIME_POLICY)
    text = _scrub_surrogates(draft.text)
    message.set_content(text, subtype="plain", charset="utf-8", cte=_transfer_encoding(text))
    if draft.html:
        html = _scrub_surrogates(draft.html)
        message.add_alternative(html, subtype="html", charset="utf-8", cte=_transfer_encoding(html))
    for attachment in draft.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not (_MIME_NAME.fullmatch(maintype) and _MIME_NAME.fullmatch(subtype)):
            maintype, subtype = "application", "octet-stream"
        # The file name is a MIME parameter the stdlib encodes (RFC 2231); it must hold no line break.
        message.add_attachment(attachment.data, maintype=maintype.lower(), subtype=subtype.lower(),
                               filename=_file_name(attachment.filename))
    return message


def _file_name(name: str) -> str:
    """A file name for the MIME parameter: one line, and no encoded-word look-alike, which this
    Python's header code would decode into a line break of its own."""
    return _clean(name).replace("=?", "=_")[:_MAX_NAME] or "attachment"


def _transfer_encoding(body: str) -> str:
    # Quoted-printable keeps mostly-ASCII text readable and grep-able; it costs 3 octets per
    # non-ASCII byte, base64 4/3. A Cyrillic letter (2 bytes) is 6 octets in QP against 2.7 in
    # base64, so once more than about one character in ten is non-ASCII, base64 is smaller.
    non_ascii = sum(1 for char in body if not char.isascii())
    return "quoted-printable" if non_ascii * 10 <= len(body) else "base64"


def _header(name: str, tokens: Sequence[str]) -> str:
    """``name: tokens`` folded between tokens so that lines stay within ``_MAX_LINE``."""
    lines = [f"{name}:"]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > _MAX_LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    return "\r\n".join(lines) + "\r\n"


def _clean(value: str) -> str:
    """A header value on one line: control characters and space runs become a single space."""
    return _BREAKERS.sub(" ", _scrub_surrogates(value)).strip()


def _scrub_surrogates(value: str) -> str:
    # A lone surrogate cannot be encoded as UTF-8; the email package would even write it raw.
    return _SURROGATES.sub("\ufffd", value)


def _is_plain(word: str) -> bool:
    """Whether ``word`` may appear in a header as it is (else it becomes encoded-words)."""
    return word.isascii() and word.isprintable() and "=?" not in word and len(word) <= _MAX_TOKEN


def _text_tokens(text: str) -> list[str]:
    """Unstructured text: plain words as they are, each run of other words as encoded-words."""
    tokens: list[str] = []
    run: list[str] = []
    for word in text.split(" ") if text else []:
        if not _is_plain(word):
            run.append(word)
            continue
        if run:
            tokens += _encoded_words(" ".join(run))
            run = []
        tokens.append(word)
    if run:
        tokens += _encoded_words(" ".join(run))
    return tokens


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 base64 encoded-words, split after a space where one fits.

    Splitting between words, never inside a character, also matters because Python's own
    display-name parser (3.11) wrongly keeps the space between two encoded-words: a name cut
    mid-word would come back as "Пет ров", one cut after a space only gains a second space.
    """
    words = text.split(" ")
    chunks = [""]
    for piece in [word + " " for word in words[:-1]] + words[-1:]:
        if chunks[-1] and _octets(chunks[-1] + piece) > _EW_OCTETS:
            chunks.append("")
        for char in piece:
            if _octets(chunks[-1] + char) > _EW_OCTETS:
                chunks.append("")
            chunks[-1] += char
    return [f"=?utf-8?b?{base64.b64encode(chunk.encode('utf-8')).decode('ascii')}?=" for chunk in chunks]


def _octets(text: str) -> int:
    return len(text.encode("utf-8"))


def _phrase_tokens(name: str) -> list[str]:
    """A display name: atoms as they are, else one quoted-string, else encoded-words."""
    words = name.split(" ") if name else []
    if not all(_is_plain(word) for word in words):
        return _encoded_words(name)
    if all(_ATOM.fullmatch(word) for word in words):
        return words
    # Folding at the spaces inside a quoted-string is allowed (it is FWS), so one token a word.
    quoted = [word.replace("\\", "\\\\").replace('"', '\\"') for word in words]
    quoted[0] = '"' + quoted[0]
    quoted[-1] += '"'
    return quoted if all(len(word) <= _MAX_TOKEN for word in quoted) else _encoded_words(name)


def _mailbox_tokens(name: str, address: str) -> list[str]:
    address = _checked_address(address)
    phrase = _phrase_tokens(_clean(name)[:_MAX_NAME].rstrip())
    return [*phrase, f"<{address}>"] if phrase else [address]


def _address_list_tokens(mailboxes: Sequence[tuple[str, str]]) -> list[str]:
    tokens: list[str] = []
    for name, address in mailboxes:
        if tokens:
            tokens[-1] += ","
        tokens += _mailbox_tokens(name, address)
    return tokens


def usable_address(address: str) -> bool:
    """Whether ``compose`` accepts ``address``: a plain ASCII addr-spec."""
    return len(address) <= _MAX_ADDRESS and bool(_ADDRESS.fullmatch(address)) and "=?" not in address


def usable_message_id(message_id: str) -> bool:
    """Whether ``compose`` accepts ``message_id`` (without angle brackets) in a header."""
    printable = message_id.isascii() and message_id.isprintable() and "=?" not in message_id
    return len(message_id) <= _MAX_ID and printable and bool(_MESSAGE_ID.fullmatch(message_id))


def _checked_address(address: str) -> str:
    """``address`` if it is a plain ASCII addr-spec; anything else is the caller's bug."""
    if not usable_address(address):
        raise ValueError(f"not a usable mail address: {address!r}")
    return address


def _id_tokens(message_ids: Sequence[str]) -> list[str]:
    for message_id in message_ids:
        if not usable_message_id(message_id):
            raise ValueError(f"not a usable Message-ID: {message_id!r}")
    return [f"<{message_id}>" for message_id in message_ids]


def _capped(references: Sequence[str]) -> list[str]:
    # RFC 5322 3.6.4: when trimming References, keep the first ID (the thread's root).
    if len(references) <= _MAX_REFERENCES:
        return list(references)
    return [references[0], *references[-(_MAX_REFERENCES - 1) :]]
