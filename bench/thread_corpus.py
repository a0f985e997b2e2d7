"""A support mailbox with ground truth: the true thread and company of every message.

    .venv/bin/python bench/thread_corpus.py /tmp/threads [--threads 500] [--seed 1]

writes the corpus as numbered .eml files in arrival order plus ``truth.json``. The benchmark
(bench/threading_bench.py) and the test (tests/integration/test_threading_corpus.py) call
``generate(threads, seed)`` and ``score(corpus, placement)`` instead.

Only customer mail arrives (our answers are not in the corpus), so a reply refers to the
customer's own earlier message. The mailbox mixes companies (2-6 people on their own domain)
and free-mail customers, clients that keep In-Reply-To/References and clients that drop them,
colleagues answering in a thread, generic subjects reused for different requests, forwards by
someone else (a NEW thread, linked to the old one), the same subject at different companies,
and replies that arrive before their parent.

The truth is built so that every message CAN be placed right from what the mailbox sees:
a reply without headers is only generated when "the most recently active thread with this
subject" of its sender and of its sender's company is its true thread, and a message only
arrives after a reply when that reply names it by Message-ID. Anything else would be a coin
toss, and a benchmark of coin tosses measures nothing.
"""

import argparse
import json
import os
import random
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

SUPPORT_ADDRESS = "support@helpdesk.example"
MAILBOX = "support"
EPOCH = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday: a fixed past, so a corpus is the same every day
SUBJECT_WINDOW = timedelta(days=30)  # how far back "the latest thread with this subject" may look
_POLICY = policy.SMTP  # CRLF line ends, as IMAP hands mail over

# The classes of hard cases; a message can be in several.
COLLEAGUE = "colleague, with headers"
COLLEAGUE_BARE = "colleague, only Re: subject"
DROPPED = "dropped headers (requester)"
GENERIC_NEW = "generic subject, new request"
GENERIC_REPLY = "generic subject, Re: no headers"
FORWARD_INLINE = "forward with References"
FORWARD_ATTACHED = "forward as attachment"
OUT_OF_ORDER = "arrived after its reply"
SHARED_SUBJECT = "same subject, other company"
CLASSES = (COLLEAGUE, COLLEAGUE_BARE, DROPPED, GENERIC_NEW, GENERIC_REPLY, FORWARD_INLINE, FORWARD_ATTACHED,
           OUT_OF_ORDER, SHARED_SUBJECT)


@dataclass(frozen=True, slots=True)
class Mix:
    """How often each situation occurs (shares are of threads, persons or replies, as named)."""

    freemail_share: float = 0.3  # threads opened by free-mail customers
    threads_per_company: float = 6.0
    threads_per_freemail: float = 2.0
    drop_client_share: float = 0.15  # persons whose client drops In-Reply-To/References
    colleague_rate: float = 0.15  # replies in a company thread written by a colleague
    colleague_bare: float = 0.5  # ...of which typed as a new mail with only "Re: subject"
    generic_person_share: float = 0.25  # persons who like subjects such as "Problem"
    generic_rate: float = 0.7  # ...share of their threads with such a subject
    generic_bare: float = 0.3  # their replies typed as a new mail "Re: Problem" (if unambiguous)
    shared_rate: float = 0.15  # threads with a subject many companies use ("Invoice")
    forward_rate: float = 0.05  # threads that are a forward of another thread's message
    forward_attached: float = 0.4  # ...sent as message/rfc822 rather than inline with References
    forward_foreign: float = 0.5  # ...forwarded by a person of another company (else a colleague)
    out_of_order_rate: float = 0.05  # messages that arrive after one of their replies
    weeks: int = 6


# --- the truth -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    raw: bytes
    thread: str  # the true thread's key
    company: str  # the company's domain; "person:ADDRESS" for a free-mail customer
    requester: str  # who opened the thread
    position: int  # arrival order, from 0
    forward_of: str | None  # the thread this message forwards (the forwarding message only)
    message_id: str  # without angle brackets, as the product stores it
    sender: str
    subject: str
    date: datetime  # its Date header: the true order
    arrived: datetime  # when it reached the mailbox: the arrival order
    refs: tuple[str, ...]  # In-Reply-To, References and a forwarded attachment's Message-ID
    kinds: tuple[str, ...]  # the classes of CLASSES this message exercises


@dataclass(frozen=True, slots=True)
class Thread:
    key: str
    company: str
    requester: str
    subject: str
    freemail: bool
    forward_of: str | None  # a forward is its own thread, linked to the one it forwards
    message_ids: tuple[str, ...]  # in true (Date) order


@dataclass(frozen=True, slots=True)
class Corpus:
    seed: int
    messages: tuple[Message, ...]  # in arrival order: messages[i].position == i
    threads: dict[str, Thread]
    companies: int
    freemail_people: int

    def by_id(self) -> dict[str, Message]:
        return {m.message_id: m for m in self.messages}

    def class_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CLASSES, 0)
        for message in self.messages:
            for kind in message.kinds:
                counts[kind] += 1
        return counts

    def write(self, directory: Path) -> None:
        """Numbered .eml files (arrival order is name order), each file's time its arrival."""
        directory.mkdir(parents=True, exist_ok=True)
        for message in self.messages:
            path = directory / f"{message.position + 1:06d}.eml"
            path.write_bytes(message.raw)
            os.utime(path, (message.arrived.timestamp(), message.arrived.timestamp()))


# --- people and their mail clients ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Client:
    family: str
    reply_prefix: str
    forward_prefix: str
    keeps_headers: bool
    agent: tuple[str, str] | None  # (header, value): X-Mailer or User-Agent


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    address: str
    company: str
    locale: str
    tz: int  # hours east of UTC
    client: Client
    generic: str | None  # the generic subject this person likes ("" = no subject), if any

    @property
    def freemail(self) -> bool:
        return self.company.startswith("person:")


_LOCALES = ("en", "de", "ru", "zh")
_LOCALE_WEIGHTS = (45, 20, 25, 10)
_TZ = {"en": (0, 0, -5, 1), "de": (1,), "ru": (3,), "zh": (8,)}
# (display, ascii) pairs: the ascii form makes the address.
_FIRST = {
    "en": [("Ann", "ann"), ("Bob", "bob"), ("Carol", "carol"), ("David", "david"), ("Emma", "emma"),
           ("Frank", "frank"), ("Grace", "grace"), ("Henry", "henry"), ("Julia", "julia"), ("Mark", "mark")],
    "de": [("Jürgen", "juergen"), ("Anna", "anna"), ("Lukas", "lukas"), ("Sophie", "sophie"), ("Jonas", "jonas"),
           ("Marie", "marie"), ("Felix", "felix"), ("Lea", "lea")],
    "ru": [("Анна", "anna"), ("Иван", "ivan"), ("Ольга", "olga"), ("Сергей", "sergey"), ("Мария", "maria"),
           ("Дмитрий", "dmitry"), ("Елена", "elena"), ("Алексей", "alexey")],
    "zh": [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("磊", "lei")],
}
_LAST = {
    "en": [("Smith", "smith"), ("Jones", "jones"), ("Taylor", "taylor"), ("Brown", "brown"), ("Wilson", "wilson"),
           ("Evans", "evans"), ("Clark", "clark"), ("Hughes", "hughes")],
    "de": [("Müller", "mueller"), ("Schmidt", "schmidt"), ("Weber", "weber"), ("Fischer", "fischer"),
           ("Wagner", "wagner"), ("Becker", "becker")],
    "ru": [("Иванов", "ivanov"), ("Петров", "petrov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
           ("Попов", "popov"), ("Соколов", "sokolov")],
    "zh": [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen")],
}
_COMPANY_WORDS = {
    "en": ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "tyrell", "soylent", "stark"),
    "de": ("mueller-bau", "schmidt-logistik", "weber-druck", "nordlicht", "alpenmilch"),
    "ru": ("romashka", "vektor", "stroymontazh", "tehnoservis", "severtrans"),
    "zh": ("zhongxin", "huaxia", "jinlong", "tianyi"),
}
_FREEMAIL = {  # domains of mailhelpdesk/data/freemail.txt
    "en": ("gmail.com", "outlook.com", "hotmail.com", "yahoo.com"),
    "de": ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    "ru": ("yandex.ru", "mail.ru", "gmail.com", "bk.ru"),
    "zh": ("qq.com", "163.com", "gmail.com"),
}
_FREEMAIL_FAMILY = {"gmail.com": "gmail", "outlook.com": "outlook", "hotmail.com": "outlook",
                    "yandex.ru": "yandex", "qq.com": "foxmail", "163.com": "foxmail"}
_COMPANY_FAMILIES: dict[str, tuple[tuple[str, float], ...]] = {
    "en": (("outlook", 5), ("thunderbird", 2), ("apple", 1.5), ("gmail", 1.5)),
    "de": (("outlook", 5), ("thunderbird", 3), ("apple", 1)),
    "ru": (("outlook", 4), ("thebat", 3), ("thunderbird", 2)),
    "zh": (("foxmail", 5), ("outlook", 3)),
}
_PREFIXES = {  # (family, locale) -> (reply prefix, forward prefix); else Re:/Fwd:
    ("outlook", "en"): ("RE:", "FW:"), ("outlook", "de"): ("AW:", "WG:"), ("outlook", "ru"): ("RE:", "FW:"),
    ("outlook", "zh"): ("答复:", "转发:"), ("thunderbird", "de"): ("Re:", "WG:"), ("webmail", "de"): ("AW:", "WG:"),
    ("thebat", "ru"): ("Ответ:", "Пересл:"), ("yandex", "ru"): ("Re:", "Пересл:"),
    ("webmail", "ru"): ("Ответ:", "Пересл:"),
    ("foxmail", "zh"): ("回复:", "转发:"), ("gmail", "zh"): ("回复:", "转发:"),
}
_AGENTS = {
    "outlook": ("X-Mailer", "Microsoft Outlook 16.0"), "thunderbird": ("User-Agent", "Mozilla Thunderbird"),
    "apple": ("X-Mailer", "Apple Mail (2.3774.600.62)"), "thebat": ("X-Mailer", "The Bat! (v10.4.1) Professional"),
    "foxmail": ("X-Mailer", "Foxmail 7.2.25.228[cn]"),
}


def _client(rng: random.Random, mix: Mix, family: str, locale: str) -> Client:
    reply, forward = _PREFIXES.get((family, locale), ("Re:", "Fwd:"))
    return Client(family, reply, forward, rng.random() >= mix.drop_client_share, _AGENTS.get(family))


def _person(rng: random.Random, mix: Mix, locale: str, domain: str, company: str | None, family: str) -> Person:
    first, last = rng.choice(_FIRST[locale]), rng.choice(_LAST[locale])
    name = f"{last[0]}{first[0]}" if locale == "zh" else f"{first[0]} {last[0]}"
    local = rng.choice((f"{first[1]}.{last[1]}", f"{first[1][0]}{last[1]}", first[1]))
    if company is None:  # a free-mail address is never just a first name
        local = f"{first[1]}.{last[1]}{rng.randint(1, 999)}"
    address = f"{local}@{domain}"
    generic = _favourite_generic(rng, locale) if rng.random() < mix.generic_person_share else None
    return Person(name, address, company or f"person:{address}", locale, rng.choice(_TZ[locale]),
                  _client(rng, mix, family, locale), generic)


def _favourite_generic(rng: random.Random, locale: str) -> str:
    """A word such as "Problem"; seldom no subject at all (most people type something)."""
    return "" if rng.random() < 0.15 else rng.choice([s for s in _GENERIC[locale] if s])


def _company(rng: random.Random, mix: Mix, index: int) -> list[Person]:
    locale = rng.choices(_LOCALES, _LOCALE_WEIGHTS)[0]
    domain = f"{rng.choice(_COMPANY_WORDS[locale])}-{index}.example"
    families = [family for family, _ in _COMPANY_FAMILIES[locale]]
    weights = [weight for _, weight in _COMPANY_FAMILIES[locale]]
    people: dict[str, Person] = {}
    for _ in range(rng.randint(2, 6)):
        # Some staff write from a subdomain: the company is still the organisation's domain.
        host = f"eu.{domain}" if rng.random() < 0.05 else domain
        person = _person(rng, mix, locale, host, domain, rng.choices(families, weights)[0])
        people.setdefault(person.address, person)  # two "Ann Smith"s share a mailbox: keep one
    return list(people.values()) if len(people) >= 2 else _company(rng, mix, index)


def _freemail_person(rng: random.Random, mix: Mix) -> Person:
    locale = rng.choices(_LOCALES, _LOCALE_WEIGHTS)[0]
    domain = rng.choice(_FREEMAIL[locale])
    return _person(rng, mix, locale, domain, None, _FREEMAIL_FAMILY.get(domain, "webmail"))


@dataclass(frozen=True, slots=True)
class _People:
    companies: list[list[Person]]
    freemail: list[Person]
    staff: dict[str, list[Person]]  # company -> its people

    def colleagues(self, person: Person) -> list[Person]:
        return [p for p in self.staff.get(person.company, []) if p.address != person.address]

    def stranger(self, rng: random.Random, company: str) -> Person:
        """Someone of another company (or a free-mail customer)."""
        while True:
            pool = rng.choice(self.companies) if rng.random() < 0.7 else self.freemail
            person = rng.choice(pool)
            if person.company != company:
                return person


def _population(rng: random.Random, mix: Mix, threads: int) -> _People:
    n_companies = max(4, round(threads * (1 - mix.freemail_share) / mix.threads_per_company))
    n_free = max(4, round(threads * mix.freemail_share / mix.threads_per_freemail))
    companies = [_company(rng, mix, i + 1) for i in range(n_companies)]
    free: dict[str, Person] = {}
    while len(free) < n_free:
        person = _freemail_person(rng, mix)
        free.setdefault(person.address, person)
    return _People(companies, list(free.values()), {c[0].company: c for c in companies})


# --- subjects and words --------------------------------------------------------------------------

_GENERIC = {"en": ("Problem", "Question", "Help", ""), "de": ("Problem", "Frage", ""),
            "ru": ("Вопрос", "Проблема", "Срочно", ""), "zh": ("问题", "")}
_SHARED = {"en": ("Invoice", "Printer is broken", "Login problem"), "de": ("Rechnung", "Drucker defekt"),
           "ru": ("Счёт", "Не работает принтер"), "zh": ("发票", "打印机坏了")}
_SUBJECTS = {
    "en": ("Cannot log in to the portal", "VPN disconnects every hour", "Invoice {n} is wrong",
           "Order {n} not delivered", "Password reset link expired", "Export to Excel fails",
           "Error 500 on the dashboard", "Need a second licence", "Mailbox quota exceeded",
           "Scanner does not send to e-mail", "Sync stopped after the update", "Change of billing address",
           "Access for a new employee", "Report {n} shows no data", "Slow response times since Monday"),
    "de": ("Anmeldung am Portal nicht möglich", "VPN trennt stündlich", "Rechnung {n} fehlerhaft",
           "Bestellung {n} nicht geliefert", "Export nach Excel schlägt fehl", "Zweite Lizenz benötigt",
           "Fehler 500 im Dashboard", "Neuer Mitarbeiter braucht Zugang"),
    "ru": ("Не могу войти в личный кабинет", "VPN отключается каждый час", "Ошибка в счёте {n}",
           "Заказ {n} не доставлен", "Не работает выгрузка в Excel", "Нужна вторая лицензия",
           "Ошибка 500 на главной странице", "Доступ для нового сотрудника"),
    "zh": ("无法登录门户", "VPN 每小时断开", "发票 {n} 有误", "订单 {n} 未送达", "导出 Excel 失败", "需要第二个许可证"),
}
_OPENING = {
    "en": ("Hello,\n\n{p}\n\n{d}\n\nBest regards,\n{name}", "Hi support team,\n\n{p} {d}\n\nThanks,\n{name}"),
    "de": ("Guten Tag,\n\n{p}\n\n{d}\n\nMit freundlichen Grüßen\n{name}",),
    "ru": ("Здравствуйте!\n\n{p}\n\n{d}\n\nС уважением,\n{name}",),
    "zh": ("您好，\n\n{p}\n\n{d}\n\n谢谢，\n{name}",),
}
_PROBLEM = {
    "en": ("Since this morning we cannot work with the system.", "One of our users gets an error message.",
           "Something is not working as it should.", "We need your help with our account."),
    "de": ("Seit heute früh können wir nicht arbeiten.", "Ein Benutzer bekommt eine Fehlermeldung."),
    "ru": ("С утра не можем работать в системе.", "У одного из сотрудников появляется ошибка."),
    "zh": ("从今天早上开始我们无法使用系统。", "我们的一个用户收到错误信息。"),
}
_DETAIL = {
    "en": ("Our customer number is {n}.", "The error code is E{n}.", "It started at about {h}:00."),
    "de": ("Unsere Kundennummer ist {n}.", "Der Fehlercode lautet E{n}."),
    "ru": ("Наш номер клиента {n}.", "Код ошибки E{n}."),
    "zh": ("我们的客户编号是 {n}。", "错误代码是 E{n}。"),
}
_FOLLOW = {
    "en": ("Any news on this?", "I tried again this morning: the same error.", "Here is the log you asked for: "
           "ref {n}.", "It works for one user now, but not for the others.", "Could you call me back? Ext. {n}."),
    "de": ("Gibt es schon Neuigkeiten?", "Heute früh wieder derselbe Fehler.", "Anbei die Logdatei, Ref. {n}."),
    "ru": ("Есть новости?", "Сегодня утром та же ошибка.", "Вот лог, который вы просили: {n}."),
    "zh": ("有进展吗？", "今天早上还是同样的错误。", "这是您要的日志：{n}。"),
}
_COLLEAGUE_NOTE = {"en": "Hi, I work with {first}. ", "de": "Hallo, ich arbeite mit {first} zusammen. ",
                   "ru": "Добрый день, я коллега {first}. ", "zh": "您好，我是{first}的同事。"}
_FORWARD_NOTE = {"en": ("Please see below, this reached me and needs your attention.",
                        "FYI: our partner has the same problem, see the mail below."),
                 "de": ("Bitte siehe unten, das kam bei mir an.",), "ru": ("Пересылаю письмо ниже, посмотрите.",),
                 "zh": ("请看下面的邮件。",)}
_FORWARD_HEAD = {"en": "---------- Forwarded message ---------",
                 "de": "-------- Weitergeleitete Nachricht --------",
                 "ru": "-------- Пересылаемое сообщение --------",
                 "zh": "------------------ 原始邮件 ------------------"}
_WROTE = {"en": "On {date}, {who} wrote:", "de": "Am {date} schrieb {who}:", "ru": "{date}, {who}:",
          "zh": "在 {date}，{who} 写道："}
_PREFIX = re.compile(r"^\s*(?:re|aw|fwd?|wg|ответ|пересл|回复|答复|转发)\s*:\s*", re.IGNORECASE)


def normalize(subject: str) -> str:
    """The subject without the reply/forward prefixes this corpus uses: what "the same subject" means."""
    previous = None
    while previous != subject:
        previous, subject = subject, _PREFIX.sub("", subject, count=1)
    return " ".join(subject.split()).casefold()


def _fill(rng: random.Random, template: str, **names: str) -> str:
    return template.format(n=rng.randint(1000, 99999), h=rng.randint(8, 17), **names)


# --- planning: threads, dates, who writes ----------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Thread:
    key: str
    requester: Person
    subject: str
    generic: bool
    drafts: list["_Draft"] = field(default_factory=list)
    forward_of: "_Draft | None" = None  # the message this thread forwards
    attached: bool = False  # forwarded as message/rfc822 rather than inline with References

    @property
    def company(self) -> str:
        return self.requester.company


@dataclass(eq=False, slots=True)
class _Draft:
    thread: _Thread
    index: int  # in its thread
    sender: Person
    date: datetime
    message_id: str  # with angle brackets
    bare: bool = False  # written as a new mail: no In-Reply-To/References
    cc: list[Person] = field(default_factory=list)
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    text: str = ""
    raw: bytes = b""
    arrival: datetime = EPOCH
    slot: int = 0  # in the true order of all drafts
    kinds: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        if self.index == 0:
            return self.thread.subject
        return f"{self.sender.client.reply_prefix} {self.thread.subject}".strip()

    @property
    def refs(self) -> list[str]:
        ids = [self.in_reply_to, *self.references] if self.in_reply_to else list(self.references)
        forwarded = self.thread.forward_of
        if self.index == 0 and forwarded is not None and self.thread.attached:
            ids.append(forwarded.message_id)
        return ids


def _business(moment: datetime, tz: int, rng: random.Random) -> datetime:
    """``moment``, or when the writer is next at work (a morning, in their time zone)."""
    local = moment.astimezone(timezone(timedelta(hours=tz)))
    morning = timedelta(minutes=rng.randint(0, 240))  # mail left for later goes out in the morning
    if local.hour >= 18 or local.weekday() >= 5:
        local = (local + timedelta(days=1)).replace(hour=8, minute=0) + morning
    elif local.hour < 8:
        local = local.replace(hour=8, minute=0) + morning
    while local.weekday() >= 5:
        local += timedelta(days=1)
    return local.replace(second=rng.randint(0, 59), microsecond=0)


def _gap(rng: random.Random) -> timedelta:
    """Hours to a few days between two messages of a thread (our answer came in between)."""
    hours = rng.uniform(1, 8) if rng.random() < 0.5 else rng.uniform(8, 72)
    return timedelta(hours=hours)


_SIZES, _SIZE_WEIGHTS = (1, 2, 3, 4, 5, 6), (30, 28, 20, 11, 6, 5)
_MSGID_HOSTS = {"gmail": "mail.gmail.com", "foxmail": "qq.com", "yandex": "mail.yandex.ru"}


class _Ids:
    """Message-IDs in each client's own style; a serial keeps them unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.serial = rng, 0

    def __call__(self, person: Person) -> str:
        self.serial += 1
        noise, family = f"{self.rng.getrandbits(64):016x}{self.serial:06d}", person.client.family
        if family == "gmail":
            return f"<CA{noise.upper()}+{self.rng.getrandbits(32):x}@mail.gmail.com>"
        if family == "outlook":
            return f"<{noise.upper()}@AM{self.serial % 9}PR07MB{self.serial % 9973}.eurprd07.prod.outlook.com>"
        if family == "foxmail":
            return f"<tencent_{noise.upper()}@qq.com>"
        host = _MSGID_HOSTS.get(family, person.address.rpartition("@")[2])
        return f"<{noise[:8]}-{noise[8:12]}-{noise[12:16]}-{noise[16:]}@{host}>"


def _subject(rng: random.Random, mix: Mix, person: Person) -> tuple[str, bool]:
    """A subject and whether it is a generic one."""
    if person.generic is not None and rng.random() < mix.generic_rate:
        return (person.generic if rng.random() < 0.7 else rng.choice(_GENERIC[person.locale])), True
    if rng.random() < mix.shared_rate:
        return rng.choice(_SHARED[person.locale]), False
    return _fill(rng, rng.choice(_SUBJECTS[person.locale])), False


def _replier(rng: random.Random, mix: Mix, thread: _Thread, colleagues: list[Person]) -> tuple[Person, bool]:
    """Who writes the next reply, and whether as a new mail without headers."""
    if colleagues and rng.random() < mix.colleague_rate:
        return rng.choice(colleagues), rng.random() < mix.colleague_bare
    requester = thread.requester
    bare = not requester.client.keeps_headers or (thread.generic and rng.random() < mix.generic_bare)
    return requester, bare


def _grow(rng: random.Random, mix: Mix, thread: _Thread, size: int, colleagues: list[Person], ids: _Ids) -> None:
    """Replies after the thread's first message, each some hours to days after the one before."""
    first = thread.drafts[0]
    when = first.date
    for index in range(1, size):
        sender, bare = _replier(rng, mix, thread, colleagues)
        when = max(_business(when + _gap(rng), sender.tz, rng), when + timedelta(minutes=1))
        draft = _Draft(thread, index, sender, when, ids(sender), bare=bare)
        if sender is not thread.requester:
            draft.cc = [thread.requester]  # a colleague answers to all
            if not bare and sender not in first.cc:
                first.cc.append(sender)  # who replies with headers was copied on the first mail
        thread.drafts.append(draft)


def _plan_thread(rng: random.Random, mix: Mix, key: str, people: _People, ids: _Ids) -> _Thread:
    if rng.random() < mix.freemail_share:
        requester = rng.choice(people.freemail)
    else:
        requester = rng.choice(rng.choice(people.companies))
    subject, generic = _subject(rng, mix, requester)
    thread = _Thread(key, requester, subject, generic)
    start = _business(EPOCH + timedelta(days=rng.uniform(0, 7 * mix.weeks)), requester.tz, rng)
    thread.drafts.append(_Draft(thread, 0, requester, start, ids(requester)))
    size = rng.choices(_SIZES, _SIZE_WEIGHTS)[0]
    _grow(rng, mix, thread, size, people.colleagues(requester), ids)
    return thread


def _plan_forward(rng: random.Random, mix: Mix, key: str, source: _Thread, people: _People,
                  ids: _Ids) -> _Thread:
    """Someone other than the requester forwards one of ``source``'s messages to us: a new thread."""
    old = rng.choice(source.drafts)
    # Who took part in the thread (wrote or was copied) answers in it; a forward comes from outside it.
    inside = {p.address for d in source.drafts for p in (d.sender, *d.cc)}
    colleagues = [p for p in people.colleagues(source.requester) if p.address not in inside]
    if colleagues and rng.random() >= mix.forward_foreign:
        sender = rng.choice(colleagues)
    else:
        sender = people.stranger(rng, source.company)
    subject = f"{sender.client.forward_prefix} {old.subject}".strip()
    thread = _Thread(key, sender, subject, False, forward_of=old, attached=rng.random() < mix.forward_attached)
    when = _business(old.date + timedelta(hours=rng.uniform(1, 240)), sender.tz, rng)
    thread.drafts.append(_Draft(thread, 0, sender, when, ids(sender)))
    _grow(rng, mix, thread, rng.choices((1, 2, 3), (60, 30, 10))[0], [], ids)
    return thread


def _plan(rng: random.Random, mix: Mix, threads: int, people: _People) -> list[_Thread]:
    ids = _Ids(rng)
    forwards = round(threads * mix.forward_rate)
    planned = [_plan_thread(rng, mix, f"T{i + 1:05d}", people, ids) for i in range(threads - forwards)]
    base = list(planned)
    for i in range(forwards):
        source = rng.choice(base)
        planned.append(_plan_forward(rng, mix, f"T{len(base) + i + 1:05d}", source, people, ids))
    return planned


# --- headers: what each message refers to ----------------------------------------------------------


@dataclass(slots=True)
class _Latest:
    """The most recently active thread per (company, subject) and per (requester, subject)."""

    company: dict[tuple[str, str], tuple[_Thread, datetime]] = field(default_factory=dict)
    requester: dict[tuple[str, str], tuple[_Thread, datetime]] = field(default_factory=dict)

    def names(self, draft: _Draft) -> bool:
        """Would "the latest thread with this subject" of the sender's company, and of the sender
        as a requester, both name this draft's true thread?"""
        thread, subject = draft.thread, normalize(draft.thread.subject)
        since = draft.date - SUBJECT_WINDOW
        company = self.company.get((thread.company, subject))
        own = self.requester.get((draft.sender.address, subject))
        return (company is not None and company[0] is thread and company[1] >= since
                and (own is None or own[0] is thread or own[1] < since))

    def saw(self, draft: _Draft) -> None:
        thread, subject = draft.thread, normalize(draft.thread.subject)
        self.company[(thread.company, subject)] = (thread, draft.date)
        self.requester[(thread.requester.address, subject)] = (thread, draft.date)


def _refer(draft: _Draft, parent: _Draft) -> None:
    draft.in_reply_to = parent.message_id
    draft.references = [*parent.references, parent.message_id][-20:]


def _resolve_headers(drafts: Sequence[_Draft]) -> None:
    """In true order: a reply keeps its headers unless it may go without (see ``_Latest.names``)."""
    latest = _Latest()
    for draft in drafts:
        thread = draft.thread
        if draft.index > 0:
            draft.bare = draft.bare and latest.names(draft)
            if not draft.bare:
                _refer(draft, thread.drafts[draft.index - 1])
        elif thread.forward_of is not None and not thread.attached:
            _refer(draft, thread.forward_of)  # as Gmail and Outlook do on a forward
        latest.saw(draft)


# --- bodies and bytes ----------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y at %H:%M")


def _who(person: Person) -> str:
    return f"{person.name} <{person.address}>"


def _quote(quoted: _Draft, locale: str) -> str:
    lines = "\n".join(f"> {line}" if line else ">" for line in quoted.text.splitlines())
    return f"{_WROTE[locale].format(date=_stamp(quoted.date), who=_who(quoted.sender))}\n{lines}\n"


def _forwarded_block(old: _Draft, locale: str) -> str:
    return (f"{_FORWARD_HEAD[locale]}\nFrom: {_who(old.sender)}\nDate: {_stamp(old.date)}\n"
            f"Subject: {old.subject}\nTo: <{SUPPORT_ADDRESS}>\n\n{old.text}\n")


def _text(rng: random.Random, draft: _Draft) -> str:
    """What the sender writes, in their language; a reply quotes the message before it."""
    person, thread, locale = draft.sender, draft.thread, draft.sender.locale
    sign = person.name
    if draft.index == 0 and thread.forward_of is not None:
        return f"{rng.choice(_FORWARD_NOTE[locale])}\n\n{sign}\n"
    if draft.index == 0:
        problem = _fill(rng, rng.choice(_PROBLEM[locale]))
        return _fill(rng, rng.choice(_OPENING[locale]), p=problem, d=_fill(rng, rng.choice(_DETAIL[locale])),
                     name=sign) + "\n"
    note = _fill(rng, rng.choice(_FOLLOW[locale]))
    if person is not thread.requester:
        note = _COLLEAGUE_NOTE[locale].format(first=thread.requester.name.split()[0]) + note
    return f"{note}\n\n{sign}\n"


def _body(draft: _Draft) -> str:
    thread = draft.thread
    if draft.index == 0 and thread.forward_of is not None and not thread.attached:
        return f"{draft.text}\n{_forwarded_block(thread.forward_of, draft.sender.locale)}"
    # A reply quotes the message before it; one typed as a new mail (a client that drops the
    # headers still quotes) does not.
    typed = draft.bare and draft.sender.client.keeps_headers
    if draft.index > 0 and not typed:
        return f"{draft.text}\n{_quote(thread.drafts[draft.index - 1], draft.sender.locale)}"
    return draft.text


def _address(person: Person) -> Address:
    local, _, domain = person.address.partition("@")
    return Address(person.name, local, domain)


def _render(rng: random.Random, draft: _Draft) -> bytes:
    msg = EmailMessage()
    msg["From"] = _address(draft.sender)
    msg["To"] = Address("Support", "support", SUPPORT_ADDRESS.partition("@")[2])
    if draft.cc:
        msg["Cc"] = [_address(p) for p in draft.cc]
    if draft.subject:  # "(no subject)": the header is left out, as most clients do
        msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(draft.date)
    msg["Message-ID"] = draft.message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
        msg["References"] = " ".join(draft.references)
    if draft.sender.client.agent:
        msg[draft.sender.client.agent[0]] = draft.sender.client.agent[1]
    msg.set_content(_body(draft))
    forwarded = draft.thread.forward_of
    if draft.index == 0 and forwarded is not None and draft.thread.attached:
        msg.add_attachment(message_from_bytes(forwarded.raw, policy=policy.default))
        msg.set_boundary(f"----=_Part_{rng.getrandbits(48):012x}")  # email's own boundary is random
    return msg.as_bytes(policy=_POLICY)


def _write(rng: random.Random, drafts: Sequence[_Draft]) -> None:
    for draft in drafts:  # true order: a quoted or forwarded message is written before
        draft.text = _text(rng, draft)
        draft.raw = _render(rng, draft)


# --- arrival order -------------------------------------------------------------------------------


def _arrive(rng: random.Random, mix: Mix, drafts: Sequence[_Draft]) -> None:
    """Every message arrives a little after its Date; some only after one of their replies."""
    for draft in drafts:
        draft.arrival = draft.date + timedelta(seconds=rng.randint(4, 120))
    target = round(mix.out_of_order_rate * len(drafts))
    candidates = [d for d in drafts if _reply_of(d) is not None]
    rng.shuffle(candidates)
    activity = _activity(drafts)
    involved: set[str] = set()
    done = 0
    for draft in candidates:
        reply = _reply_of(draft)
        if done >= target or reply is None or {draft.message_id, reply.message_id} & involved:
            continue
        arrival = reply.arrival + timedelta(seconds=rng.randint(30, 1200))
        if _may_arrive_at(draft, arrival, drafts) and not _subject_taken(draft, arrival, activity):
            draft.arrival, done = arrival, done + 1
            draft.kinds.append(OUT_OF_ORDER)
            involved.update((draft.message_id, reply.message_id))


def _reply_of(draft: _Draft) -> _Draft | None:
    """The next message of the thread, if it names ``draft`` and follows it within hours: IMAP
    order and imports swap messages that close, not a week apart."""
    drafts = draft.thread.drafts
    if draft.index + 1 >= len(drafts):
        return None
    reply = drafts[draft.index + 1]
    close = reply.date - draft.date <= timedelta(hours=8)
    return reply if close and reply.in_reply_to == draft.message_id else None


def _may_arrive_at(draft: _Draft, arrival: datetime, drafts: Sequence[_Draft]) -> bool:
    """Whether every message arriving before ``draft`` at ``arrival`` though written after it is
    harmless: not of the same company (the subject rules look there), nor referring to it, unless
    it is a reply in its own thread that names it and no message of another thread (a reply to a
    forward names the forwarded mail too: before the forward arrives, that is all it points at)."""
    own = {d.message_id for d in draft.thread.drafts}
    for other in drafts[draft.slot + 1:]:
        if other.date > arrival:
            break
        if other.arrival >= arrival:
            continue
        if other.thread.company != draft.thread.company and draft.message_id not in other.refs:
            continue
        if other.thread is not draft.thread or draft.message_id not in other.refs or not own.issuperset(other.refs):
            return False
    return True


_Activity = dict[tuple[str, str], list[tuple[datetime, _Thread]]]


def _activity(drafts: Sequence[_Draft]) -> _Activity:
    found: _Activity = defaultdict(list)
    for draft in drafts:
        found[(draft.thread.company, normalize(draft.thread.subject))].append((draft.date, draft.thread))
    return found


def _subject_taken(draft: _Draft, arrival: datetime, activity: _Activity) -> bool:
    """Whether another thread of the company has this subject and was active in the month before:
    a reply that arrives before its parent can then only be placed by its subject, and the subject
    names that other thread (the reply might well continue a discussion we never saw)."""
    since = draft.date - SUBJECT_WINDOW
    return any(thread is not draft.thread and since <= when <= arrival
               for when, thread in activity[(draft.thread.company, normalize(draft.thread.subject))])


# --- classes -------------------------------------------------------------------------------------


def _tag(threads: Sequence[_Thread]) -> None:
    """Name the hard case(s) each message is."""
    opened: dict[tuple[str, str], list[_Thread]] = defaultdict(list)  # (requester, subject) -> threads
    for thread in sorted(threads, key=lambda t: t.drafts[0].date):
        opened[(thread.requester.address, normalize(thread.subject))].append(thread)
    for thread in threads:
        reused = opened[(thread.requester.address, normalize(thread.subject))]
        first = thread.drafts[0]
        if thread.forward_of is not None:
            first.kinds.append(FORWARD_ATTACHED if thread.attached else FORWARD_INLINE)
        if thread.generic and reused[0] is not thread:
            first.kinds.append(GENERIC_NEW)
        for draft in thread.drafts[1:]:
            _tag_reply(draft, thread.generic and len(reused) > 1)
    _tag_shared(threads)


def _tag_reply(draft: _Draft, generic_reused: bool) -> None:
    if draft.sender is not draft.thread.requester:
        draft.kinds.append(COLLEAGUE_BARE if draft.bare else COLLEAGUE)
    elif draft.bare:
        draft.kinds.append(DROPPED)
        if generic_reused:
            draft.kinds.append(GENERIC_REPLY)


def _tag_shared(threads: Sequence[_Thread]) -> None:
    """A thread whose subject another company's thread uses within a week of it."""
    by_subject: dict[str, list[_Thread]] = defaultdict(list)
    for thread in threads:
        if not thread.generic and thread.forward_of is None:
            by_subject[normalize(thread.subject)].append(thread)
    week = timedelta(days=7)
    for group in by_subject.values():
        for thread in group:
            start, end = thread.drafts[0].date - week, thread.drafts[-1].date + week
            if any(o.company != thread.company and o.drafts[0].date <= end and o.drafts[-1].date >= start
                   for o in group):
                thread.drafts[0].kinds.append(SHARED_SUBJECT)


# --- the corpus ----------------------------------------------------------------------------------


def generate(threads: int, seed: int, mix: Mix | None = None) -> Corpus:
    """``threads`` true threads of customer mail, the same bytes for the same seed."""
    mix = mix or Mix()
    rng = random.Random(seed)
    people = _population(rng, mix, threads)
    planned = _plan(rng, mix, threads, people)
    drafts = sorted((d for t in planned for d in t.drafts), key=lambda d: (d.date, d.message_id))
    for slot, draft in enumerate(drafts):
        draft.slot = slot
    _resolve_headers(drafts)
    _write(rng, drafts)
    _tag(planned)
    _arrive(rng, mix, drafts)
    arrived = sorted(drafts, key=lambda d: (d.arrival, d.date, d.message_id))
    messages = tuple(_truth(d, i) for i, d in enumerate(arrived))
    return Corpus(seed, messages, {t.key: _thread_truth(t) for t in planned}, len(people.companies),
                  len(people.freemail))


def _bare_id(message_id: str) -> str:
    return message_id.strip("<>")


def _truth(draft: _Draft, position: int) -> Message:
    thread = draft.thread
    forward_of = thread.forward_of.thread.key if thread.forward_of is not None and draft.index == 0 else None
    return Message(draft.raw, thread.key, thread.company, thread.requester.address, position, forward_of,
                   _bare_id(draft.message_id), draft.sender.address, draft.subject, draft.date, draft.arrival,
                   tuple(_bare_id(r) for r in draft.refs), tuple(k for k in CLASSES if k in draft.kinds))


def _thread_truth(thread: _Thread) -> Thread:
    forward_of = thread.forward_of.thread.key if thread.forward_of is not None else None
    return Thread(thread.key, thread.company, thread.requester.address, thread.subject,
                  thread.requester.freemail, forward_of, tuple(_bare_id(d.message_id) for d in thread.drafts))


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Miss:
    """A message placed wrong: with ``other`` it should share a ticket (split), or it shares one with
    ``other`` of another thread (merged), or it was not stored at all (lost)."""

    problem: str  # "split", "merged" or "lost"
    message: Message
    ticket: int | None
    other: Message | None = None
    other_ticket: int | None = None


@dataclass(frozen=True, slots=True)
class ClassScore:
    messages: int  # messages of the class
    right: int  # ...placed right (see ``score``)
    threads: int  # threads holding such a message
    intact: int  # ...intact


@dataclass(frozen=True, slots=True)
class Score:
    messages: int
    stored: int
    threads: int
    intact: int
    split: int  # true threads spread over several tickets
    merged_tickets: int  # tickets holding several true threads
    cross_company: int  # tickets holding threads of different companies
    tickets: int
    classes: dict[str, ClassScore]
    misses: list[Miss]  # in arrival order

    @property
    def intact_ratio(self) -> float:
        return self.intact / self.threads if self.threads else 1.0

    def summary(self) -> str:
        return (f"threads intact {self.intact}/{self.threads} ({100 * self.intact_ratio:.2f} %), split {self.split}, "
                f"merged tickets {self.merged_tickets}, cross-company merges {self.cross_company}, "
                f"stored {self.stored}/{self.messages}")


def _homes(corpus: Corpus, placement: Mapping[str, int]) -> dict[str, tuple[int, Message]]:
    """Per thread, its ticket: where its first stored message (in true order) went, with that
    message. A thread none of whose messages was stored has none."""
    by_id, homes = corpus.by_id(), {}
    for key, thread in corpus.threads.items():
        first = next((m for m in thread.message_ids if m in placement), None)
        if first is not None:
            homes[key] = (placement[first], by_id[first])
    return homes


def _overtakers(corpus: Corpus) -> dict[str, list[Message]]:
    """For a message that arrived late: the messages of its thread that arrived before it though
    written after it. It must be placed with them too."""
    found: dict[str, list[Message]] = {}
    for message in corpus.messages:
        if OUT_OF_ORDER in message.kinds:
            found[message.message_id] = [m for m in corpus.messages[:message.position]
                                         if m.thread == message.thread and m.date > message.date]
    return found


def _judge(message: Message, placement: Mapping[str, int], home: tuple[int, Message] | None,
           intruder: Message | None, overtakers: Sequence[Message]) -> Miss | None:
    ticket = placement.get(message.message_id)
    if ticket is None or home is None:
        return Miss("lost", message, None)
    if intruder is not None:
        return Miss("merged", message, ticket, intruder, ticket)
    if ticket != home[0]:
        return Miss("split", message, ticket, home[1], home[0])
    for other in overtakers:
        if placement.get(other.message_id) != ticket:
            return Miss("split", message, ticket, other, placement.get(other.message_id))
    return None


_Intruders = dict[str, dict[int, Message]]  # thread -> {ticket: a message of another thread in it}


def _foreign(corpus: Corpus, placement: Mapping[str, int]) -> tuple[dict[int, set[str]], _Intruders]:
    """Per ticket the threads in it; per thread, a message of another thread in each of its tickets."""
    holds: dict[int, set[str]] = defaultdict(set)
    first: dict[tuple[int, str], Message] = {}
    for message in corpus.messages:
        ticket = placement.get(message.message_id)
        if ticket is not None:
            holds[ticket].add(message.thread)
            first.setdefault((ticket, message.thread), message)
    intruders: _Intruders = defaultdict(dict)
    for ticket, keys in holds.items():
        for key in keys:
            others = sorted(k for k in keys if k != key)
            if others:
                intruders[key][ticket] = first[(ticket, others[0])]
    return holds, intruders


def score(corpus: Corpus, placement: Mapping[str, int]) -> Score:
    """How the product's placement (Message-ID without brackets -> ticket) matches the truth.

    A thread is intact when all its messages are in one ticket that holds nothing else. A message
    is placed right when it is in its thread's ticket (where the thread's first message went) and
    that ticket holds no other thread; a message that arrived after its reply must also be with
    that reply. A thread is intact exactly when all its messages are placed right.
    """
    holds, intruders = _foreign(corpus, placement)
    homes, late = _homes(corpus, placement), _overtakers(corpus)

    def judge(message: Message) -> Miss | None:
        ticket = placement.get(message.message_id)
        intruder = intruders.get(message.thread, {}).get(ticket) if ticket is not None else None
        return _judge(message, placement, homes.get(message.thread), intruder, late.get(message.message_id, []))

    misses = [miss for m in corpus.messages if (miss := judge(m))]
    broken = {miss.message.thread for miss in misses}
    tickets_of: dict[str, set[int]] = defaultdict(set)
    for message in corpus.messages:
        if message.message_id in placement:
            tickets_of[message.thread].add(placement[message.message_id])
    companies = {k: {corpus.threads[t].company for t in keys} for k, keys in holds.items()}
    return Score(len(corpus.messages), sum(1 for m in corpus.messages if m.message_id in placement),
                 len(corpus.threads), len(corpus.threads) - len(broken),
                 sum(1 for tickets in tickets_of.values() if len(tickets) > 1),
                 sum(1 for keys in holds.values() if len(keys) > 1),
                 sum(1 for found in companies.values() if len(found) > 1), len(holds),
                 _class_scores(corpus, {miss.message.message_id for miss in misses}, broken), misses)


def _class_scores(corpus: Corpus, wrong: set[str], broken: set[str]) -> dict[str, ClassScore]:
    scores = {}
    for kind in CLASSES:
        members = [m for m in corpus.messages if kind in m.kinds]
        threads = {m.thread for m in members}
        scores[kind] = ClassScore(len(members), sum(1 for m in members if m.message_id not in wrong),
                                  len(threads), len(threads - broken))
    return scores


# --- command line --------------------------------------------------------------------------------


def _truth_json(corpus: Corpus) -> dict[str, object]:
    return {"seed": corpus.seed, "threads": {k: {"company": t.company, "requester": t.requester,
                                                 "subject": t.subject, "forward_of": t.forward_of,
                                                 "messages": list(t.message_ids)}
                                             for k, t in corpus.threads.items()},
            "messages": [{"file": f"{m.position + 1:06d}.eml", "message_id": m.message_id, "thread": m.thread,
                          "company": m.company, "kinds": list(m.kinds)} for m in corpus.messages]}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a support mailbox with ground truth.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--threads", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(None if argv is None else list(argv))
    corpus = generate(args.threads, args.seed)
    corpus.write(args.directory)
    (args.directory / "truth.json").write_text(json.dumps(_truth_json(corpus), ensure_ascii=False, indent=1))
    counts = ", ".join(f"{k} {v}" for k, v in corpus.class_counts().items())
    sys.stdout.write(f"{len(corpus.messages)} messages in {len(corpus.threads)} threads -> {args.directory}\n"
                     f"{counts}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
