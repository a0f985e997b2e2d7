"""The shipped email templates rendered with sample data, the admin's overrides, the sandbox."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from mailhelpdesk.commands.templates import SAMPLE_AGENT, SAMPLE_EXTRA, SAMPLE_NOW, SAMPLE_NUMBER, sample_view
from mailhelpdesk.config import FaqLink, MailboxSettings
from mailhelpdesk.outbound.context import ContextBuilder, Moments
from mailhelpdesk.outbound.planner import Notice
from mailhelpdesk.outbound.templates import Rendered, RenderFailure, Templates
from mailhelpdesk.rules.replies import AUTOMATIC_MAILS
from mailhelpdesk.rules.ruleset import RuleSet, load_rules
from mailhelpdesk.rules.template_names import SHIPPED
from mailhelpdesk.signing import Signer
from mailhelpdesk.store.mail_view import Person, TicketView

PUBLIC_URL = "https://desk.example.com"
SIGNER = Signer(b"k" * 32)
BUILDER = ContextBuilder(PUBLIC_URL, SIGNER)
BOX = MailboxSettings("support", "support@example.com", display_name="Example Support")
NO_RULES = RuleSet(Path("rules.yaml"))  # no calendar: times in UTC (or the customer's zone)
CUSTOMER = "anna@customer.example"
CLOSE_AT = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CLOSING = Moments(CLOSE_AT, SAMPLE_NOW)  # a resolved ticket closes by itself then
SHIPPED_TEMPLATES = Templates(None)
CYRILLIC = re.compile("[а-яА-ЯёЁ]")
ALL = [(lang, name) for lang in SHIPPED_TEMPLATES.languages() for name in SHIPPED_TEMPLATES.names(lang)]


def render(name: str, language: str, view: TicketView | None = None, moments: Moments = CLOSING,
           templates: Templates = SHIPPED_TEMPLATES, ruleset: RuleSet = NO_RULES,
           extra: dict[str, object] | None = None) -> Rendered:
    rendered = render_any(name, language, view, moments, templates, ruleset, extra)
    assert isinstance(rendered, Rendered), rendered
    return rendered


def render_any(name: str, language: str, view: TicketView | None = None, moments: Moments = CLOSING,
               templates: Templates = SHIPPED_TEMPLATES, ruleset: RuleSet = NO_RULES,
               extra: dict[str, object] | None = None) -> Rendered | RenderFailure:
    """As ``templates check`` renders: agent_* names to an agent, the others to the requester."""
    agent = name.startswith("agent_")
    notice = Notice(name, "agent" if agent else "customer", (),
                    extra if extra is not None else {"sla_target": "first_response", "reason": "created"},
                    "Sample rule")
    recipient = SAMPLE_AGENT if agent else CUSTOMER
    context = BUILDER.build(view or sample_view(), notice, recipient, language, BOX, ruleset, moments)
    return templates.render(name, language, context)


def parts(rendered: Rendered) -> str:
    return "\n".join((rendered.subject, rendered.text, rendered.html))


# --- every shipped template ------------------------------------------------------------------


def test_both_languages_ship_every_template_a_rule_may_name() -> None:
    assert SHIPPED_TEMPLATES.languages() == ["en", "ru"]
    for language in ("en", "ru"):
        assert SHIPPED_TEMPLATES.names(language) == sorted(SHIPPED)
        assert all(SHIPPED_TEMPLATES.has(name, language) for name in SHIPPED)
    assert set(AUTOMATIC_MAILS) <= SHIPPED


def test_partials_are_not_templates() -> None:
    names = SHIPPED_TEMPLATES.names()
    assert "_layout" not in names and "_greeting" not in names
    assert not [n for n in names if n.startswith("_")]
    assert (SHIPPED_TEMPLATES.roots[0] / "en" / "_layout.html.j2").is_file()  # they do exist


@pytest.mark.parametrize(("language", "name"), ALL)
def test_every_template_renders_with_a_one_line_subject_carrying_the_token(language: str, name: str) -> None:
    rendered = render(name, language)
    assert (rendered.name, rendered.language) == (name, language)
    assert f"[#{SAMPLE_NUMBER}]" in rendered.subject
    assert "\n" not in rendered.subject and rendered.subject == rendered.subject.strip()
    assert sample_view().subject in rendered.subject
    assert rendered.text.strip() and rendered.text.endswith("\n") and not rendered.text.startswith("\n")
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in rendered.html
    assert not [line for line in rendered.text.splitlines() if line != line.rstrip()]  # no trailing spaces
    if language == "ru":  # Russian throughout, no English partial pulled in by mistake
        assert CYRILLIC.search(rendered.text) and CYRILLIC.search(rendered.html)
        for phrase in ("Kind regards", "Hello", "Automatic notice", "reply to this mail"):
            assert phrase not in parts(rendered)
    else:
        assert not CYRILLIC.search(parts(rendered))
    if not name.startswith("agent_"):  # customer mails never carry an agent's address
        assert sample_view().assignee not in parts(rendered)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_subject_starting_with_re_gets_no_second_re(language: str) -> None:
    view = replace(sample_view(), subject="RE: printer")
    assert render("acknowledgement", language, view).subject == f"RE: printer [#{SAMPLE_NUMBER}]"
    assert render("acknowledgement", language).subject == f"Re: {sample_view().subject} [#{SAMPLE_NUMBER}]"


# --- escaping --------------------------------------------------------------------------------

NASTY = '<script>alert(1)</script> & "x"'
NASTY_HTML = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_customer_written_values_are_escaped_in_html_and_raw_in_text(language: str) -> None:
    view = replace(sample_view(), subject=NASTY, requester=Person(CUSTOMER, "Anna", "<b>Anna</b>"),
                   last_customer_text="<img src=x onerror=alert(2)>")
    customer = render("acknowledgement", language, view)
    assert customer.subject == f"Re: {NASTY} [#{SAMPLE_NUMBER}]"  # a subject is plain text
    assert "<script>" not in customer.html and "<b>Anna</b>" not in customer.html
    assert NASTY_HTML in customer.html
    assert "&lt;b&gt;Anna&lt;/b&gt;" in customer.html
    assert "<b>Anna</b>" in customer.text
    agent = render("agent_new_ticket", language, view)
    assert NASTY in agent.subject and NASTY in agent.text
    assert NASTY_HTML in agent.html and "<script>" not in agent.html
    assert "<img src=x onerror=alert(2)>" in agent.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in agent.html and "<img" not in agent.html


# --- the greeting ----------------------------------------------------------------------------


@pytest.mark.parametrize(("person", "english", "russian"), [
    (Person(CUSTOMER, "Anna Petrova", "Anna", "Dear Dr. Petrova,"), "Dear Dr. Petrova,", "Dear Dr. Petrova,"),
    (Person(CUSTOMER, "Anna Petrova", "Anna"), "Hello Anna,", "Здравствуйте, Anna!"),
    (Person(CUSTOMER, "Anna Petrova"), "Hello Anna Petrova,", "Здравствуйте, Anna Petrova!"),
    (Person(CUSTOMER), "Hello,", "Здравствуйте!"),
])
def test_the_greeting_uses_the_salutation_else_the_name_else_a_neutral_one(person: Person, english: str,
                                                                             russian: str) -> None:
    view = replace(sample_view(), requester=person)
    for language, greeting in (("en", english), ("ru", russian)):
        for name in ("acknowledgement", "closed_survey"):
            rendered = render(name, language, view)
            assert rendered.text.splitlines()[0] == greeting
            assert f'<p style="margin:0 0 16px;">{greeting}</p>' in rendered.html


# --- what particular mails say ---------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_escalation_mail_names_neither_the_expert_nor_the_team(language: str) -> None:
    view = replace(sample_view(), line=4, team="acme-vendor-escalations", assignee="expert@vendor.example")
    rendered = render("escalated", language, view)
    for secret in ("expert@vendor.example", "vendor.example", "acme-vendor-escalations"):
        assert secret not in parts(rendered)
    # the agents' mail about the same ticket does name them: the data was there to leak
    agent = render("agent_new_ticket", language, view, extra={"reason": "escalated"})
    assert "acme-vendor-escalations" in agent.text and "expert@vendor.example" in agent.text


@pytest.mark.parametrize(("language", "close_on"), [("en", "26 November 2026"), ("ru", "26 ноября 2026")])
def test_the_closing_request_shows_the_close_date(language: str, close_on: str) -> None:
    rendered = render("closing_request", language)
    assert close_on in rendered.text and close_on in rendered.html
    never = render("closing_request", language, moments=Moments())  # close_after_days: 0
    assert "2026" not in never.text and "2026" not in never.html
    assert len(never.text) < len(rendered.text)


def test_the_close_date_is_the_customers_day() -> None:
    late = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # already the 27th in Tokyo
    view = replace(sample_view(), requester=Person(CUSTOMER, "Anna", timezone="Asia/Tokyo"))
    assert "27 November 2026" in render("closing_request", "en", view, Moments(late)).text
    assert "26 November 2026" in render("closing_request", "en", moments=Moments(late)).text  # UTC


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_survey_has_five_signed_links_one_per_score(language: str) -> None:
    rendered = render("closed_survey", language)
    urls = [BUILDER.survey_url(SAMPLE_NUMBER, score) for score in (1, 2, 3, 4, 5)]
    assert re.findall(r'<a href="([^"]*/survey/[^"]*)"', rendered.html) == urls  # besides the status page's
    in_text = re.findall(r"https?://\S*/survey/\S+", rendered.text)
    assert len(in_text) == 5 and set(in_text) == set(urls)  # every score once (the order is the template's choice)
    for score, url in enumerate(urls, start=1):
        base, number, signature, last = url.rsplit("/", 3)
        assert (base, number, last) == (f"{PUBLIC_URL}/survey", str(SAMPLE_NUMBER), str(score))
        assert SIGNER.survey_valid(SAMPLE_NUMBER, signature)
        assert not Signer(b"other" * 8).survey_valid(SAMPLE_NUMBER, signature)


def test_the_acknowledgement_promises_the_first_answer_in_working_hours(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("""\
calendars:
  office:
    timezone: Europe/Moscow
    hours: {mon-fri: [09:00-13:00, 14:00-18:00]}
sla:
  calendar: office
  policies:
    - {name: Standard, first_response: 4h}
""", "utf-8")
    ruleset = load_rules(rules_file).rules
    assert ruleset is not None
    # sample first response: 2026-11-23 14:15 UTC = 17:15 in Moscow, the desk's zone
    english = render("acknowledgement", "en", ruleset=ruleset)
    assert "We will answer by 23 November 2026, 17:15 (Europe/Moscow)." in english.text
    assert "Our working hours: Mon–Fri 09:00–13:00, 14:00–18:00 (Europe/Moscow)." in english.text
    russian = render("acknowledgement", "ru", ruleset=ruleset)
    assert "23 ноября 2026, 17:15" in russian.text and "Пн–Пт 09:00–13:00, 14:00–18:00" in russian.text


def test_mailbox_faq_links_are_listed_in_the_acknowledgement() -> None:
    box = replace(BOX, faq=(FaqLink("Printer help", "https://kb.example.com/printers?a=1&b=2"),))
    notice = Notice("acknowledgement", "customer", ())
    context = BUILDER.build(sample_view(), notice, CUSTOMER, "en", box, NO_RULES, Moments())
    rendered = SHIPPED_TEMPLATES.render("acknowledgement", "en", context)
    assert isinstance(rendered, Rendered)
    assert "https://kb.example.com/printers?a=1&b=2" in rendered.text
    assert 'href="https://kb.example.com/printers?a=1&amp;b=2"' in rendered.html
    assert "Printer help" in rendered.html
    assert "Example Support" in rendered.text  # signed with the display name


# --- agent mail: answering without the panel -------------------------------------------------

NEW_AGENT_TEMPLATES = ("agent_customer_replied", "agent_mention", "agent_answer_needed", "agent_command_failed")
AGENT_TEMPLATES = sorted(name for name in SHIPPED if name.startswith("agent_"))
CUSTOMER_TEMPLATES = sorted(name for name in SHIPPED if not name.startswith("agent_"))
# Every agent mail but the one about a refused reply, which is about the agent's own mail.
ABOUT_THE_TICKET = [name for name in AGENT_TEMPLATES if name != "agent_command_failed"]
FACTS = {  # the sample's deadlines at SAMPLE_NOW: the first response 25 minutes late, the resolution ahead
    "en": ("Anna Petrova <anna@customer.example>", "Customer Ltd", "standard", "high", "network",
           "first response", "23 November 2026, 14:15", "overdue by 25m", "resolution",
           "25 November 2026, 10:15", "1d 19h left"),
    "ru": ("Anna Petrova <anna@customer.example>", "Customer Ltd", "standard", "высокая", "network",
           "первый ответ", "23 ноября 2026, 14:15", "просрочено на 25 мин", "решение",
           "25 ноября 2026, 10:15", "осталось 1 д 19 ч"),
}
ANSWER = {"en": "Reply to this mail to answer the customer", "ru": "Чтобы ответить клиенту, ответьте на это письмо"}
COMMANDS = ("#note", "#status open|pending|resolved|closed", "#urgency low|normal|high|critical", "#line 1..4",
            "#team", "#assign", "#tag +x -y", "#cc", "#merge N")
NOTE_TEXT = "The print server queue is stuck."
ERRORS = ("#stauts resolved", "unknown command #stauts", "#urgency asap",
          "urgency must be one of low, normal, high, critical")
CUSTOMER_TEXT = sample_view().last_customer_text.strip()


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("name", NEW_AGENT_TEMPLATES)
def test_the_new_agent_templates_render_with_the_callers_values_and_without_them(language: str, name: str) -> None:
    assert name in SHIPPED and SHIPPED_TEMPLATES.has(name, language)
    for extra in (SAMPLE_EXTRA, {}):  # without a note or errors they still render: the defaults are empty
        rendered = render(name, language, extra=extra)
        assert f"[#{SAMPLE_NUMBER}]" in rendered.subject and rendered.text.strip() and rendered.html


def agent_context(view: TicketView, moments: Moments, language: str = "en",
                  audience: str = "agent") -> dict[str, Any]:
    notice = Notice("agent_new_ticket", "agent" if audience == "agent" else "customer", ())
    recipient = SAMPLE_AGENT if audience == "agent" else CUSTOMER
    return BUILDER.build(view, notice, recipient, language, BOX, NO_RULES, moments)


def test_agent_mail_lists_the_deadlines_in_target_order_with_the_time_left() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    dues = {"resolution": now + timedelta(days=3, hours=4, minutes=5), "next_response": None,
            "update_every": now - timedelta(minutes=25), "first_response": now + timedelta(hours=2, minutes=10)}
    context = agent_context(replace(sample_view(), dues=dues), Moments(now=now))
    assert context["deadlines"] == [
        {"target": "first_response", "label": "first response", "due": "23 November 2026, 14:10",
         "left": "2h 10m", "overdue": False, "overdue_by": ""},
        {"target": "update_every", "label": "customer update", "due": "23 November 2026, 11:35",
         "left": "", "overdue": True, "overdue_by": "25m"},
        {"target": "resolution", "label": "resolution", "due": "26 November 2026, 16:05",
         "left": "3d 4h", "overdue": False, "overdue_by": ""},
    ]
    russian = agent_context(replace(sample_view(), dues=dues), Moments(now=now), "ru")["deadlines"]
    assert [(d["label"], d["left"], d["overdue_by"]) for d in russian] == [
        ("первый ответ", "2 ч 10 мин", ""), ("обновление для клиента", "", "25 мин"), ("решение", "3 д 4 ч", "")]


def test_a_deadline_due_this_minute_is_not_yet_overdue_and_no_dues_mean_no_deadlines() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    view = replace(sample_view(), dues={"first_response": now, "resolution": None})
    assert agent_context(view, Moments(now=now))["deadlines"] == [
        {"target": "first_response", "label": "first response", "due": "23 November 2026, 12:00", "left": "0m",
         "overdue": False, "overdue_by": ""}]
    assert agent_context(replace(sample_view(), dues={}), Moments(now=now))["deadlines"] == []


def test_without_a_clock_of_the_change_the_time_left_counts_from_now() -> None:
    due = datetime.now(UTC) + timedelta(hours=3, seconds=30)
    deadlines = agent_context(replace(sample_view(), dues={"first_response": due}), Moments())["deadlines"]
    assert [d["left"] for d in deadlines] in (["3h"], ["2h 59m"])


def test_the_agent_and_the_tier_are_in_the_context_and_the_caller_may_override_them() -> None:
    agent = agent_context(sample_view(), CLOSING)
    assert agent["agent"] == {"email": SAMPLE_AGENT, "name": ""}
    assert agent["note"] == {"author": "", "text": ""} and agent["errors"] == []
    assert agent["ticket"]["tier"] == "standard"
    customer = agent_context(sample_view(), CLOSING, audience="customer")
    assert customer["agent"] == {"email": "", "name": ""} and customer["deadlines"] == []
    assert customer["ticket"]["tier"] == "standard"
    named = {"agent": {"email": SAMPLE_AGENT, "name": "Ivan"}}
    notice = Notice("agent_mention", "agent", (SAMPLE_AGENT,), named)
    assert BUILDER.build(sample_view(), notice, SAMPLE_AGENT, "en", BOX, NO_RULES, CLOSING)["agent"] == named["agent"]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("name", ABOUT_THE_TICKET)
def test_every_agent_mail_carries_what_is_needed_to_answer_without_the_panel(language: str, name: str) -> None:
    rendered = render(name, language, extra=SAMPLE_EXTRA)
    for part in (rendered.text, rendered.html):
        for fact in (*FACTS[language], SAMPLE_AGENT, CUSTOMER_TEXT):
            assert (fact if part is rendered.text else escape(fact)) in part, fact
    assert ("Line:       2\n" if language == "en" else "Линия:        2\n") in rendered.text
    deadline = "23 November 2026, 14:15 — overdue by 25m" if language == "en" else \
        "23 ноября 2026, 14:15 — просрочено на 25 мин"
    assert deadline in rendered.text


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("name", AGENT_TEMPLATES)
def test_every_agent_mail_ends_with_the_commands(language: str, name: str) -> None:
    rendered = render(name, language, extra=SAMPLE_EXTRA)
    for part in (rendered.text, rendered.html):
        assert ANSWER[language] in part
        assert all(command in part for command in COMMANDS)
    tail = rendered.text[rendered.text.index(ANSWER[language]):]
    assert "#merge N" in tail and CUSTOMER_TEXT not in tail  # the block is last: nothing of the ticket after it
    # indented, so that a reply quoting the mail without "> " never starts a line with a command
    assert not [line for line in rendered.text.splitlines() if line.startswith("#")]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("name", CUSTOMER_TEMPLATES)
def test_customer_mail_has_neither_the_commands_nor_an_agents_address(language: str, name: str) -> None:
    rendered = render(name, language, extra=SAMPLE_EXTRA)
    for secret in (SAMPLE_AGENT, "#note", "#assign", "#merge", ANSWER[language], "overdue", "просрочено", NOTE_TEXT):
        assert secret not in parts(rendered), secret


@pytest.mark.parametrize(("language", "headline", "unassigned"), [
    ("en", "The customer replied on ticket [#1042], which is assigned to you.",
     "The customer replied on ticket [#1042] of your team; nobody is assigned to it."),
    ("ru", "Клиент ответил по заявке [#1042], назначенной на Вас.",
     "Клиент ответил по заявке [#1042] Вашей группы; исполнитель не назначен."),
])
def test_a_customer_reply_shows_the_new_text_first(language: str, headline: str, unassigned: str) -> None:
    rendered = render("agent_customer_replied", language, extra=SAMPLE_EXTRA)
    assert rendered.text.startswith(headline + "\n") and headline in rendered.html
    for part in (rendered.text, rendered.html):
        assert part.index(CUSTOMER_TEXT) < part.index("Customer Ltd")  # before the ticket's fields
    team = render("agent_customer_replied", language, replace(sample_view(), assignee=""), extra=SAMPLE_EXTRA)
    assert unassigned in team.html and " ".join(team.text.split("\n\n")[0].split()) == unassigned


@pytest.mark.parametrize(("language", "name", "headline"), [
    ("en", "agent_mention", "Olga Smirnova mentioned you in an internal note on [#1042]:"),
    ("ru", "agent_mention", "Вас упомянули во внутренней заметке к заявке [#1042]."),
    ("en", "agent_answer_needed", "Ticket [#1042] needs an answer to the customer."),
    ("ru", "agent_answer_needed", "По заявке [#1042] нужно ответить клиенту."),
])
def test_a_note_mail_shows_its_author_and_text(language: str, name: str, headline: str) -> None:
    rendered = render(name, language, extra=SAMPLE_EXTRA)
    assert rendered.text.startswith(headline + "\n")
    for part in (rendered.text, rendered.html):
        assert "Olga Smirnova" in part and NOTE_TEXT in part
        assert part.index(NOTE_TEXT) < part.index("Customer Ltd")
    if name == "agent_mention":
        assert "Olga Smirnova" in rendered.subject
    assert "<b>" not in render(name, language, extra=SAMPLE_EXTRA | {
        "note": {"author": "<b>Olga</b>", "text": "<b>x</b>"}}).html  # agents write notes: escaped too


@pytest.mark.parametrize(("language", "nothing", "line"), [
    ("en", "Nothing was changed and nothing was sent to the customer.", "Line 2: #urgency asap"),
    ("ru", "Ничего не изменено, клиенту ничего не отправлено.", "Строка 2: #urgency asap"),
])
def test_a_refused_reply_lists_each_error_and_not_the_customers_text(language: str, nothing: str,
                                                                      line: str) -> None:
    rendered = render("agent_command_failed", language, extra=SAMPLE_EXTRA)
    assert nothing in rendered.text and nothing in rendered.html
    assert line in rendered.text
    for part in (rendered.text, rendered.html):
        assert all(error in part for error in ERRORS)
    assert CUSTOMER_TEXT not in parts(rendered)
    assert rendered.text.index(line) < rendered.text.index(ANSWER[language])  # the errors, then the help


# --- the admin's directory -------------------------------------------------------------------


def admin(tmp_path: Path, files: dict[str, str]) -> Templates:
    for relative, text in files.items():
        path = tmp_path / "email" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return Templates(tmp_path)


def test_an_admin_file_replaces_just_that_part(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/acknowledgement.subject.j2": "Got it: {{ ticket.subject }} {{ ticket.token }}"})
    assert templates.roots[0] == tmp_path / "email"
    rendered = render("acknowledgement", "en", templates=templates)
    shipped = render("acknowledgement", "en")
    assert rendered.subject == f"Got it: {sample_view().subject} [#{SAMPLE_NUMBER}]"
    assert (rendered.text, rendered.html) == (shipped.text, shipped.html)
    assert render("acknowledgement", "ru", templates=templates).subject == render("acknowledgement", "ru").subject
    assert render("escalated", "en", templates=templates).subject == render("escalated", "en").subject


def test_an_admin_partial_changes_every_mail_that_includes_it(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/_signature.txt.j2": "Cheers, the {{ mailbox.display_name }} crew"})
    for name in ("acknowledgement", "closing_request"):
        text = render(name, "en", templates=templates).text
        assert text.endswith("Cheers, the Example Support crew\n")
        assert "Kind regards" not in text
    assert "Kind regards" in render("acknowledgement", "en", templates=templates).html  # html partial unchanged


@pytest.mark.parametrize("escape", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ ticket.__class__.__subclasses__() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
])
def test_sandbox_escapes_fail_to_render(tmp_path: Path, escape: str) -> None:
    templates = admin(tmp_path, {"en/evil.subject.j2": "{{ ticket.token }}", "en/evil.txt.j2": f"x {escape} y"})
    result = render_any("evil", "en", templates=templates)
    assert isinstance(result, RenderFailure)
    assert (result.name, result.language) == ("evil", "en")
    assert "SecurityError" in result.error
    assert "unsafe" in result.error


def test_an_undefined_variable_is_a_render_failure(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/typo.subject.j2": "{{ ticket.token }}",
                                 "en/typo.txt.j2": "Hello\n{{ contact.nmae }}\n"})
    result = render_any("typo", "en", templates=templates)
    assert isinstance(result, RenderFailure)
    assert "UndefinedError" in result.error and "nmae" in result.error


def test_a_syntax_error_is_a_render_failure_naming_file_and_line(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/broken.subject.j2": "{{ ticket.token }}",
                                 "en/broken.txt.j2": "Hello\n\n{% if x %}never closed\n"})
    assert templates.has("broken", "en")  # it exists; rendering reports the problem
    result = render_any("broken", "en", templates=templates)
    assert isinstance(result, RenderFailure)
    assert "en/broken.txt.j2:" in result.error and "TemplateSyntaxError" in result.error


def test_a_template_without_its_text_part_is_missing(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/half.subject.j2": "{{ ticket.token }}"})
    assert not templates.has("half", "en")
    assert "half" in templates.names("en")  # listed, so `templates check` can report it


def test_an_admin_template_without_html_sends_text_only(tmp_path: Path) -> None:
    templates = admin(tmp_path, {"en/outage.subject.j2": "Outage {{ ticket.token }}\n\n",
                                 "en/outage.txt.j2": "\n\nWe know.\n\n\n"})
    rendered = render("outage", "en", templates=templates)
    assert (rendered.subject, rendered.text, rendered.html) == (f"Outage [#{SAMPLE_NUMBER}]", "We know.\n", "")


def test_language_for_takes_the_first_wanted_language_that_has_the_template(tmp_path: Path) -> None:
    templates = admin(tmp_path, {
        "de/acknowledgement.subject.j2": "Re: {{ ticket.subject }} {{ ticket.token }}",
        "de/acknowledgement.txt.j2": "Guten Tag",
        "fr/acknowledgement.subject.j2": "Re: {{ ticket.subject }} {{ ticket.token }}",  # no text part
        "en/outage.subject.j2": "{{ ticket.token }}",
        "en/outage.txt.j2": "Outage",
    })
    assert templates.languages() == ["de", "en", "fr", "ru"]
    assert templates.language_for("acknowledgement", ["fr", "de", "en"]) == "de"
    assert templates.language_for("acknowledgement", ["", "xx", "ru", "en"]) == "ru"
    assert templates.language_for("escalated", ["de", "fr", "ru", "en"]) == "ru"
    assert templates.language_for("outage", ["ru", "de", "en"]) == "en"
    assert templates.language_for("outage", ["ru", "de"]) is None
    assert templates.language_for("no_such_template", ["en", "ru"]) is None
    assert templates.language_for("acknowledgement", []) is None
    assert "outage" in templates.names() and "outage" not in templates.names("ru")
