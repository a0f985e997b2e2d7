"""reply_text(): the new part of a reply, without quoted history and signature."""

import pytest

from mailhelpdesk.mail.reply_text import MAX_LINES, new_text, reply_text

GMAIL = """It works again, thanks!

On Mon, Mar 16, 2026 at 10:15 AM Support <support@helpdesk.example> wrote:

> Please switch it off and on again.
>
> Support
"""

GMAIL_WRAPPED = """It works again, thanks!

On Mon, Mar 16, 2026 at 10:15 AM Helpdesk Support Team
<support@helpdesk.example>
wrote:

> Please switch it off and on again.
"""

OUTLOOK_ORIGINAL = """Still broken after the restart.

-----Original Message-----
From: Support <support@helpdesk.example>
Sent: Monday, March 16, 2026 10:15 AM
To: John <john@example.com>
Subject: [#1042] Printer

Please restart it.
"""

OUTLOOK_BLOCK = """Still broken after the restart.

________________________________
From: Support <support@helpdesk.example>
Sent: Monday, March 16, 2026 10:15 AM
To: John <john@example.com>
Subject: [#1042] Printer

Please restart it.
"""

OUTLOOK_NO_RULE = """Still broken after the restart.

From: Support
Sent: Monday, March 16, 2026 10:15 AM
To: John
Subject: [#1042] Printer

Please restart it.
"""

OUTLOOK_GERMAN = """Geht immer noch nicht.

Von: Support <support@helpdesk.example>
Gesendet: Montag, 16. März 2026 10:15
An: Hans <hans@example.de>
Betreff: [#1042] Drucker

Bitte neu starten.
"""

RUSSIAN = """Спасибо, заработало.

16.03.2026 10:15, Поддержка пишет:
> Перезагрузите принтер.
"""

RUSSIAN_PISAL = """Всё ещё не работает.

Понедельник, 16 марта 2026, 10:15 +03:00 от Поддержка <support@helpdesk.example>:
> Перезагрузите принтер.
"""

RUSSIAN_PISALA = """Всё ещё не работает.

В понедельник Анна писал(а):
> Перезагрузите принтер.
"""

GERMAN = """Danke, es funktioniert.

Am Mo., 16. März 2026 um 10:15 Uhr schrieb Support <support@helpdesk.example>:
> Bitte neu starten.
"""

FRENCH = """Merci, ça marche.

Le lun. 16 mars 2026 à 10:15, Support <support@helpdesk.example> a écrit :
> Merci de redémarrer.
"""

QUOTED_ONLY_BLOCK = """Yes, that was it.

> Did you try turning it off and on again?
> Regards, Support
"""

SIGNATURE = "Please check the VPN.\n\n-- \nJohn Smith\nACME Corp, +1 555 0100\n"

IPHONE = """Printer on floor 3 is jammed.

Sent from my iPhone

> On 16 Mar 2026, at 10:15, Support <support@helpdesk.example> wrote:
> Anything else?
"""

ALL_QUOTE = """On Mon, Mar 16, 2026 at 10:15 AM Support <support@helpdesk.example> wrote:
> Please switch it off and on again.
"""

INLINE = """Hi,

> Which printer is it?

The one on floor 3.

> Is it showing an error?

Yes, E-42.

Thanks
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GMAIL, "It works again, thanks!"),
        (GMAIL_WRAPPED, "It works again, thanks!"),
        (OUTLOOK_ORIGINAL, "Still broken after the restart."),
        (OUTLOOK_BLOCK, "Still broken after the restart."),
        (OUTLOOK_NO_RULE, "Still broken after the restart."),
        (OUTLOOK_GERMAN, "Geht immer noch nicht."),
        (RUSSIAN, "Спасибо, заработало."),
        (RUSSIAN_PISAL, "Всё ещё не работает."),
        (RUSSIAN_PISALA, "Всё ещё не работает."),
        (GERMAN, "Danke, es funktioniert."),
        (FRENCH, "Merci, ça marche."),
        (QUOTED_ONLY_BLOCK, "Yes, that was it."),
        (SIGNATURE, "Please check the VPN."),
        (IPHONE, "Printer on floor 3 is jammed."),
        ("Tak!\n\nW dniu 16.03.2026 o 10:15 Support <s@h.example> napisał(a):\n> Proszę.", "Tak!"),
        ("Ok\n\n在 2026年3月16日 10:15，Support <s@h.example> 写道：\n> 请重启。", "Ok"),
        ("Ok\r\n\r\nOn Mon, Support <s@h.example> wrote:\r\n> x\r\n", "Ok"),
        ("Takk!\n\ntir. 18. apr. 2026 kl. 13:09 skrev Support <s@h.example\n>:\n\n> Ok.", "Takk!"),
        ("Kiitos!\n\npe 20. maaliskuuta 2026 klo 17.50 Support\n<s@h.example> kirjoitti:\n\nx", "Kiitos!"),
        ("Merci.\n\n====\n\nMessage du : 16/03/2026 13:20\nDe : Support <s@h.example>\nA : moi@example.fr\n"
         "Sujet : Imprimante\n\nRedémarrez.", "Merci."),
        ("Ok.\n\n---- On Mon, 16 Mar 2026 10:15 +0100 s@h.example wrote ----\n\nold", "Ok."),
        ("Hej.\n\n-------- Oprindelig besked --------\nFra: Support\n\nold", "Hej."),
        ("Bonjour.\n\nEnvoyé à partir de Outlook pour iOS\n\nDe : Support", "Bonjour."),
        ("Ok.\n\nIvan Petrov wrote:\n> x", "Ok."),  # no time, no address: the quote below confirms it
        ("Ok.\n\nВы писали 3 ноября 2026 г., 10:15:\n\n> x", "Ok."),
        ("Ok.\n\nIvan <i@a.example> schrieb am Mo., 3. Nov. 2026, 10:15:\n\n> x", "Ok."),
        ("Ok.\n\nOn Mon, 3 Nov 2026 at 10:15, Ivan <i@a.example> wrote:\n\nold text", "Ok."),  # unquoted history
        ("Ok.\n\n03.11.2026, 10:15, \"Ivan\" <i@a.example>:\n\nold text", "Ok."),
        ("Ok.\n\nSent from a phone - please excuse typos", "Ok."),
        ("Ok.\n\n—\nAnna", "Ok."),  # "--" after autocorrection
    ],
)
def test_history_and_signature_are_removed(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_a_message_that_is_all_quote_keeps_its_text() -> None:
    assert reply_text(ALL_QUOTE) == ALL_QUOTE.strip()
    assert reply_text("> only a quote\n> nothing else") == "> only a quote\n> nothing else"


def test_signature_only_keeps_its_text() -> None:
    assert reply_text("-- \nJohn") == "-- \nJohn"


def test_inline_answers_keep_the_quotes_they_answer() -> None:
    assert reply_text(INLINE) == INLINE.strip()
    assert new_text(INLINE) == "Hi,\n\n\nThe one on floor 3.\n\n\nYes, E-42.\n\nThanks"  # never a quote to a customer


def test_short_answers_right_under_quoted_lines_are_kept() -> None:
    text = "Hi,\n> Is it down?\nYes, since 9:40.\n> When is it back?\nBy noon.\n"
    assert reply_text(text) == text.strip()
    assert new_text(text) == "Hi,\nYes, since 9:40.\nBy noon."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("> question 1\nanswer 1\n> question 2\nanswer 2", "> question 1\nanswer 1\n> question 2\nanswer 2"),
        ("> q1\na1\n> q2\na2\n\nOn Mon, 16 Mar 2026 at 10:15, Anna <a@x.example> wrote:\n> q1\n> q2\n",
         "> q1\na1\n> q2\na2"),
        ("> Frage 1\nAntwort 1\n> Frage 2\n", "> Frage 1\nAntwort 1"),  # the last question is unanswered
        ("> вопрос 1\nответ 1\n\n--\nИван\n\n> Анна\n", "> вопрос 1\nответ 1"),
        ("> q1\na1\n--\n> q2\na2\n", "> q1\na1\n--\n> q2\na2"),  # "--" with answers below is no signature
        ("> q1\na1\n> q2\n\nEnvoyé depuis mon iPhone\n", "> q1\na1"),
        ("> q1\nSent from my iPhone\n> q2\na2", "> q1\nSent from my iPhone\n> q2\na2"),
        ("Thanks!\n\nOn Mon, Anna <a@x.example> wrote:\n> q\n\n-- \nIvan\n", "Thanks!"),
        ("Thanks!\n\nOn Mon, Anna <a@x.example> wrote:\n> q\n\nSent from my iPhone\n", "Thanks!"),
    ],
)
def test_everything_up_to_the_last_own_line_is_kept(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_a_quoted_line_wrapped_by_a_mailer_goes_with_the_quote() -> None:
    text = "Hi,\n> The printer on floor 3 prints every page twice since the update from\nyesterday.\n> Why?\n\nFixed."
    assert new_text(text) == "Hi,\n\nFixed."
    trailing = "Fixed.\n\n> The printer on floor 3 prints every page twice since the update from\nyesterday.\n> Why?"
    assert reply_text(trailing) == "Fixed."  # still a trailing quote


def test_bottom_posted_answer_keeps_its_question() -> None:
    text = "On Mon, Support <s@h.example> wrote:\n> Which printer?\n\nThe one on floor 3.\n"
    assert reply_text(text) == text.strip()
    assert new_text(text) == "The one on floor 3."


def test_past_max_lines_answers_between_quotes_are_kept() -> None:
    text = "> q\nanswer\n" * MAX_LINES + "> last q\nlast answer\n"
    assert reply_text(text).endswith("last answer")
    top_posted = "Fixed.\n\n" + "> old\n" * MAX_LINES + "> older\n"
    assert reply_text(top_posted) == "Fixed."


QUOTE_ONLY = [
    "On 2026-03-16 10:15 GMT+01:00, Anna <anna@x.example> wrote:\n> Is it fixed?\n",
    "Le 16/03/2026 à 10:15, Anna a écrit :\n> Est-ce réparé ?\n",
    "Am 16.03.2026 um 10:15 schrieb Anna:\n> Ist es repariert?\n",
    "16.03.2026, 10:15 пользователь Анна <anna@x.ru> написал:\n> Починили?\n",
    "\u200b\nOn Mon, 16 Mar 2026 at 10:15, Anna wrote:\n> Is it fixed?\n",
    "-----Ursprüngliche Nachricht-----\nVon: Anna <anna@x.example>\nGesendet: Montag, 16. März 2026 10:15\n"
    "An: Ivan\nBetreff: Drucker\n\nIst es repariert?\n",
    "---------- Forwarded message ---------\nFrom: Anna <anna@x.example>\nDate: Mon, 16 Mar 2026\n"
    "Subject: Printer\nTo: Ivan\n\nIs it fixed?\n",
    "> Is it fixed?\n>\n> Anna\n\nSent from my iPhone\n",
]


@pytest.mark.parametrize("text", QUOTE_ONLY)
def test_a_mail_that_is_only_a_quote_has_no_new_text(text: str) -> None:
    assert new_text(text) == ""
    assert reply_text(text) == text.strip()  # the contract: an all-quote mail still says something


@pytest.mark.parametrize("text", ["\u200b", "\u200b\n\ufeff\n \u2060 \n", "\u200c\u200d\r\n"])
def test_invisible_characters_alone_are_no_text(text: str) -> None:
    assert reply_text(text) == ""
    assert new_text(text) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ok.\n\u200b\n\u200bOn Mon, 16 Mar 2026 at 10:15, Anna <a@x.example> wrote:\n\u200b\n> x", "Ok."),
        ("Ok.\n\n\ufeff-----Original Message-----\u200b\nFrom: Anna\n", "Ok."),
        ("Ok.\n\n\u200b________________________________\n\u2060From: Anna <a@x.example>\nSent: Monday\n"
         "To: Ivan\nSubject: x\n", "Ok."),
        ("Ok.\n\n-\u200b- \nAnna", "Ok."),
        ("Ok.\n\n\u200bSent from my iPhone\u200b\n\u200b", "Ok."),
        ("\u200b\nOk.\n\u200b\n", "Ok."),
    ],
)
def test_invisible_characters_do_not_hide_a_marker(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_invisible_characters_in_the_senders_text_stay() -> None:
    text = "Family: \U0001f468\u200d\U0001f469\u200d\U0001f467, file report\u200b_2026.pdf"
    assert reply_text(text) == text


def test_forward_pasted_without_comment_keeps_its_body() -> None:
    text = "From: Boss <boss@example.com>\nSent: Monday\nTo: Me\nSubject: Task\n\nPlease fix the printer.\n"
    assert reply_text(text) == "Please fix the printer."


@pytest.mark.parametrize(
    "text",
    [
        "On the surface this looks like an attribution.\nOn my laptop I wrote a script that fails.",
        "Here is a fix -- this is not a signature.\n\nkthxbai",
        "Sent from my desk, which is easier than from my phone.",
        "The notification was sent from my iPhone app to all users.",
        "We saw it on 12.03.2026 10:15, the error was:\nE-42 paper jam",
        "Name: John\nFrom: Moscow\nTo: Berlin\nDate: tomorrow",
        "From: our database, not from: external sources.",
        "I wrote: this is my own text.",
        "Hi,\n\nIn your last message you wrote:\n\n\"it fails\"\n\nFixed now.",
        "Hi,\n\nOn 3 November you wrote to billing@acme.example:\nthe price list is wrong. Fixed.",
        "Hi,\n\nI sent it to ivan@acme.example on 03.11.2026 at 10:15:\n\n1. INV-1\n2. INV-2",
        "Hi,\n\nPart one\n\n——————\nPart two",
        "Hi,\n\nSent from our warehouse today\nTracking: 1Z99",
        "Hi,\n\nSent from my personal phone today\nbecause the office\nnetwork is\ndown.",
        "Hi,\n\nSend it like this:\n\nFrom: you@example.com\nTo: a@b.example\nSubject: order",
        "Hi,\n\nThis reached us:\n\nFrom: Ivan <i@a.example>\nDate: 03.11.2026\nSubject: Printer\n\nResend it.",
        "Hi,\n\nSent from my iPhone\nthe upload fails, from the laptop it works.",
        "Hi,\n\nVon meinem iPhone gesendet\nkam nur das erste Foto an.\n\nIvan",
        "Bonjour,\n\nEnvoyé depuis mon iPhone\nle fichier est vide.",
        "Привет,\n\nОтправлено с iPhone\nтолько первое фото.",
        "Hi,\n\nOn 16/03/2026 at 10:15 GMT+01:00 the monitoring wrote:\n\"disk full\"\nCleaned up.",
        "Hi,\n\nThe original message is lost.\n-----\nForwarded message: none.\n----------\nAnna",
        "Hi,\n\nPart one.\n________________________________\nFrom the second tray only.\nIvan",
    ],
)
def test_human_text_that_looks_like_markers_is_kept(text: str) -> None:
    assert reply_text(text) == text


def test_huge_text_is_handled_in_bounded_time() -> None:
    text = "answer\n" + "> quoted line\nnot quoted\n" * 200_000
    result = reply_text(text)
    assert result.startswith("answer")


def test_new_text_is_empty_when_the_writer_added_nothing() -> None:
    quote_only = "On Mon, 3 Nov 2026 at 10:15, Desk <support@example.com> wrote:\n> New ticket [#1000]\n> Tier: vip\n"
    assert new_text(quote_only) == ""
    assert reply_text(quote_only) != ""  # a customer's all-quote mail still says something
    assert new_text("--\nAnna Smirnova\n+7 495 123-45-67\n\n" + quote_only) == ""
    assert new_text("\n\nSent from my iPhone\n\n" + quote_only) == ""
    assert new_text("Done, the toner is replaced.\n\n--\nAnna\n\n" + quote_only) == "Done, the toner is replaced."
