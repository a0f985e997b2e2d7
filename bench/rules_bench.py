"""Rules engine benchmark: rule evaluations per second over a realistic rules file and corpus.

    .venv/bin/python bench/rules_bench.py [--messages 300] [--repeat 7] [--seed 1]
        [--rules-out FILE] [--profile FILE]

It writes a rules file of 100 rules such as a real desk has (gatekeeping, mailbox and company
routing, keywords and regular expressions on subject, body and the new part of replies,
headers, attachments, language, business hours, rules on ticket fields set by earlier rules,
any/not nesting; a few ``stop``), loads it with ``load_rules``, and parses the customer mail
of a synthetic corpus (bench/corpus.py: English, German, French, Russian and Japanese, plain
and HTML, attachments, replies with quoted history; automatic mail and re-deliveries are
left out, as the pipeline runs no rules on them).

Timed: for every message, ``MailFacts`` as the rules step builds it and ``evaluate`` of the
``ticket_created`` rules. Parsing, the company look-up and the mailbox are prepared before.
One rule evaluation is one rule's conditions tested against one message: a message that runs
through all 100 rules is 100 evaluations, one stopped at rule 3 is 3. After a warm-up pass,
the best of ``--repeat`` passes is reported. Target: >= 100,000 rule evaluations per second.
A benchmark, not a test: it asserts nothing, and its figures depend on the machine.
"""

import argparse
import cProfile
import gc
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from corpus import CorpusSpec, Generator, World

from mailhelpdesk.companies.domains import load_freemail
from mailhelpdesk.domain.ticket import TicketState
from mailhelpdesk.mail.parse import ParsedMail, parse_mail
from mailhelpdesk.pipeline.steps.auto_reply import auto_reply_reason
from mailhelpdesk.pipeline.steps.bounce import bounce_reason
from mailhelpdesk.rules.conditions import AllOf, AnyOf, Condition, Exists, FieldCondition, NotOf
from mailhelpdesk.rules.dry_run import company_of
from mailhelpdesk.rules.engine import Decision, evaluate
from mailhelpdesk.rules.facts import MailFacts, guess_language
from mailhelpdesk.rules.ruleset import RuleSet, load_rules

TARGET = 100_000  # rule evaluations per second
RULES = 100
EVENT = "ticket_created"
MAILBOXES = (("support", 1, "", 70), ("billing", 2, "billing", 20), ("it", 2, "network", 10))  # name, line, team, %
Rule = dict[str, Any]


# === the rules file ===========================================================================


@dataclass(frozen=True, slots=True)
class Desk:
    """Customers of the corpus's world as the rules file knows them."""

    companies: tuple[tuple[str, str, tuple[str, ...]], ...]  # name, tier, domains

    def names(self, tier: str) -> list[str]:
        return [name for name, t, _ in self.companies if t == tier]

    def domains(self, tier: str) -> list[str]:
        return [d for _, t, domains in self.companies if t == tier for d in domains]


def desk_of(world: World) -> Desk:
    """The first orgs (those that write most) are customers: 4 vip, 8 partner, 20 standard."""
    found = []
    for index, people in enumerate(world.orgs[:32]):
        domains = sorted({p.address.rpartition("@")[2] for p in people}, key=len)
        stem = domains[0].split(".")[0].replace("-", " ").title()
        tier = "vip" if index < 4 else "partner" if index < 12 else "standard"
        found.append((f"{stem} {('Ltd', 'GmbH', 'LLC', 'SA')[index % 4]}", tier, tuple(domains)))
    return Desk(tuple(found))


def rule(name: str, when: dict[str, Any] | None, then: dict[str, Any], on: object = EVENT) -> Rule:
    found: Rule = {"name": name, "on": on}
    if when is not None:
        found["when"] = when
    found["then"] = then
    return found


BOTH = [EVENT, "customer_replied"]


def gatekeeping() -> list[Rule]:
    return [
        rule("Spam words", {"subject": {"regex": r"\b(?:viagra|casino|crypto giveaway|lottery win)\b"}},
             {"spam": True, "stop": True}),
        rule("Marked as spam upstream", {"headers.x-spam-flag": {"equals": "yes"}}, {"spam": True, "stop": True}),
        rule("Phishing reports go to security",
             {"any": [{"subject": {"contains": ["phishing", "фишинг", "suspicious login"]}},
                      {"body": {"regex": r"(?:phishing|фишинг)\s+(?:mail|e-?mail|письмо)"}}]},
             {"team": "security", "urgency": "critical", "line": 2, "notify": "security", "stop": True}),
        rule("Mailing lists are low", {"headers.list-id": {"exists": True}}, {"urgency": "low", "tags": ["list"]}),
    ]


def mailboxes() -> list[Rule]:
    return [
        rule("Billing mailbox goes to billing", {"mailbox": "billing"}, {"team": "billing", "line": 2}),
        rule("IT mailbox goes to network", {"mailbox": "it"}, {"team": "network", "line": 2}),
        rule("Support mailbox starts at dispatch", {"mailbox": "support", "team": ""}, {"team": "dispatch"}),
    ]


def companies(desk: Desk) -> list[Rule]:
    vip, partner = desk.names("vip"), desk.names("partner")
    return [
        rule("VIP customers", {"company_tier": "vip"},
             {"urgency": "high", "line": 2, "sla": "VIP", "template": "acknowledgement"}),
        rule("Partners", {"company_tier": {"in": ["partner", "reseller"]}}, {"tags": ["partner"], "sla": "Partner"}),
        rule("Known customers", {"company_tier": "standard"}, {"tags": ["customer"]}),
        rule("Unknown senders", {"company_tier": ""}, {"tags": ["prospect"]}),
        rule(f"{vip[0]} has a named engineer", {"company": vip[0]}, {"assignee": "ivan@example.com"}),
        rule(f"{vip[1]} is handled by the experts", {"company": vip[1]}, {"team": "experts", "line": 3}),
        rule("Partner key accounts", {"company": {"in": partner[:3]}}, {"notify": "accounts"}),
    ]


def senders(desk: Desk) -> list[Rule]:
    return [
        rule("Key account domains", {"sender_domain": {"in": desk.domains("vip")[:5]}}, {"tags": ["key-account"]}),
        rule("Russian region", {"sender_domain": {"ends_with": [".ru", ".su", ".рф"]}}, {"tags": ["region-ru"]}),
        rule("DACH region", {"sender_domain": {"ends_with": [".de", ".at", ".ch"]}}, {"tags": ["region-dach"]}),
        rule("Free mail", {"sender_domain": {"in": ["gmail.com", "mail.ru", "yandex.ru", "gmx.de", "yahoo.co.jp",
                                                    "outlook.com", "web.de", "orange.fr"]}},
             {"tags": ["freemail"]}),
        rule("No-reply senders", {"sender": {"starts_with": ["noreply@", "no-reply@", "donotreply@"]}},
             {"urgency": "low", "tags": ["no-reply"]}),
        rule("Bare addresses", {"sender_name": {"exists": False}}, {"tags": ["no-name"]}),
    ]


def subject_topics() -> list[Rule]:
    topics: tuple[tuple[str, list[str], dict[str, Any]], ...] = (
        ("Invoices", ["invoice", "billing", "rechnung", "facture", "счёт", "счет", "請求書"], {"team": "billing"}),
        ("Refunds", ["refund", "rückerstattung", "remboursement", "возврат"], {"team": "billing"}),
        ("Access", ["log in", "login", "access", "zugang", "accéder", "войти", "кабинет", "ログイン"], {}),
        ("Deliveries", ["delivery", "lieferung", "livraison", "доставка", "配送"], {"team": "logistics"}),
        ("Orders", ["order", "bestellung", "commande", "заказ", "注文"], {}),
        ("Licences", ["license", "licence", "lizenz", "лицензи"], {"team": "accounts"}),
        ("Errors", ["error", "fehler", "erreur", "ошибка", "エラー", "不具合"], {"line": 2}),
        ("APIs", ["api", "schnittstelle", "integration", "интеграция"], {"team": "integrations"}),
        ("Mobile app", ["mobile app", "the app", "приложение", "アプリ"], {"team": "mobile"}),
        ("Single sign-on", ["sso", "single sign-on", "saml"], {"team": "security"}),
        ("Passwords", ["password", "passwort", "mot de passe", "пароль"], {"team": "security"}),
    )
    found = [rule(f"{name} by subject", {"subject": {"contains": words}},
                  {**then, "tags": [name.lower().replace(" ", "-")]}) for name, words, then in topics]
    found += [
        rule("Urgent in the subject", {"subject": {"contains": ["urgent", "dringend", "срочно", "至急", "asap"]},
                                       "not": {"urgency": "critical"}}, {"urgency": "high"}),
        rule("Feature requests are low", {"subject": {"starts_with": ["feature request", "suggestion", "идея"]}},
             {"urgency": "low", "tags": ["feature"]}),
    ]
    return found


def subject_patterns() -> list[Rule]:
    patterns = (
        ("Invoice number in the subject", r"(?:invoice|rechnung|facture|сч[её]т)\s*#?\s*(?P<invoice>\d{4,})",
         "invoice-number"),
        ("Order number in the subject", r"(?:order|bestellung|commande|заказ[ау]?)\s*#?\s*(?P<order>\d{4,})",
         "order-number"),
        ("Delivery number in the subject", r"(?:delivery|lieferung|livraison|доставка)\s*#?\s*(?P<delivery>\d{4,})",
         "delivery-number"),
        ("Replies by subject", r"^(?P<prefix>re|aw|ответ|re\[\d+\])\s*:", "follow-up"),
        ("Our ticket number", r"\[(?:ticket\s*)?#(?P<ticket>\d+)\]", "has-ticket-number"),
        ("Versions", r"\b(?P<version>v?\d+\.\d+(?:\.\d+)?)\b", "version"),
    )
    found = [rule(name, {"subject": {"regex": pattern}}, {"tags": [tag]}) for name, pattern, tag in patterns]
    found.append(rule("Forwarded mail: dispatch decides", {"subject": {"regex": r"^(?:fwd?|wg|tr)\s*:"}},
                      {"team": "dispatch", "line": 1, "tags": ["forwarded"], "stop": True}))
    return found


def body_rules() -> list[Rule]:
    words = (
        ("Production mentioned", ["in production", "production server", "на продакшене", "produktivsystem"],
         {"tags": ["prod"]}),
        ("Screenshots mentioned", ["see screenshot", "screenshot attached", "скриншот во вложении",
                                   "siehe bildschirmfoto", "voir capture"], {"tags": ["has-screenshot"]}),
        ("Timeouts", ["gateway timeout", "timed out", "returns timeout", "возвращает таймаут", "zeitüberschreitung"],
         {"tags": ["timeout"], "team": "network"}),
        ("Contracts", ["contract renewal", "terminate the contract", "продление договора", "vertragsverlängerung",
                       "renouvellement du contrat"], {"team": "accounts"}),
        ("Payments", ["payment failed", "payment reference", "оплата не прошла", "zahlung fehlgeschlagen",
                      "paiement refusé"], {"tags": ["payment"]}),
        ("Blocked users", ["users are blocked", "account is blocked", "пользователи заблокированы", "zugang gesperrt",
                           "compte bloqué"], {"urgency": "high"}),
        ("Cancellation", ["cancel our", "kündigen", "résilier", "расторгнуть"], {"tags": ["churn-risk"]}),
    )
    return [rule(name, {"body": {"contains": found}}, then) for name, found, then in words]


def body_patterns() -> list[Rule]:
    patterns = (
        ("Error codes", r"\b(?P<code>(?:E|ERR)-?\d{3,5})\b", {"tags": ["error-code"], "line": 2}),
        ("IP addresses", r"\b(?P<ip>(?:\d{1,3}\.){3}\d{1,3})\b", {"tags": ["has-ip"]}),
        ("Invoice numbers", r"(?:invoice|сч[её]т|rechnung|facture)\s*(?:no\.?|№|#|nr\.?)\s*(?P<invoice>\d{4,})",
         {"tags": ["invoice"], "team": "billing"}),
        ("Phone numbers", r"(?:tel\.?|phone|телефон)\s*:?\s*(?P<phone>\+\d[\d ()-]{6,})", {"tags": ["callback"]}),
        ("Links", r"https?://(?P<host>[\w.-]+)", {"tags": ["link"]}),
        ("Since yesterday", r"(?:since|seit|depuis|с)\s+(?:yesterday|gestern|hier|вчерашнего)",
         {"tags": ["since-yesterday"]}),
    )
    return [rule(name, {"body": {"regex": pattern}}, then) for name, pattern, then in patterns]


def reply_rules() -> list[Rule]:
    return [
        rule("Thanks", {"reply_text": {"contains": ["thank you", "thanks", "спасибо", "danke", "merci"]}},
             {"tags": ["thanks"]}, BOTH),
        rule("Still broken", {"reply_text": {"contains": ["still not working", "still broken", "happened again",
                                                           "снова не работает", "опять", "immer noch nicht"]}},
             {"urgency": "high", "tags": ["repeat"]}, BOTH),
        rule("Questions", {"reply_text": {"regex": r"(?:when|когда|wann|quand)\b[^?]{0,80}\?"}},
             {"tags": ["question"]}, BOTH),
        rule("Solved by the customer", {"reply_text": {"contains": ["resolved", "solved", "решено", "gelöst"]}},
             {"tags": ["solved-by-customer"]}, BOTH),
    ]


def header_rules() -> list[Rule]:
    return [
        rule("High priority flag", {"headers.x-priority": {"starts_with": ["1", "2"]}}, {"urgency": "high"}),
        rule("Importance high", {"headers.importance": "high"}, {"urgency": "high"}),
        rule("Outlook users", {"headers.x-mailer": {"contains": "outlook"}}, {"tags": ["outlook"]}),
        rule("Unsigned mail", {"headers.dkim-signature": {"exists": False}}, {"tags": ["unsigned"]}),
        rule("Follow-ups", {"headers.in-reply-to": {"exists": True}}, {"tags": ["follow-up"]}),
        rule("Newsletters", {"headers.list-unsubscribe": {"exists": True}}, {"urgency": "low"}),
    ]


def attachment_rules() -> list[Rule]:
    invoice_words = ["invoice", "счёт", "счет", "rechnung", "facture"]
    return [
        rule("Crash dumps go to the vendor", {"attachment_names": {"ends_with": [".dmp", ".crash"]}},
             {"line": 4, "team": "vendor", "note": "Crash dump attached: forward to the vendor"}),
        rule("Logs attached", {"attachment_names": {"ends_with": [".log", ".txt", ".zip"]}},
             {"tags": ["logs"], "line": 2}),
        rule("Screenshots attached", {"attachment_names": {"ends_with": [".png", ".jpg", ".jpeg"]}},
             {"tags": ["screenshot"]}),
        rule("Invoice PDFs", {"attachment_names": {"ends_with": ".pdf"}, "subject": {"contains": invoice_words}},
             {"team": "billing", "tags": ["invoice-pdf"]}),
        rule("Documents attached", {"attachment_types": {"contains": ["wordprocessingml", "msword", "pdf"]}},
             {"tags": ["documents"]}),
        rule("Copies of invoices", {"attachment_names": {"regex": r"(?:invoice|сч[её]т|rechnung|facture)_\d+"}},
             {"tags": ["invoice-copy"]}),
    ]


def language_rules() -> list[Rule]:
    return [
        rule("Russian", {"language": "ru"}, {"tags": ["lang-ru"]}),
        rule("German", {"language": "de"}, {"tags": ["lang-de"]}),
        rule("French", {"language": {"in": ["fr", "es"]}}, {"tags": ["lang-fr"]}),
        rule("East Asian", {"language": {"in": ["ja", "zh", "ko"]}}, {"tags": ["lang-asia"], "team": "asia"}),
        rule("Language unknown", {"language": ""}, {"tags": ["lang-unknown"]}),
    ]


def time_rules() -> list[Rule]:
    return [
        rule("After hours", {"business_hours": False}, {"tags": ["after-hours"]}),
        rule("Weekend", {"weekday": {"in": ["sat", "sun"]}}, {"tags": ["weekend"]}),
        rule("Night", {"time_of_day": {"regex": r"^(?:0[0-6]|2[2-3]):"}}, {"tags": ["night"]}),
        rule("VIP after hours pages dispatch", {"business_hours": False, "company_tier": "vip"},
             {"notify": "dispatch"}),
    ]


def nested_rules(desk: Desk) -> list[Rule]:
    prod_down = r"(?:production|prod|сервер)\s+(?:is\s+)?(?:down|недоступен|упал)"
    outage = ["outage", "is down", "not working", "funktioniert nicht", "ne répond plus", "не работает", "авария"]
    return [
        rule("Outage", {"any": [{"subject": {"contains": outage}}, {"body": {"regex": prod_down}}]},
             {"urgency": "critical", "tags": ["outage"], "notify": "network"}, BOTH),
        rule("Priority without VIP", {"not": {"company_tier": "vip"},
                                      "any": [{"subject": {"contains": ["urgent", "срочно", "dringend"]}},
                                              {"headers.x-priority": {"starts_with": "1"}}]},
             {"tags": ["priority-request"]}),
        rule("Needs translation", {"not": {"any": [{"language": "en"}, {"language": "ru"}, {"language": ""}]}},
             {"tags": ["translate"]}),
        rule("Billing documents", {"any": [
            {"all": [{"mailbox": "billing"}, {"attachment_names": {"ends_with": ".pdf"}}]},
            {"all": [{"subject": {"contains": ["invoice", "счёт", "rechnung"]}},
                     {"company_tier": {"in": ["vip", "partner"]}}]}]},
            {"tags": ["billing-docs"]}),
        rule("Public sector", {"any": [{"sender_domain": {"ends_with": [".gov", ".gov.uk", ".gouv.fr"]}},
                                       {"company_tier": "government"}]}, {"tags": ["public-sector"]}),
        rule("Access trouble, not an outage", {"all": [
            {"any": [{"subject": {"contains": ["log in", "войти", "anmelden"]}},
                     {"body": {"contains": ["password", "пароль", "passwort"]}}]},
            {"not": {"tags": "outage"}}]}, {"team": "security"}),
        rule("Key partner escalations", {"company": {"in": desk.names("partner")[:4]},
                                         "not": {"any": [{"urgency": "low"}, {"tags": "feature"}]}},
             {"line": 2}),
        rule("Russian mail outside support", {"not": {"mailbox": "support"},
                                              "any": [{"language": "ru"}, {"sender_domain": {"ends_with": ".ru"}}]},
             {"tags": ["ru-desk"]}),
    ]


def ticket_rules() -> list[Rule]:
    return [
        rule("VIP outage uses the VIP critical policy", {"urgency": "critical", "company_tier": "vip"},
             {"sla": "VIP critical", "notify": "experts"}),
        rule("Outages page network", {"tags": {"contains": "outage"}}, {"notify": "network", "line": 2}),
        rule("Urgent after hours", {"urgency": ["high", "critical"], "business_hours": False},
             {"notify": "dispatch"}),
        rule("Billing disputes", {"all": [{"tags": "invoice"}, {"tags": "refund"}]},
             {"tags": ["billing-dispute"], "notify": "billing"}),
        rule("VIP never low", {"urgency": "low", "company_tier": "vip"}, {"urgency": "normal"}),
        rule("Russian billing", {"team": "billing", "language": "ru"}, {"assignee": "maria@example.com"}),
        rule("Churn risk of good customers", {"tags": "churn-risk", "company_tier": ["vip", "partner"]},
             {"urgency": "high", "notify": "accounts"}),
        rule("Untriaged", {"not": {"tags": {"exists": True}}}, {"tags": ["untriaged"]}),
        rule("Experts are told", {"line": {"ge": 3}}, {"notify": "experts"}),
        rule("Production network trouble", {"team": "network", "tags": "prod"}, {"escalate": True}),
    ]


def closing_rules() -> list[Rule]:
    return [
        rule("Copies", {"cc": {"exists": True}}, {"tags": ["cc"]}),
        rule("Repeated writers", {"messages": {"ge": 3}}, {"urgency": "high"}),
        rule("Legal requests", {"subject": {"regex": r"\b(?:gdpr|dsgvo|subpoena|152-фз)\b"}},
             {"team": "legal", "line": 2, "stop": True}),
        rule("Standard policy for the rest", {"urgency": ["low", "normal"], "not": {"company_tier": "vip"}},
             {"sla": "Standard"}),
    ]


def all_rules(desk: Desk) -> list[Rule]:
    found = [*gatekeeping(), *mailboxes(), *companies(desk), *senders(desk), *subject_topics(),
             *subject_patterns(), *body_rules(), *body_patterns(), *reply_rules(), *header_rules(),
             *attachment_rules(), *language_rules(), *time_rules(), *nested_rules(desk), *ticket_rules(),
             *closing_rules()]
    if len(found) != RULES:
        raise AssertionError(f"the rules file should have {RULES} rules, not {len(found)}")
    return found


def settings(desk: Desk) -> dict[str, Any]:
    """Everything but the rules: what the rules' teams, SLA policies and company tiers refer to."""
    teams = {name: {"line": line, "members": [f"{name}@example.com"]} for name, line in (
        ("dispatch", 1), ("billing", 2), ("network", 2), ("security", 2), ("accounts", 2), ("logistics", 2),
        ("integrations", 2), ("mobile", 2), ("asia", 2), ("legal", 2), ("experts", 3), ("vendor", 4))}
    return {
        "calendars": {"office": {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["08:00-12:30", "13:30-18:00"]},
                                 "holidays": {"country": "DE", "yearly": ["12-24", "12-31"]}},
                      "around-the-clock": {"timezone": "UTC", "hours": "24x7"}},
        "teams": teams,
        "sla": {"calendar": "office", "policies": [
            {"name": "VIP critical", "tiers": ["vip"], "urgencies": ["critical"], "first_response": "30m",
             "resolution": "8h", "time": "calendar", "calendar": "around-the-clock"},
            {"name": "VIP", "tiers": ["vip"], "first_response": "2h", "resolution": "2d"},
            {"name": "Partner", "tiers": ["partner"], "first_response": "4h", "resolution": "3d"},
            {"name": "Urgent", "urgencies": ["critical", "high"], "first_response": "4h", "resolution": "3d"},
            {"name": "Standard", "first_response": "24h"}]},
        "companies": [{"name": name, "tier": tier, "domains": list(domains)} for name, tier, domains in desk.companies],
    }


class _Dumper(yaml.SafeDumper):
    """Short mappings and lists inline, as people write them; no anchors for repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _nested(value: object) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict | list) for v in value))


def _flow_mapping(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    inline = not any(_nested(v) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=inline)


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=not _nested(data))


_Dumper.add_representer(dict, _flow_mapping)
_Dumper.add_representer(list, _flow_list)


def rules_text(desk: Desk) -> str:
    document = {**settings(desk), "rules": all_rules(desk)}
    return ("# A synthetic support desk's policy for bench/rules_bench.py (generated).\n"
            + yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120))


def load(path: Path) -> RuleSet:
    result = load_rules(path)
    if result.problems or result.rules is None:
        raise SystemExit("the generated rules file has problems:\n" + "\n".join(str(p) for p in result.problems))
    return result.rules


# === the messages =============================================================================


@dataclass(frozen=True, slots=True)
class Case:
    """One customer mail as the rules step sees it; everything but MailFacts is prepared."""

    mail: ParsedMail
    mailbox: str
    company: str
    tier: str
    state: TicketState
    at: datetime


def customer_mail(generator: Generator, wanted: int) -> list[ParsedMail]:
    """The first ``wanted`` customer messages: no auto-replies, bounces or re-deliveries."""
    found: list[ParsedMail] = []
    seen: set[str] = set()
    for raw in generator:
        mail = parse_mail(raw)
        if mail.fingerprint in seen or auto_reply_reason(mail) or bounce_reason(mail) or mail.sender is None:
            continue
        seen.add(mail.fingerprint)
        found.append(mail)
        if len(found) == wanted:
            break
    return found


def cases(ruleset: RuleSet, mails: list[ParsedMail], seed: int, start: datetime) -> list[Case]:
    rng, freemail = random.Random(seed), load_freemail(None)
    boxes = [box for box in MAILBOXES for _ in range(box[3])]
    found = []
    for mail in mails:
        name, line, team, _ = rng.choice(boxes)
        company, tier = company_of(ruleset, mail.sender[1] if mail.sender else "", freemail)
        found.append(Case(mail, name, company, tier, TicketState(line=line, team=team), mail.date or start))
    return found


# === measuring ================================================================================


def decide(ruleset: RuleSet, case: Case) -> Decision:
    """What the rules step does per message, from building the facts on."""
    facts = MailFacts(case.mail, case.mailbox, case.company, case.tier, case.state, case.at,
                      ruleset.sla_calendar, created_at=case.at)
    return evaluate(ruleset, EVENT, facts, case.state)


def timed_pass(ruleset: RuleSet, batch: list[Case]) -> tuple[float, list[int]]:
    """Seconds for the whole batch, and nanoseconds per message."""
    gc.collect()  # garbage of the previous pass is not this one's cost
    per_message = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for case in batch:
        began = clock()
        decide(ruleset, case)
        per_message.append(clock() - began)
    return time.perf_counter() - started, per_message


def tested(ruleset: RuleSet, decision: Decision) -> int:
    """How many rules were evaluated: all of the event's rules, or those up to the one that stopped."""
    names = [r.name for r in ruleset.rules_for(EVENT)]
    return names.index(decision.stopped_by) + 1 if decision.stopped_by else len(names)


@dataclass(frozen=True, slots=True)
class Outcome:
    evaluations: int
    fired: Counter[str]
    near_misses: int
    stops: Counter[str]
    changes: int


def outcome(ruleset: RuleSet, batch: list[Case]) -> Outcome:
    decisions = [decide(ruleset, case) for case in batch]
    fired = Counter(f.rule.name for d in decisions for f in d.fired)
    return Outcome(sum(tested(ruleset, d) for d in decisions), fired, sum(len(d.near_misses) for d in decisions),
                   Counter(d.stopped_by for d in decisions if d.stopped_by),
                   sum(len(f.changes) for d in decisions for f in d.fired))


# === reporting ================================================================================


def condition_mix(ruleset: RuleSet) -> Counter[str]:
    mix: Counter[str] = Counter()
    for r in ruleset.rules:
        _count(r.when, mix)
    return mix


def _count(condition: Condition, mix: Counter[str]) -> None:
    if isinstance(condition, AllOf | AnyOf):
        if isinstance(condition, AnyOf):
            mix["any"] += 1
        for part in condition.parts:
            _count(part, mix)
    elif isinstance(condition, NotOf):
        mix["not"] += 1
        _count(condition.part, mix)
    elif isinstance(condition, FieldCondition):
        mix[f"{condition.field} {condition.match.name}"] += 1
    elif isinstance(condition, Exists):
        mix[f"{condition.field} exists"] += 1


def describe_corpus(batch: list[Case]) -> str:
    languages = Counter(guess_language(f"{c.mail.subject}\n{c.mail.text}") or "?" for c in batch)
    html = sum(1 for c in batch if c.mail.html)
    attached = sum(1 for c in batch if c.mail.attachments)
    replies = sum(1 for c in batch if c.mail.in_reply_to or c.mail.subject.lower().startswith(("re", "aw", "от")))
    sizes = sorted(len(c.mail.text) for c in batch)
    tiers = Counter(c.tier or "none" for c in batch)
    return (f"{len(batch)} customer messages: languages {_top(languages, 6)}; {html} with HTML, {attached} with "
            f"attachments, {replies} replies; text median {statistics.median(sizes):.0f} chars, max {sizes[-1]}; "
            f"company tiers {_top(tiers, 4)}; mailboxes {_top(Counter(c.mailbox for c in batch), 3)}")


def _top(counts: Counter[str], n: int) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.most_common(n))


def print_header(ruleset: RuleSet, path: Path, batch: list[Case], parse_seconds: float) -> None:
    print(f"mailhelpdesk rules benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"rules file {path}: {ruleset.summary()}; {len(ruleset.rules_for(EVENT))} rules on {EVENT}")
    mix = condition_mix(ruleset)
    print(f"  {sum(mix.values())} conditions: {_top(mix, 40)}")
    print(f"corpus: {describe_corpus(batch)}; parsed in {parse_seconds:.1f} s (not timed)")


def print_outcome(result: Outcome, batch: list[Case]) -> None:
    n = len(batch)
    print(f"per message: {result.evaluations / n:.1f} rules evaluated, {result.fired.total() / n:.1f} fired "
          f"({result.changes / n:.1f} changes), {result.near_misses / n:.1f} near misses; "
          f"stopped: {_top(result.stops, 5) or 'none'}")
    print(f"  most often fired: {_top(result.fired, 8)}")


def print_figures(result: Outcome, batch: list[Case], runs: list[tuple[float, list[int]]]) -> None:
    seconds, per_message = min(runs, key=lambda run: run[0])
    rate = result.evaluations / seconds
    ordered = sorted(per_message)
    print(f"passes (rule evaluations/s): {', '.join(f'{result.evaluations / s:,.0f}' for s, _ in runs)}")
    print(f"best pass: {seconds * 1000:.1f} ms for {len(batch)} messages, {result.evaluations} rule evaluations")
    print(f"  rule evaluations/s   {rate:12,.0f}   ({seconds / result.evaluations * 1e6:.2f} µs each)")
    print(f"  messages/s           {len(batch) / seconds:12,.1f}   (MailFacts and a whole evaluate each)")
    print(f"  µs per message       {seconds / len(batch) * 1e6:12,.1f}   (p50 {ordered[len(ordered) // 2] / 1000:.1f}, "
          f"p90 {ordered[len(ordered) * 9 // 10] / 1000:.1f}, max {ordered[-1] / 1000:.1f})")
    verdict = "meets the target" if rate >= TARGET else "BELOW the target"
    print(f"target >= {TARGET:,} rule evaluations/s: measured {rate:,.0f}, ratio {rate / TARGET:.2f}: {verdict}")


def profile(ruleset: RuleSet, batch: list[Case], target: Path) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for case in batch:
        decide(ruleset, case)
    profiler.disable()
    profiler.dump_stats(target)
    print(f"\nprofiled pass (slower, not a figure); stats in {target}")
    stats = pstats.Stats(str(target), stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)


# === command line =============================================================================


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=300, help="customer messages to evaluate (default 300)")
    p.add_argument("--repeat", type=int, default=7, help="timed passes over all messages; the best counts (7)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes first (default 1)")
    p.add_argument("--seed", type=int, default=1, help="corpus and mailbox seed (default 1)")
    p.add_argument("--rules-out", type=Path, help="write the generated rules file here (default: a temp file)")
    p.add_argument("--profile", type=Path, help="after the figures, a cProfile'd pass; stats written here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    spec = CorpusSpec(messages=args.messages * 2, seed=args.seed)  # room for the automatic mail left out
    generator = Generator(spec)
    with tempfile.TemporaryDirectory(prefix="mhd-rules-") as tmp:
        path = args.rules_out or Path(tmp) / "rules.yaml"
        path.write_text(rules_text(desk_of(generator.world)), "utf-8")
        ruleset = load(path)
    started = time.perf_counter()
    batch = cases(ruleset, customer_mail(generator, args.messages), args.seed, spec.start)
    print_header(ruleset, path, batch, time.perf_counter() - started)
    for _ in range(args.warmup):
        result = outcome(ruleset, batch)
    result = outcome(ruleset, batch)
    print_outcome(result, batch)
    print_figures(result, batch, [timed_pass(ruleset, batch) for _ in range(args.repeat)])
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.profile:
        profile(ruleset, batch, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
