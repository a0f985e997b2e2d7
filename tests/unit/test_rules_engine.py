"""Running rules: order, stop, near misses, changes old → new; the example file rule by rule; dry runs."""

import importlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhelpdesk.companies.domains import parse_freemail
from mailhelpdesk.config import MailboxSettings
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.mail.reply_text import reply_text
from mailhelpdesk.rules.actions import ACTIONS
from mailhelpdesk.rules.dry_run import DryRun, dry_run
from mailhelpdesk.rules.engine import ACTION_EFFECTS, evaluate
from mailhelpdesk.rules.facts import MailFacts, guess_language
from mailhelpdesk.rules.regex_search import compile_search
from mailhelpdesk.rules.ruleset import RuleSet, load_rules

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yaml"
FREEMAIL = parse_freemail(["gmail.com", "mail.ru"])
MONDAY_10 = datetime(2026, 11, 23, 7, 15, tzinfo=UTC)  # 10:15 in Moscow


def example() -> RuleSet:
    rules = load_rules(EXAMPLE).rules
    assert rules is not None
    return rules


def ruleset(tmp_path: Path, text: str) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    result = load_rules(path)
    assert result.problems == ()
    assert result.rules is not None
    return result.rules


def mail(subject: str = "Question", body: str = "Hello", sender: str = "Ann <ann@example.org>",
         attachment: str | None = None) -> ParsedMail:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@example.com", subject
    msg.set_content(body)
    if attachment:
        msg.add_attachment(b"\x00dump", maintype="application", subtype="octet-stream", filename=attachment)
    return parse_mail(msg.as_bytes())


def run(rules: RuleSet, parsed: ParsedMail, mailbox: str = "support") -> DryRun:
    return dry_run(rules, parsed, MailboxSettings(mailbox, f"{mailbox}@example.com"), MONDAY_10, FREEMAIL)


def facts(parsed: ParsedMail, state: TicketState, **overrides: object) -> MailFacts:
    values: dict[str, object] = {"mailbox": "support", "company": "", "company_tier": "", "at": MONDAY_10}
    values.update(overrides)
    return MailFacts(parsed, state=state, **values)  # type: ignore[arg-type]


def test_every_parsed_action_has_an_effect() -> None:
    assert set(ACTIONS) == set(ACTION_EFFECTS)


# --- evaluate ------------------------------------------------------------------------------

RULES = """\
teams:
  net: {line: 2}
rules:
  - name: first
    on: ticket_created
    when: {subject: {contains: down}}
    then: {urgency: high, tags: [outage]}
  - name: second
    on: ticket_created
    when: {subject: {contains: down}, sender_domain: acme.com}
    then: {team: net, escalate: true}
  - name: stopper
    on: ticket_created
    when: {subject: {contains: stop}}
    then: {stop: true, note: stopped}
  - name: after
    on: ticket_created
    then: {tags: [late]}
"""


def test_rules_run_in_order_and_record_each_change(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    parsed = mail("Site down", sender="bob@acme.com")
    decision = evaluate(rules, "ticket_created", facts(parsed, TicketState()), TicketState())

    assert [f.rule.name for f in decision.fired] == ["first", "second", "after"]
    assert [str(c) for c in decision.fired[0].changes] == ["urgency: normal → high", "tags: [] → [outage]"]
    assert [str(c) for c in decision.fired[1].changes] == ["team: '' → net", "line: 1 → 2"]
    assert decision.after.tags == frozenset({"outage", "late"})
    assert decision.before == TicketState()


def test_stop_ends_the_list(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    decision = evaluate(rules, "ticket_created", facts(mail("please stop"), TicketState()), TicketState())
    assert [f.rule.name for f in decision.fired] == ["stopper"]
    assert decision.stopped_by == "stopper" and decision.after.notes == ("stopped",)


def test_a_rule_with_some_conditions_holding_is_a_near_miss(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    decision = evaluate(rules, "ticket_created", facts(mail("Site down", sender="eve@other.org"), TicketState()),
                        TicketState())
    assert [(m.rule.name, m.held, m.total, m.failed) for m in decision.near_misses] == [
        ("second", 1, 2, ("sender_domain equals acme.com",))]


def test_escalate_stops_at_the_vendor_line(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, "rules:\n  - name: up\n    on: sla_breached\n    then: {escalate: true}\n")
    state = TicketState(line=4)
    assert evaluate(rules, "sla_breached", facts(mail(), state), state).after.line == 4


# --- the example file, rule by rule --------------------------------------------------------


def test_example_spam_is_ignored_and_stops() -> None:
    result = run(example(), mail("Crypto giveaway for you"))
    assert result.decision.after.spam and result.decision.stopped_by == "Spam"


@pytest.mark.parametrize(("mailbox", "team"), [("billing", "billing"), ("it", "network"), ("support", "")])
def test_example_mailboxes_route_to_teams(mailbox: str, team: str) -> None:
    assert run(example(), mail(), mailbox).decision.after.team == team


def test_example_vip_outage_is_critical_with_the_vip_policy() -> None:
    result = run(example(), mail("Сервер не работает", sender="Ivan <ivan@eu.acme.com>"))
    state = result.decision.after
    assert (result.company, result.tier) == ("Acme Corporation", "vip")
    assert (state.urgency, state.line, state.tags, state.notify, state.templates) == (
        "critical", 2, frozenset({"outage"}), ("dispatch", "network"), ())
    assert result.policy is not None and result.policy.name == "VIP critical"
    due = {d.target: d.due for d in result.deadlines}
    assert due["first_response"] == MONDAY_10 + timedelta(minutes=30)  # clock time for VIP outages


def test_example_invoice_number_goes_to_billing_with_its_capture() -> None:
    result = run(example(), mail("Payment", body="Please check invoice no. 48213, paid yesterday."))
    fired = {f.rule.name: f for f in result.decision.fired}
    assert fired["Invoice numbers"].hits[0].captures == (("invoice", "48213"),)
    assert result.decision.after.team == "billing" and "invoice" in result.decision.after.tags


def test_example_urgent_subject_but_not_when_already_critical() -> None:
    assert run(example(), mail("URGENT: password reset")).decision.after.urgency == "high"
    critical = run(example(), mail("Срочно: outage"))
    assert critical.decision.after.urgency == "critical"
    assert [m.rule.name for m in critical.decision.near_misses] == ["Urgent in the subject"]


def test_example_crash_dumps_go_to_the_vendor() -> None:
    state = run(example(), mail("App crashes", attachment="app.dmp")).decision.after
    assert (state.line, state.team, state.notes) == (4, "vendor", ("Crash dump attached: forward to the vendor",))


def test_example_standard_customer_gets_24_hours_without_holidays() -> None:
    new_year_eve = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    result = dry_run(example(), mail(sender="Pat <pat@globex.ru>"), MailboxSettings("support", "s@x"),
                     new_year_eve, FREEMAIL)
    assert result.policy is not None and result.policy.name == "Standard"
    # 12 hours left on Dec 31, Jan 1 and 2 are closed, the other 12 hours on Jan 3
    assert [d.due for d in result.deadlines] == [datetime(2027, 1, 3, 9, 0, tzinfo=UTC)]


def test_example_timed_and_sla_rules() -> None:
    rules = example()
    pending = evaluate(rules, "pending_for", facts(mail(), TicketState(status="pending")), TicketState())
    assert pending.after.templates == ("reminder",) and "stale" in pending.after.tags
    breached = evaluate(rules, "sla_breached", facts(mail(), TicketState(line=2)), TicketState(line=2))
    assert (breached.after.line, breached.after.notify) == (3, ("experts",))
    expert = evaluate(rules, "sla_breached", facts(mail(), TicketState(line=3)), TicketState(line=3))
    assert expert.fired == ()


def test_free_mail_senders_have_no_company() -> None:
    assert run(example(), mail(sender="x@gmail.com")).company == ""


@pytest.mark.parametrize(("text", "language"), [
    ("Добрый день, сервер не отвечает", "ru"),
    ("Добрий день, сервер не працює, їжак", "uk"),
    ("Hello, the printer is not working and we need help", "en"),
    ("Guten Tag, der Drucker ist nicht erreichbar und ich weiß nicht weiter", "de"),
    ("サーバーが応答しません", "ja"),
    ("服务器没有响应", "zh"),
    ("ok", ""),
])
def test_guess_language(text: str, language: str) -> None:
    assert guess_language(text) == language


# --- what makes evaluation fast must not change what it decides ------------------------------------

MEMO_RULES = """\
rules:
  - name: untagged
    on: ticket_created
    when: {tags: {exists: false}, urgency: normal}
    then: {tags: [seen]}
  - name: tagged
    on: ticket_created
    when: {tags: seen}
    then: {urgency: high}
  - name: high
    on: ticket_created
    when: {urgency: {in: [high]}, reply_text: {contains: hello}}
    then: {tags: [high]}
  - name: language
    on: ticket_created
    when: {language: en, reply_text: {regex: "h(?P<rest>ello)"}}
    then: {note: English}
"""


def test_ticket_fields_are_read_afresh_after_a_rule_changes_them(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, MEMO_RULES)
    parsed = mail(body="Hello, the printer is not working and we need help")
    decision = evaluate(rules, "ticket_created", facts(parsed, TicketState()), TicketState())
    assert [f.rule.name for f in decision.fired] == ["untagged", "tagged", "high", "language"]
    assert decision.after.tags == frozenset({"seen", "high"}) and decision.after.urgency == "high"
    assert decision.fired[3].hits[1].captures == (("rest", "ello"),)


def test_with_state_shares_the_mail_values_but_not_the_ticket_values() -> None:
    first = facts(mail(body="Hello there"), TicketState(urgency="low", tags=frozenset({"a"})))
    assert (first.value("urgency", ""), first.folded("tags", "", True), first.value("body", "")) == (
        "low", ("a",), "Hello there\n")
    second = first.with_state(TicketState(urgency="high", tags=frozenset({"B"})))
    assert (second.value("urgency", ""), second.value("tags", ""), second.folded("tags", "", True)) == (
        "high", ["B"], ("b",))
    assert (first.value("urgency", ""), first.value("tags", "")) == ("low", ["a"])
    assert second.value("body", "") is first.value("body", "")
    assert first.with_state(first.state) is first


def test_expensive_mail_values_are_computed_once_per_mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mailhelpdesk.rules.facts as facts_module

    calls: list[str] = []

    def counted(name: str, function: Callable[[str], str]) -> Callable[[str], str]:
        def call(text: str) -> str:
            calls.append(name)
            return function(text)
        return call

    monkeypatch.setattr(facts_module, "guess_language", counted("language", facts_module.guess_language))
    rules = ruleset(tmp_path, MEMO_RULES)
    parsed = mail(body="Hello, we need help")
    seen = facts(parsed, TicketState())
    evaluate(rules, "ticket_created", seen, TicketState())
    assert calls == ["language"]
    # The reply text is cut once, when the mail is parsed (by a parse worker, during ingest).
    assert seen.value("reply_text", "") == parsed.reply_text == reply_text(parsed.text)


def test_a_header_is_present_exactly_when_it_has_values() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["X-Priority"] = "ann@example.org", "Hi", "1 (Highest)"
    msg.set_content("Hello")
    seen = facts(parse_mail(msg.as_bytes()), TicketState())
    for name in ("x-priority", "X-PRIORITY", "x-mailer"):
        assert seen.present("headers", name) == bool(seen.value("headers", name))
    assert seen.present("headers", "x-priority") and not seen.present("headers", "x-mailer")


def test_a_changed_rule_set_is_run_with_its_own_rules(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, RULES)
    parsed = mail("Site down", sender="bob@acme.com")
    assert len(evaluate(rules, "ticket_created", facts(parsed, TicketState()), TicketState()).fired) == 3
    fewer = replace(rules, rules=rules.rules[:1])  # as the timer job narrows the rules to one trigger
    decision = evaluate(fewer, "ticket_created", facts(parsed, TicketState()), TicketState())
    assert [f.rule.name for f in decision.fired] == ["first"]


def _reference_language(text: str, sample: int = 2000) -> str:
    """guess_language as first written, a loop over the letters: the fast one must agree with it."""
    letters = [c for c in text[:sample] if c.isalpha()]
    if len(letters) < 3:
        return ""
    counts = dict.fromkeys(("latin", "cyrillic", "ja", "zh", "ko", "el"), 0)
    ranges = {"latin": (0, 0x250), "cyrillic": (0x400, 0x530), "ja": (0x3040, 0x3100), "zh": (0x4E00, 0xA000),
              "ko": (0xAC00, 0xD7B0), "el": (0x370, 0x400)}
    for c in letters:
        counts.update((name, counts[name] + 1) for name, (low, high) in ranges.items() if low <= ord(c) < high)
    if counts["ja"]:
        counts["ja"] += counts["zh"]
    script, count = max(counts.items(), key=lambda item: item[1])
    if count * 2 < len(letters):
        return ""
    if script == "cyrillic":
        return "uk" if any(c in "іїєґІЇЄҐ" for c in letters) else "ru"
    if script != "latin":
        return script
    padded = f" {' '.join(text[:sample].lower().split())} "
    scores = {lang: sum(padded.count(m) for m in markers) for lang, markers in _LANGUAGE_MARKERS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] else ""


_LANGUAGE_MARKERS = {
    "de": (" der ", " die ", " und ", " nicht ", " ist ", "ß", " ich "),
    "fr": (" le ", " les ", " est ", " pas ", " vous ", " une ", "ç"),
    "es": (" el ", " los ", " por ", " usted ", " una ", "ñ", " está "),
    "en": (" the ", " and ", " is ", " not ", " you ", " please ", " we "),
}
_WORDS = [m.strip() for markers in _LANGUAGE_MARKERS.values() for m in markers] + [
    "Привет", "їжак", "сервер", "サーバー", "服务器", "서버", "δίκτυο", "Straße", "ǅ", "𝐀", "½", "²", "。", "«", "—"]
_ODD = "".join(map(chr, (*range(0x20, 0x80, 7), 0xAA, 0xB5, 0xBA, 0xD7, 0x24F, 0x250, 0x345, 0x3FF, 0x482, 0x52F,
                         0x530, 0x3005, 0x303C, 0x309B, 0x30FC, 0xD7A3, 0xD7B0, 0xD800, 0x1F44D)))
_TEXTS = st.lists(st.one_of(st.sampled_from(_WORDS), st.text(_ODD, max_size=3)), max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.sampled_from([2000, 7]))
def test_guess_language_agrees_with_a_loop_over_the_letters(text: str, sample: int) -> None:
    assert guess_language(text, sample) == _reference_language(text, sample)


def test_every_letter_is_counted_in_its_script() -> None:
    for code in range(0x80, 0x10000):
        letter = chr(code)
        if letter.isalpha():
            assert guess_language(letter * 20 + " the") == _reference_language(letter * 20 + " the"), hex(code)


_PATTERNS = [
    r"(?:since|seit|depuis|с)\s+(?:yesterday|gestern|hier|вчерашнего)", r"\b(?P<ip>(?:\d{1,3}\.){3}\d{1,3})\b",
    r"(?:invoice|сч[её]т|rechnung)\s*(?:no\.?|№|#)\s*(?P<n>\d{2,})", r"\b(?P<code>(?:E|ERR)-?\d{2,5})\b",
    r"https?://(?P<host>[\w.-]+)", r"(?:when|wann)\b[^?]{0,20}\?", r"^(?:re|aw|ответ)\s*:", r"straße\s\d",
    r"(?:a(b)c|kß)\s", r"(?<=x)ab|cd", r"(?-i:Ab)\s+", r"(?:σ|ς)+\d", r"istanbul|İZMİR", r"\d\s(?:k|ſ)",
    r"(?:since|с)\s+(?:yesterday|вчерашнего)",
]
# Pieces of text that match the patterns, nearly match them, or fold unlike the rest (ß, İ, ı, ſ, σ/ς).
_PIECES = ["since yesterday", "с вчерашнего", "с ", "с", "seit gestern", "invoice no 12", "счёт № 4711", "СЧЕТ #99",
           "err-123", "E42", "10.0.0.1", "http://a.b", "when is it?", "wann?", "re: x", "Ответ:", "straße 1",
           "STRASSE 2", "abc ", "kß ", "xab", "cd", "Ab  ", "aB ", "σς1", "ΣΣ2", "İstanbul", "ıstanbul", "istanbul",
           "İZMİR", "izmir", "1 ſ", "1 k", "ß", "ﬁ", "ẞ", "İ", "ı", " ", "\n", "x", "\u00a0", "٣"]
_REGEX_TEXT = st.lists(st.sampled_from(_PIECES), min_size=5, max_size=60).map(lambda parts: "".join(parts).ljust(80))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(_PATTERNS), _REGEX_TEXT)
def test_a_regex_searched_with_its_folding_finds_what_a_plain_search_finds(source: str, text: str) -> None:
    pattern = re.compile(source, re.IGNORECASE)
    expected, found = pattern.search(text), compile_search(pattern).find(text, text.casefold())
    assert (found and (found.span(), found.groups())) == (expected and (expected.span(), expected.groups()))


@pytest.mark.parametrize(("source", "text"), [
    ("İZMİR", "a flight to izmir"), ("istanbul|x", "ıstanbul"), ("istanbul|x", "İSTANBUL"),  # dotted and dotless i
    (r"(?:since|с)\s+вчерашнего", "straße " * 9 + "с вчерашнего"),  # ß folds to two letters: positions move
    (r"(?:since|с)\s+вчерашнего", "с с с с с с с с с с с вчерашнего"),  # many false starts
    (r"\bK\d", "x " * 40 + "K1 k2"),  # the Kelvin sign folds to k
])
def test_a_regex_is_found_where_folding_and_the_regex_engine_differ(source: str, text: str) -> None:
    pattern, padded = re.compile(source, re.IGNORECASE), text.rjust(100)
    found = compile_search(pattern).find(padded, padded.casefold())
    assert found is not None and found.span() == pattern.search(padded).span()  # type: ignore[union-attr]


def test_characters_the_regex_engine_takes_as_equal_ignoring_case_fold_alike() -> None:
    """What conditions.Search relies on. Ignoring case, the engine matches a character to a
    literal when their lowercase agree, or are listed as variants (σ and ς); all characters so
    matched, but the Turkish İ and ı, have the same case folding."""
    try:
        lower = importlib.import_module("_sre").unicode_tolower
        variants = importlib.import_module("re._casefix")._EXTRA_CASES
    except (ImportError, AttributeError):
        pytest.skip("this Python's regex engine is not the one checked here")
    same_lower: dict[int, set[int]] = defaultdict(set)  # characters with another lowercase, by it
    for code in range(0x110000):
        if (low := lower(code)) != code:
            same_lower[low].update((code, low))
    for low in same_lower.keys() | variants.keys():
        alike = same_lower.get(low, {low}).union(*(same_lower.get(v, {v}) for v in variants.get(low, ())))
        assert len({chr(c).casefold() for c in alike if chr(c) not in "\u0130\u0131"}) <= 1, hex(low)


def test_digits_and_spaces_fold_to_themselves() -> None:
    assert all(chr(c).casefold() == chr(c) for c in range(0x110000) if chr(c).isdecimal() or chr(c).isspace())
