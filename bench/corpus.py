"""A deterministic, realistic synthetic mail corpus for the ingest benchmark.

    python bench/corpus.py OUT [--messages 5000] [--seed 1] [--format eml|mbox]

OUT is a directory of .eml files (1000 per subdirectory: OUT/0000/0000001.eml...) or an mbox.

The same seed and size always give the same bytes. What it contains:
- companies with corporate domains (some staff on subdomains such as eu.acme.com) and
  free-mail senders (gmail.com, mail.ru, gmx.de...);
- threads of 1-8 customer messages, interleaved in time; replies carry In-Reply-To and
  References (sometimes pointing at an agent reply that is not in the corpus), some
  replies have no such headers and only a "Re:" subject; colleagues join and copy others;
- English, German, French, Russian and Japanese text in us-ascii, utf-8, iso-8859-1,
  koi8-r, windows-1251 and iso-2022-jp with 7bit, 8bit, quoted-printable and base64;
- plain text, multipart/alternative, HTML-only, inline images and attachments (PDF,
  PNG, DOCX of random bytes), quoted history in replies, signatures;
- ~5 % auto-replies, ~3 % DSN bounces (multipart/report with an earlier message),
  ~1 % re-deliveries of an earlier message (identical, or with one more Received line).
Most messages are 2-20 KB; about 1.5 % carry a 150-720 KB attachment (up to ~1 MB).
"""

import argparse
import html
import itertools
import json
import random
import re
import statistics
import sys
import unicodedata
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import mime
from vocab import FREEMAIL, LANGUAGES, MAILERS, SUBDOMAINS, SYLLABLES, TLDS, Language

_THREAD_LENGTHS = (1, 2, 3, 4, 5, 6, 7, 8)
_THREAD_WEIGHTS = (30, 20, 15, 11, 9, 7, 5, 3)  # mean 3.1 messages per thread
_NEW_THREAD_P = 1 / 3.1
_OPEN_THREADS = 150  # older threads are abandoned (keeps dates within the subject-match window)
_MAX_QUOTE = 12_000
_CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
                      "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"],
                     strict=True))


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    messages: int = 5000
    seed: int = 1
    auto_reply_rate: float = 0.05
    bounce_rate: float = 0.03
    redelivery_rate: float = 0.01
    support_address: str = "support@localhost"
    start: datetime = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    plain: bool = False  # every mail one small text/plain part: no HTML, no attachments


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    address: str
    lang: Language
    org: int  # index into World.orgs, -1 for free-mail senders
    title: str


@dataclass(frozen=True, slots=True)
class World:
    orgs: tuple[tuple[Person, ...], ...]
    freemail: tuple[Person, ...]


@dataclass(slots=True, eq=False)  # identity semantics: threads are tracked in a deque
class Thread:
    subject: str
    lang: Language
    requester: Person
    cc: list[Person]
    message_ids: list[str]
    last_text: str
    last_from: Person
    last_date: datetime
    remaining: int
    key: int = 0  # which thread it is, for the truth file


@dataclass(slots=True)
class Draft:
    """A customer message before rendering to bytes."""

    sender: Person
    cc: list[Person]
    subject: str
    date: datetime
    message_id: str
    new_text: str
    quote: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    extra_headers: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.new_text}\n\n{self.quote}" if self.quote else self.new_text


@dataclass(frozen=True, slots=True)
class Sent:
    raw: bytes
    thread: Thread


@dataclass(slots=True)
class CorpusStats:
    kinds: Counter[str] = field(default_factory=Counter)
    sizes: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.sizes)
        return {
            "messages": len(ordered),
            "bytes": sum(ordered),
            "kinds": dict(sorted(self.kinds.items())),
            "median_bytes": int(statistics.median(ordered)) if ordered else 0,
            "p10_bytes": ordered[len(ordered) // 10] if ordered else 0,
            "p90_bytes": ordered[len(ordered) * 9 // 10] if ordered else 0,
            "max_bytes": ordered[-1] if ordered else 0,
            "over_200k": sum(1 for s in ordered if s >= 200_000),
        }


# --- the world: companies, people ------------------------------------------------------------


def _pick_language(rng: random.Random) -> Language:
    return rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES])[0]


def _ascii_name(text: str) -> str:
    text = "".join(_CYRILLIC.get(ch, ch) for ch in text.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z]", "", text)


def _local_part(rng: random.Random, first: str, last: str) -> str:
    first_ascii, last_ascii = _ascii_name(first), _ascii_name(last)
    if not first_ascii or not last_ascii:  # kanji names: a romanised-looking handle
        first_ascii = "".join(rng.choices(SYLLABLES, k=2))
        last_ascii = "".join(rng.choices(SYLLABLES, k=2))
    style = rng.randrange(4)
    if style == 0:
        return f"{first_ascii}.{last_ascii}"
    if style == 1:
        return f"{first_ascii[0]}{last_ascii}"
    if style == 2:
        return f"{first_ascii}_{last_ascii}{rng.randrange(10, 99)}"
    return f"{last_ascii}"


def _person(rng: random.Random, lang: Language, domain: str, org: int) -> Person:
    first, last = rng.choice(lang.first_names), rng.choice(lang.last_names)
    name = f"{last} {first}" if lang.code == "ja" else f"{first} {last}"
    if rng.random() < 0.1:
        name = ""  # a bare address
    return Person(name, f"{_local_part(rng, first, last)}@{domain}", lang, org, rng.choice(lang.titles))


def _org_domains(rng: random.Random, lang: Language, taken: set[str]) -> list[str]:
    while True:
        base = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))) + rng.choice(("", "-group", "soft", "tech"))
        domain = f"{base}.{rng.choice(TLDS[lang.code])}"
        if domain not in taken:
            taken.add(domain)
            break
    if rng.random() < 0.3:
        return [domain, *(f"{sub}.{domain}" for sub in rng.sample(SUBDOMAINS, rng.randint(1, 3)))]
    return [domain]


def build_world(rng: random.Random, messages: int) -> World:
    taken: set[str] = set()
    orgs = []
    for index in range(max(40, messages // 25)):
        lang = _pick_language(rng)
        domains = _org_domains(rng, lang, taken)
        size = rng.randint(1, 10)
        orgs.append(tuple(_person(rng, lang, rng.choice(domains), index) for _ in range(size)))
    free = []
    for _ in range(max(60, messages // 10)):
        lang = _pick_language(rng)
        free.append(_person(rng, lang, rng.choice(FREEMAIL[lang.code]), -1))
    return World(tuple(orgs), tuple(free))


# --- text --------------------------------------------------------------------------------


def _sentence(rng: random.Random, lang: Language) -> str:
    words = rng.choices(lang.words, k=rng.randint(5, 16) if lang.spaced else rng.randint(3, 7))
    text = " ".join(words) if lang.spaced else "".join(words)
    return text[0].upper() + text[1:] + lang.full_stop


def _paragraph(rng: random.Random, lang: Language) -> str:
    joiner = " " if lang.spaced else ""
    return joiner.join(_sentence(rng, lang) for _ in range(rng.randint(1, 6)))


def _signature(rng: random.Random, person: Person) -> str:
    lines = ["-- ", person.name or person.address, person.title]
    if rng.random() < 0.7:
        lines.append(f"Tel. +{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}")
    if person.org >= 0:
        lines.append(f"www.{person.address.rpartition('@')[2]}")
    if rng.random() < 0.2:
        lines.append("Sent from my iPhone")
    return "\n".join(lines)


def new_text(rng: random.Random, person: Person, lang: Language) -> str:
    paragraphs = [_paragraph(rng, lang) for _ in range(rng.choices((1, 2, 3, 4, 6), (3, 4, 3, 2, 1))[0])]
    body = "\n\n".join([rng.choice(lang.greetings), *paragraphs, rng.choice(lang.closings)])
    return f"{body}\n{person.name or person.address}\n\n{_signature(rng, person)}"


def quote_block(rng: random.Random, thread: Thread) -> str:
    """Quoted history the way common clients write it."""
    previous = thread.last_text[:_MAX_QUOTE]
    sender = thread.last_from
    who = f"{sender.name} <{sender.address}>" if sender.name else sender.address
    when = thread.last_date
    style = rng.choices(("on_wrote", "outlook", "lang"), (5, 3, 2))[0]
    if style == "outlook":
        head = (f"________________________________\nFrom: {who}\nSent: {format_datetime(when)}\n"
                f"To: Support\nSubject: {thread.subject}\n\n")
        return head + previous
    if style == "lang" and thread.lang.code == "ru":
        intro = f"{when:%d.%m.%Y %H:%M}, {who} пишет:"
    elif style == "lang" and thread.lang.code == "de":
        intro = f"Am {when:%d.%m.%Y} um {when:%H:%M} schrieb {who}:"
    else:
        intro = f"On {when:%a, %d %b %Y at %H:%M}, {who} wrote:"
    return intro + "\n" + "\n".join(f"> {line}" if line else ">" for line in previous.split("\n"))


_STYLE = (
    "<style><!--\n/* Font Definitions */\n@font-face {font-family:\"Cambria Math\"; panose-1:2 4 5 3 5 4 6 3 2 4;}\n"
    "@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}\n"
    "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif;}\n"
    "a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}\n"
    "span.EmailStyle17 {mso-style-type:personal-compose; font-family:\"Calibri\",sans-serif; color:windowtext;}\n"
    ".MsoChpDefault {mso-style-type:export-only; font-family:\"Calibri\",sans-serif;}\n"
    "@page WordSection1 {size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;}\n"
    "div.WordSection1 {page:WordSection1;}\n--></style>"
)


_BLOCKQUOTE = '<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">'


def _html_paragraphs(text: str) -> str:
    return "\n".join(
        '<p class="MsoNormal">' + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in text.split("\n\n")
    )


def html_body(draft: Draft, charset: str, image_cid: str = "") -> str:
    image = f'<p><img src="cid:{image_cid}" width="320" height="200" alt="image"></p>\n' if image_cid else ""
    quote = ""
    if draft.quote:
        quote = f"{_BLOCKQUOTE}\n{_html_paragraphs(draft.quote)}\n</blockquote>\n"
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
            f"{_STYLE}</head>\n<body lang=\"EN-US\" link=\"#0563C1\"><div class=\"WordSection1\">\n"
            f"{_html_paragraphs(draft.new_text)}\n{image}{quote}</div>\n<script>track()</script></body></html>\n")


# --- rendering one customer message ------------------------------------------------------------


def _charset(rng: random.Random, lang: Language) -> str:
    return rng.choices([c for c, _ in lang.charsets], [w for _, w in lang.charsets])[0]


def _cte(rng: random.Random, charset: str) -> str:
    if charset in ("us-ascii", "iso-2022-jp"):
        return "7bit"
    if charset == "utf-8":
        return rng.choices(("quoted-printable", "base64", "8bit"), (5, 3, 2))[0]
    if charset == "iso-8859-1":
        return rng.choices(("quoted-printable", "8bit"), (8, 2))[0]
    return rng.choices(("8bit", "base64", "quoted-printable"), (5, 3, 2))[0]


_FILE_KINDS = (
    ("application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "pdf"),
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
    ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpg"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04\x14\x00", "docx"),
    ("application/zip", b"PK\x03\x04\x0a\x00", "zip"),
)


def _attachment(rng: random.Random, lang: Language, big: bool) -> mime.Part:
    ctype, magic, ext = rng.choice(_FILE_KINDS)
    size = rng.randint(150_000, 720_000) if big else int(min(120_000, max(1_500, rng.lognormvariate(9.3, 0.9))))
    stem = rng.choice(lang.attachment_names) if rng.random() < 0.6 else rng.choice(("scan", "IMG", "doc"))
    name = f"{stem}_{rng.randint(1, 9999)}.{ext}"
    return mime.file_part(ctype, magic + rng.randbytes(size - len(magic)), name, rfc2231=rng.random() < 0.5)


def _boundary(rng: random.Random) -> str:
    return f"----=_Part_{rng.randrange(10**6)}_{rng.getrandbits(48):012x}.{rng.getrandbits(32)}"


def _body(rng: random.Random, draft: Draft, charset: str, plain: bool = False) -> mime.Part:
    """The message's root part: text, alternative, HTML-only, related; attachments wrap it in mixed."""
    cte = _cte(rng, charset)
    if plain:
        return mime.text_part("plain", draft.text, charset, cte)
    shape = rng.choices(("plain", "alternative", "html"), (52, 38, 10))[0]
    image_cid = f"image001.png@{rng.getrandbits(40):010x}" if shape != "plain" and rng.random() < 0.08 else ""
    plain = mime.text_part("plain", draft.text, charset, cte)
    html_part = mime.text_part("html", html_body(draft, charset, image_cid), charset,
                               "quoted-printable" if cte == "8bit" else cte)
    if image_cid:
        image = mime.file_part("image/png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(3_000, 30_000)),
                               "image001.png", content_id=image_cid)
        html_part = mime.multipart("related", [html_part, image], _boundary(rng), ' type="text/html";')
    root = plain if shape == "plain" else html_part
    if shape == "alternative":
        root = mime.multipart("alternative", [plain, html_part], _boundary(rng))
    files = _attachments(rng, draft.sender.lang)
    return mime.multipart("mixed", [root, *files], _boundary(rng)) if files else root


def _attachments(rng: random.Random, lang: Language) -> list[mime.Part]:
    if rng.random() < 0.015:
        return [_attachment(rng, lang, big=True)]
    if rng.random() < 0.12:
        return [_attachment(rng, lang, big=False) for _ in range(rng.choices((1, 2, 3), (6, 3, 1))[0])]
    return []


def _received(rng: random.Random, sender: Person, when: datetime, support: str) -> list[str]:
    host = sender.address.rpartition("@")[2]
    stamp = format_datetime(when)
    first = (f"Received: from mail-{rng.randrange(1, 40)}.{host} (mail-{rng.randrange(1, 40)}.{host} "
             f"[{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}])\n"
             f"\tby mx1.helpdesk.example (Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n"
             f"\tfor <{support}>; {stamp}")
    second = (f"Received: by mail-{rng.randrange(1, 40)}.{host} with SMTP id {rng.getrandbits(64):016x};\n"
              f"\t{stamp}")
    return [first, second]


def _dkim(rng: random.Random, sender: Person) -> str:
    domain = sender.address.rpartition("@")[2]
    signature = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=344))
    folded = "\n\t ".join(signature[i : i + 70] for i in range(0, len(signature), 70))
    return (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\n"
            f"\th=from:to:subject:date:message-id:mime-version; bh={rng.getrandbits(128):032x}=;\n"
            f"\tb={folded}")


def render(rng: random.Random, draft: Draft, support: str, plain: bool = False) -> bytes:
    charset = _charset(rng, draft.sender.lang)
    when = draft.date.astimezone(timezone(timedelta(minutes=rng.choice(draft.sender.lang.tz_offsets))))
    headers = [*_received(rng, draft.sender, draft.date, support),
               f"Return-Path: <{draft.sender.address}>"]
    if rng.random() < 0.6:
        headers.append(_dkim(rng, draft.sender))
    headers += [f"From: {mime.address(draft.sender.name, draft.sender.address, charset)}",
                f"To: {mime.address('Support', support, charset)}"]
    if draft.cc:
        headers.append("Cc: " + ",\n\t".join(mime.address(p.name, p.address, charset) for p in draft.cc))
    headers += [f"Subject: {mime.header_value(draft.subject, charset, 'Subject')}",
                f"Date: {format_datetime(when)}"]
    if draft.message_id:
        headers.append(f"Message-ID: <{draft.message_id}>")
    if draft.in_reply_to:
        headers.append(f"In-Reply-To: <{draft.in_reply_to}>")
    if draft.references:
        headers.append("References: " + "\n\t".join(f"<{r}>" for r in draft.references))
    headers += [f"X-Mailer: {rng.choice(MAILERS)}", *draft.extra_headers]
    return mime.message(headers, _body(rng, draft, charset, plain))


# --- automatic mail ------------------------------------------------------------------------


def render_auto_reply(rng: random.Random, sent: Sent, when: datetime, support: str, message_id: str) -> bytes:
    """An out-of-office from someone on the thread; mostly in reply to its last message."""
    thread = sent.thread
    person = rng.choice([thread.requester, *thread.cc])
    lang = person.lang
    style = rng.choices(("rfc3834", "outlook", "subject_only"), (6, 3, 1))[0]
    extra = {"rfc3834": ["Auto-Submitted: auto-replied", "Precedence: auto_reply"],
             "outlook": ["X-Auto-Response-Suppress: All", "Auto-Submitted: auto-generated"],
             "subject_only": []}[style]
    text = f"{rng.choice(lang.greetings)}\n\n{_paragraph(rng, lang)}\n\n{person.name or person.address}\n"
    draft = Draft(person, [], rng.choice(lang.ooo_prefixes) + thread.subject, when, message_id, text,
                  extra_headers=extra)
    if rng.random() < 0.8:
        draft.in_reply_to = thread.message_ids[-1] if thread.message_ids else ""
        draft.references = thread.message_ids[-3:]
    return render(rng, draft, support)


_BOUNCE_SUBJECTS = ("Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
                    "Mail delivery failed: returning message to sender")


def render_bounce(rng: random.Random, sent: Sent, when: datetime, support: str, message_id: str) -> bytes:
    """A DSN (multipart/report) returning an earlier message, whole or its header only."""
    mta = f"mx{rng.randint(1, 4)}.{rng.choice(('mailgate.example.net', 'relay.example.org', 'smtp.example.com'))}"
    failed = sent.thread.requester.address
    stamp = format_datetime(when)
    notice = (f"This is the mail system at host {mta}.\n\nI'm sorry to have to inform you that your message "
              f"could not\nbe delivered to one or more recipients.\n\n<{failed}>: host said: 550 5.1.1 "
              f"User unknown\n")
    status = (f"Reporting-MTA: dns; {mta}\nArrival-Date: {stamp}\n\nFinal-Recipient: rfc822; {failed}\n"
              f"Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <{failed}>: "
              "Recipient address rejected: User unknown\n")
    head_end = sent.raw.find(b"\n\n")
    if rng.random() < 0.7 and len(sent.raw) < 100_000:
        returned = mime.raw_part("message/rfc822", sent.raw, ("Content-Description: Undelivered Message",))
    else:
        returned = mime.raw_part("text/rfc822-headers", sent.raw[: head_end + 1],
                                 ("Content-Description: Undelivered Message Headers",))
    report = mime.multipart("report", [
        mime.text_part("plain", notice, "us-ascii", "7bit"),
        mime.raw_part("message/delivery-status", status.encode("ascii"), ("Content-Description: Delivery report",)),
        returned,
    ], _boundary(rng), " report-type=delivery-status;")
    headers = ["Return-Path: <>", f"Received: by {mta} (Postfix) id {rng.getrandbits(40):010X}; {stamp}",
               f"From: Mail Delivery System <MAILER-DAEMON@{mta}>", f"To: <{support}>",
               f"Subject: {rng.choice(_BOUNCE_SUBJECTS)}",
               f"Date: {stamp}", f"Message-ID: <{message_id}>", "Auto-Submitted: auto-replied"]
    return mime.message(headers, report)


def redelivery(rng: random.Random, sent: Sent, when: datetime) -> bytes:
    """The same message again: identical bytes, or with one more trace header on top."""
    if rng.random() < 0.4:
        return sent.raw
    hop = (f"Received: from backup-mx.helpdesk.example (backup-mx [10.0.0.{rng.randrange(2, 250)}])\n"
           f"\tby mx1.helpdesk.example (Postfix) with ESMTP id {rng.getrandbits(40):010X}; {format_datetime(when)}\n")
    return hop.encode("ascii") + sent.raw


# --- the generator ----------------------------------------------------------------------------


class Generator:
    """Yields the corpus's raw messages in delivery order; memory stays bounded."""

    def __init__(self, spec: CorpusSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.world = build_world(self.rng, spec.messages)
        self.open: deque[Thread] = deque()
        self.recent: deque[Sent] = deque(maxlen=64)
        self.now = spec.start
        self.stats = CorpusStats()
        self.truth: dict[str, int] = {}  # Message-ID -> thread key: which mail belongs together
        self.keys = itertools.count(1)

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.spec.messages):
            self.now += timedelta(seconds=self.rng.expovariate(1 / 600))
            kind, raw = self._next()
            self.stats.kinds[kind] += 1
            self.stats.sizes.append(len(raw))
            yield raw

    def _next(self) -> tuple[str, bytes]:
        spec, r = self.spec, self.rng.random()
        if self.recent and r < spec.auto_reply_rate:
            return "auto_reply", render_auto_reply(self.rng, self._recent(), self.now, spec.support_address,
                                                   self._message_id(None))
        r -= spec.auto_reply_rate
        if self.recent and r < spec.bounce_rate:
            return "bounce", render_bounce(self.rng, self._recent(), self.now, spec.support_address,
                                           self._message_id(None))
        r -= spec.bounce_rate
        if self.recent and r < spec.redelivery_rate:
            return "redelivery", redelivery(self.rng, self._recent(), self.now)
        if not self.open or self.rng.random() < _NEW_THREAD_P:
            return self._new_thread()
        return self._reply(self.rng.choice(self.open))

    def _recent(self) -> Sent:
        return self.rng.choice(self.recent)

    def _message_id(self, sender: Person | None) -> str:
        rng = self.rng
        if sender is None:
            return f"{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@mailer-daemon.example.net"
        domain = sender.address.rpartition("@")[2]
        if domain == "gmail.com":
            return f"CA{rng.getrandbits(160):040x}@mail.gmail.com"
        if rng.random() < 0.3:
            return f"{rng.getrandbits(128):032X}@{domain}"
        return f"{rng.getrandbits(48):012x}.{rng.getrandbits(32):08x}.JavaMail@{domain}"

    def _sender(self) -> Person:
        world, rng = self.world, self.rng
        if rng.random() < 0.3:
            return rng.choice(world.freemail)
        org = world.orgs[int(len(world.orgs) * rng.random() ** 2)]  # a few big customers
        return rng.choice(org)

    def _colleagues(self, person: Person) -> list[Person]:
        if person.org < 0 or self.rng.random() > 0.35:
            return []
        others = [p for p in self.world.orgs[person.org] if p.address != person.address]
        return self.rng.sample(others, min(len(others), self.rng.randint(1, 2)))

    def _new_thread(self) -> tuple[str, bytes]:
        rng, sender = self.rng, self._sender()
        lang = sender.lang
        subject = rng.choice(lang.subjects).format(n=rng.randint(1000, 99999), thing=rng.choice(lang.things))
        draft = Draft(sender, self._colleagues(sender), subject, self.now,
                      "" if rng.random() < 0.005 else self._message_id(sender), new_text(rng, sender, lang))
        thread = Thread(subject, lang, sender, list(draft.cc), [], draft.text, sender, self.now,
                        rng.choices(_THREAD_LENGTHS, _THREAD_WEIGHTS)[0] - 1, next(self.keys))
        return "new", self._send(draft, thread)

    def _reply(self, thread: Thread) -> tuple[str, bytes]:
        rng = self.rng
        with_headers = rng.random() < 0.85
        sender = thread.requester
        if with_headers and thread.cc and rng.random() < 0.25:
            sender = rng.choice(thread.cc)  # a colleague answers, copying the requester
        cc = [p for p in [thread.requester, *thread.cc] if p.address != sender.address]
        thread.remaining -= 1
        draft = Draft(sender, cc, rng.choice(thread.lang.reply_prefixes) + thread.subject, self.now,
                      self._message_id(sender), new_text(rng, sender, thread.lang))
        if rng.random() < 0.9:
            draft.quote = quote_block(rng, thread)
        if with_headers:
            self._thread_headers(draft, thread)
        return ("reply" if with_headers else "reply_no_headers"), self._send(draft, thread)

    def _thread_headers(self, draft: Draft, thread: Thread) -> None:
        references = list(thread.message_ids[-10:])
        if self.rng.random() < 0.35:  # answering our agent's reply, which is not in the corpus
            references.append(f"{self.rng.getrandbits(64):016x}@agent.helpdesk.example")
        if references:
            draft.in_reply_to, draft.references = references[-1], references

    def _send(self, draft: Draft, thread: Thread) -> bytes:
        raw = render(self.rng, draft, self.spec.support_address, self.spec.plain)
        if draft.message_id:
            thread.message_ids.append(draft.message_id)
            self.truth[draft.message_id] = thread.key
        thread.last_text, thread.last_from, thread.last_date = draft.text, draft.sender, draft.date
        self._track(thread)
        self.recent.append(Sent(raw, thread))
        return raw

    def _track(self, thread: Thread) -> None:
        if thread.remaining <= 0:
            if thread in self.open:
                self.open.remove(thread)
            return
        if thread not in self.open:
            self.open.append(thread)
            if len(self.open) > _OPEN_THREADS:
                self.open.popleft()


# --- writing ------------------------------------------------------------------------------------


def write_corpus(spec: CorpusSpec, out: Path, fmt: str = "eml") -> CorpusStats:
    """Write ``spec``'s corpus to ``out`` (a directory of .eml files, or one mbox file)."""
    generator = Generator(spec)
    if fmt == "mbox":
        _write_mbox(out, generator)
    else:
        _write_eml(out, generator, random.Random(spec.seed + 1))
    truth_path(out).write_text(json.dumps(generator.truth))
    return generator.stats


def truth_path(corpus: Path) -> Path:
    """Where the corpus's truth lives: which customer mail (by Message-ID) belongs to which thread."""
    return corpus.parent / f"{corpus.name}.threads.json"


EML_PER_DIRECTORY = 1000  # so that listing one directory never costs memory in proportion to the corpus


def _write_eml(out: Path, messages: Generator, rng: random.Random) -> None:
    for index, raw in enumerate(messages, 1):
        if rng.random() < 0.1:  # saved by a Windows client
            raw = raw.replace(b"\n", b"\r\n")
        directory = out / f"{(index - 1) // EML_PER_DIRECTORY:04d}"
        if (index - 1) % EML_PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{index:07d}.eml").write_bytes(raw)


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def _write_mbox(out: Path, messages: Generator) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for raw in messages:
            handle.write(f"From MAILER-DAEMON {messages.now:%a %b %d %H:%M:%S %Y}\n".encode("ascii"))
            handle.write(_FROM_LINE.sub(rb">\1", raw))
            handle.write(b"\n" if raw.endswith(b"\n") else b"\n\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a deterministic synthetic mail corpus.")
    parser.add_argument("out", type=Path, help="directory (eml) or file (mbox) to write")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("eml", "mbox"), default="eml")
    args = parser.parse_args(argv)
    stats = write_corpus(CorpusSpec(messages=args.messages, seed=args.seed), args.out, args.format)
    summary = {"spec": asdict(CorpusSpec(messages=args.messages, seed=args.seed)), **stats.summary()}
    sys.stdout.write(json.dumps(summary, default=str, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
