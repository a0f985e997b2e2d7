"""Outbound settings: the SMTP relay (global and per mailbox), mailbox texts, public_url, outbox limits."""

from pathlib import Path

import pytest

from mailhelpdesk.config import FaqLink, OutboxSettings, RelaySettings, Settings, load_settings
from mailhelpdesk.errors import ConfigError

SECRET_KEY = "k" * 40
PASSWORD = "Relay-Pa55-word!"


def env(**extra: str) -> dict[str, str]:
    return {"MAILHELPDESK_SECRET_KEY": SECRET_KEY, **extra}


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    config = tmp_path / "mailhelpdesk.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n{text}", "utf-8")
    return load_settings(config, overrides, environ if environ is not None else env())


def refused(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text, environ)
    return str(raised.value)


# --- the relay -------------------------------------------------------------------------------


def test_without_a_relay_mail_goes_to_the_local_mta(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    assert settings.relay == RelaySettings("127.0.0.1", 25, "none", "", "", 30.0)
    assert settings.relay_for("support") == settings.relay


def test_a_relay_with_its_password_from_the_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, """\
relay:
  host: smtp.example.com
  port: 587
  security: starttls
  username: desk@example.com
  password_env: RELAY_PASSWORD
  timeout: 12.5
""", env(RELAY_PASSWORD=PASSWORD))
    assert settings.relay == RelaySettings("smtp.example.com", 587, "starttls", "desk@example.com", PASSWORD, 12.5)


def test_a_relay_password_from_a_file_loses_its_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "relay-password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    settings = load(tmp_path, f"relay: {{host: smtp.example.com, port: '465', security: TLS, "
                              f"password_file: {secret}}}\n")
    assert (settings.relay.port, settings.relay.security, settings.relay.password) == (465, "tls", PASSWORD)


@pytest.mark.parametrize("mode", ["none", "starttls", "tls"])
def test_every_security_mode_is_accepted(tmp_path: Path, mode: str) -> None:
    assert load(tmp_path, f"relay: {{security: {mode}}}\n").relay.security == mode


@pytest.mark.parametrize(("text", "message"), [
    ("relay: {host: smtp.example.com, pasword_env: X}\n", "setting relay: unknown key(s) pasword_env"),
    ("relay: {password: hunter2}\n", "setting relay: unknown key(s) password"),  # never in the file itself
    ("relay: {security: ssl}\n", "setting relay.security: expected one of none, starttls, tls, got 'ssl'"),
    ("relay: {security: starttls-please}\n",
     "setting relay.security: expected one of none, starttls, tls, got 'starttls-please'"),
    ("relay: {port: submission}\n", "setting relay.port: expected int, got 'submission'"),
    ("relay: {timeout: long}\n", "setting relay.timeout: expected float, got 'long'"),
    ("relay: {password_env: RELAY_PASSWORD}\n",
     "setting relay.password_env: environment variable RELAY_PASSWORD is not set"),
])
def test_bad_relay_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert refused(tmp_path, text) == message


def test_a_relay_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "relay: smtp.example.com\n")
    assert message.startswith("setting relay: expected a mapping of host, port, security")


def test_an_unreadable_password_file_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, f"relay: {{password_file: {tmp_path / 'missing'}}}\n")
    assert message.startswith(f"setting relay.password_file: cannot read {tmp_path / 'missing'}")


def test_a_mailbox_may_have_its_own_relay(tmp_path: Path) -> None:
    settings = load(tmp_path, """\
relay: {host: smtp.example.com, port: 587, security: starttls}
mailboxes:
  - name: support
    address: support@example.com
  - name: billing
    address: billing@example.com
    relay: {host: smtp.billing.example, port: 465, security: tls, username: billing, password_env: BILLING_PW}
  - name: it
    address: it@example.com
    relay:
""", env(BILLING_PW=PASSWORD))
    billing = RelaySettings("smtp.billing.example", 465, "tls", "billing", PASSWORD)
    assert settings.mailbox("billing").relay == billing
    assert settings.relay_for("billing") == billing
    assert settings.mailbox("support").relay is None and settings.mailbox("it").relay is None
    for other in ("support", "it", "no-such-mailbox"):
        assert settings.relay_for(other) == RelaySettings("smtp.example.com", 587, "starttls")


@pytest.mark.parametrize(("relay", "message"), [
    ("{security: ssl}", "setting mailboxes[billing].relay.security: expected one of none, starttls, tls, got 'ssl'"),
    ("{hots: x}", "setting mailboxes[billing].relay: unknown key(s) hots"),
    ("{password_env: NOPE}", "setting mailboxes[billing].relay.password_env: environment variable NOPE is not set"),
])
def test_bad_mailbox_relays_are_refused_naming_the_mailbox(tmp_path: Path, relay: str, message: str) -> None:
    text = f"mailboxes:\n  - {{name: billing, address: billing@example.com, relay: {relay}}}\n"
    assert refused(tmp_path, text) == message


def test_relay_passwords_never_show_in_the_settings_repr(tmp_path: Path) -> None:
    secret = tmp_path / "billing-password"
    secret.write_text("Billing-Secret-77\n", "utf-8")
    settings = load(tmp_path, f"""\
relay: {{host: smtp.example.com, username: desk, password_env: RELAY_PASSWORD}}
mailboxes:
  - name: billing
    address: billing@example.com
    relay: {{host: smtp.billing.example, password_file: {secret}}}
""", env(RELAY_PASSWORD=PASSWORD))
    assert settings.relay.password == PASSWORD  # the passwords are there ...
    assert settings.relay_for("billing").password == "Billing-Secret-77"
    for text in (repr(settings), str(settings), repr(settings.relay), repr(settings.mailboxes)):
        assert PASSWORD not in text and "Billing-Secret-77" not in text  # ... but not in what gets logged
    assert "smtp.billing.example" in repr(settings)  # the repr does show the rest


# --- mailboxes: how the desk signs and what it links -----------------------------------------


def test_mailbox_display_name_language_and_faq(tmp_path: Path) -> None:
    settings = load(tmp_path, """\
mailboxes:
  - name: support
    address: Support@Example.com
    display_name: Example Support
    language: RU
    faq:
      - {title: Printers, url: "https://kb.example.com/printers"}
      - {title: VPN, url: "https://kb.example.com/vpn"}
  - name: billing
    address: billing@example.com
""")
    support, billing = settings.mailboxes
    assert (support.address, support.display_name, support.language) == (
        "support@example.com", "Example Support", "ru")
    assert support.faq == (FaqLink("Printers", "https://kb.example.com/printers"),
                           FaqLink("VPN", "https://kb.example.com/vpn"))
    assert (billing.display_name, billing.language, billing.faq, billing.relay) == ("", "", (), None)


@pytest.mark.parametrize("faq", [
    "[{title: Printers}]",  # no url
    "[{url: 'https://kb.example.com'}]",  # no title
    "'https://kb.example.com'",  # not a list
    "[https://kb.example.com]",  # a list of plain links
])
def test_bad_faq_entries_are_refused(tmp_path: Path, faq: str) -> None:
    text = f"mailboxes:\n  - {{name: support, address: support@example.com, faq: {faq}}}\n"
    assert refused(tmp_path, text) == "setting mailboxes[support].faq: expected a list of {title, url}"


def test_an_unknown_mailbox_key_is_refused(tmp_path: Path) -> None:
    text = "mailboxes:\n  - {name: support, address: support@example.com, langauge: ru}\n"
    assert refused(tmp_path, text) == "setting mailboxes[support]: unknown key(s) langauge"


# --- public_url, languages, templates ---------------------------------------------------------


def test_public_url_defaults_to_the_web_server(tmp_path: Path) -> None:
    assert load(tmp_path, "").public_url == "http://127.0.0.1:8000"
    assert load(tmp_path, "web_host: desk.internal\nweb_port: 8080\n").public_url == "http://desk.internal:8080"
    from_env = load(tmp_path, "", env(MAILHELPDESK_WEB_PORT="9000"))
    assert from_env.public_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize(("given", "expected"), [
    ("https://help.example.com", "https://help.example.com"),
    ("https://help.example.com/", "https://help.example.com"),
    ("https://example.com/helpdesk/", "https://example.com/helpdesk"),
])
def test_public_url_loses_its_trailing_slash(tmp_path: Path, given: str, expected: str) -> None:
    assert load(tmp_path, f"public_url: '{given}'\n").public_url == expected
    assert load(tmp_path, "", public_url=given).public_url == expected  # a command-line flag too


def test_default_language_and_templates_dir(tmp_path: Path) -> None:
    settings = load(tmp_path, f"default_language: ru\ntemplates_dir: {tmp_path / 'mine'}\n"
                              f"rules_file: {tmp_path / 'rules' / 'rules.yaml'}\n")
    assert settings.default_language == "ru"
    assert settings.templates_dir == tmp_path / "mine"
    assert settings.admin_templates() == tmp_path / "mine"


def test_templates_default_to_the_directory_next_to_the_rules_file(tmp_path: Path) -> None:
    settings = load(tmp_path, f"rules_file: {tmp_path / 'rules' / 'rules.yaml'}\n")
    assert settings.default_language == "en"
    assert settings.templates_dir is None
    assert settings.admin_templates() == tmp_path / "rules" / "templates"


# --- the outbox ------------------------------------------------------------------------------


def test_outbox_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "").outbox == OutboxSettings()


def test_every_outbox_key(tmp_path: Path) -> None:
    settings = load(tmp_path, """\
outbox:
  interval: 2
  max_attempts: 4
  per_recipient_hourly: 3
  per_ticket_hourly: 6
  breaker_limit: 50
  breaker_minutes: 5
  lease: 120
  max_age_hours: 48
""")
    assert settings.outbox == OutboxSettings(2, 4, 3, 6, 50, 5, 120, 48)


def test_outbox_keys_left_out_keep_their_defaults(tmp_path: Path) -> None:
    outbox = load(tmp_path, "outbox: {breaker_limit: '20'}\n").outbox
    assert outbox.breaker_limit == 20
    assert outbox.max_attempts == OutboxSettings().max_attempts == 10


@pytest.mark.parametrize("key", ["interval", "max_attempts", "per_recipient_hourly", "per_ticket_hourly",
                                 "breaker_limit", "breaker_minutes", "lease", "max_age_hours"])
def test_outbox_values_below_one_are_refused(tmp_path: Path, key: str) -> None:
    assert refused(tmp_path, f"outbox: {{{key}: 0}}\n") == f"setting outbox.{key}: expected 1 or more, got 0"
    assert refused(tmp_path, f"outbox: {{{key}: -3}}\n") == f"setting outbox.{key}: expected 1 or more, got -3"
    assert getattr(load(tmp_path, f"outbox: {{{key}: 1}}\n").outbox, key) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("outbox: {retries: 3}\n", "setting outbox: unknown key(s) retries"),
    ("outbox: {lease: long}\n", "setting outbox.lease: expected int, got 'long'"),
    ("outbox: [interval]\n", "setting outbox: expected a mapping"),
])
def test_bad_outbox_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert refused(tmp_path, text) == message
