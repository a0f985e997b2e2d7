"""One typed settings object, built once at start-up from a YAML file and the environment.

Precedence (highest first): command-line flags, environment (``MAILHELPDESK_*``), the
config file (``--config``, ``MAILHELPDESK_CONFIG``, ``./mailhelpdesk.yaml`` or
``/etc/mailhelpdesk/mailhelpdesk.yaml``), defaults. Nothing here runs at import.
"""

import os
import re
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from mailhelpdesk.errors import ConfigError

DEFAULT_DATA_DIR = Path("data")


SECURITY_MODES = ("none", "starttls", "tls")


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """Where outbound mail goes: an SMTP relay (smarthost). The password comes from env or a file."""

    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none, starttls (upgrade after EHLO), tls (implicit, usually port 465)
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """A mailbox that lives on an IMAP server: we fetch its new mail by UID and never depend on
    \\Seen (a person reading the mailbox must not hide mail from us). The password comes from env or a file."""

    host: str
    username: str
    password: str = field(default="", repr=False)
    port: int = 993
    security: str = "tls"  # tls (implicit, 993), starttls (upgrade, 143), none (loopback tests only)
    folder: str = "INBOX"
    move_to: str = ""  # a folder to move mail to once it is stored; '' leaves it where it is
    poll_seconds: int = 60  # between fetches in serve
    timeout: float = 30.0
    ca_file: str = ""  # a CA bundle to trust instead of the system's (a private CA, a self-signed server)
    auth: str = "password"  # password (LOGIN), or xoauth2 (an OAuth access token, Microsoft 365 and Gmail)
    # xoauth2: where the current access token comes from, one of the two. The token itself is never
    # kept here: it expires within about an hour, so it is read again at every connection.
    token_file: str = ""  # a file an external refresher keeps rewriting
    token_command: tuple[str, ...] = ()  # a program (and its arguments) that prints a current token


@dataclass(frozen=True, slots=True)
class FaqLink:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    name: str
    address: str
    team: str = ""
    line: int = 1
    display_name: str = ""  # the From name of mail we send from this mailbox
    language: str = ""  # customers' language when neither contact nor company has one
    faq: tuple[FaqLink, ...] = ()  # knowledge-base links shown in acknowledgements
    relay: RelaySettings | None = None  # None: the global relay
    imap: ImapSettings | None = None  # None: its mail arrives by SMTP (or files)


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    interval: int = 5  # seconds between runs of the sender in serve (it also wakes on new mail)
    max_attempts: int = 10  # temporary failures before a mail is given up as failed
    per_recipient_hourly: int = 10  # automatic mails to one address in an hour; more are suppressed
    per_ticket_hourly: int = 10  # automatic mails about one ticket in an hour
    breaker_limit: int = 300  # automatic mails in breaker_minutes that trip the breaker
    breaker_minutes: int = 10
    lease: int = 300  # seconds a claimed mail may take before another run sends it again (after a crash)
    max_age_hours: int = 24  # mail older than this (an imported archive) gets no automatic reply
    # Automatic mails to addresses of one domain in an hour (free-mail domains excepted): forged
    # senders of one domain are suppressed here, before they can trip the breaker for everyone.
    per_domain_hourly: int = 60


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    rules_file: Path | None = None
    mailboxes: tuple[MailboxSettings, ...] = (MailboxSettings("support", "support@localhost"),)
    default_mailbox: str = "support"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_max_recipients: int = 50  # recipients of one mail; more get 452 (the sender retries them later)
    smtp_max_connections: int = 200  # open SMTP/LMTP connections in all; more get 421
    smtp_max_connections_per_client: int = 50  # open connections from one IP address; more get 421
    lmtp_host: str = "127.0.0.1"
    lmtp_port: int = 0  # LMTP for an MTA on this host (Postfix, Dovecot); 0: no LMTP listener
    drain_seconds: int = 30  # on SIGTERM: how long mail being received and processed may take to finish
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: bytes = field(default=b"", repr=False)
    metrics_token: str = field(default="", repr=False)  # a scraper of /metrics must send it; '': none asked
    auto_create_companies: bool = True
    freemail_file: Path | None = None
    freemail_extra: tuple[str, ...] = ()
    subject_match_days: int = 30
    max_message_bytes: int = 64 * 1024 * 1024
    ticket_number_start: int = 1000
    loop_token: str = "mailhelpdesk"
    own_addresses: tuple[str, ...] = field(default=())
    # The authserv-id(s) our receiving server writes in Authentication-Results (RFC 8601),
    # lowercase: a sender it failed (DMARC, SPF) gets no automatic mail. Empty: not read.
    authserv_id: tuple[str, ...] = ()
    parse_workers: int | None = None  # None: one when the machine has two or more CPUs
    timer_interval: int = 30  # seconds between runs of the timer job (SLA clocks, timed rules)
    rules_reload_interval: int = 2  # seconds between looks at the rules file for changes; 0 = never
    public_url: str = ""  # how customers reach the panel (survey links); default http://web_host:web_port
    default_language: str = "en"
    templates_dir: Path | None = None  # the admin's templates; default: templates/ next to the rules file
    relay: RelaySettings = field(default_factory=RelaySettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)

    def parse_worker_count(self) -> int:
        """Worker processes that parse ahead during ``ingest``."""
        if self.parse_workers is not None:
            return self.parse_workers
        return 1 if (os.cpu_count() or 1) >= 2 else 0

    def mailbox(self, name: str) -> MailboxSettings:
        for box in self.mailboxes:
            if box.name == name:
                return box
        raise ConfigError(f"unknown mailbox {name!r} (configured: {', '.join(self.mailbox_names())})")

    def mailbox_names(self) -> list[str]:
        return [box.name for box in self.mailboxes]

    def relay_for(self, mailbox: str) -> RelaySettings:
        box = next((b for b in self.mailboxes if b.name == mailbox), None)
        return box.relay if box is not None and box.relay is not None else self.relay

    def admin_templates(self) -> Path | None:
        """The admin's template directory (holding ``email/<lang>/``), if any."""
        if self.templates_dir is not None:
            return self.templates_dir
        return self.rules_file.parent / "templates" if self.rules_file is not None else None

    def our_addresses(self) -> frozenset[str]:
        return frozenset([*(b.address.lower() for b in self.mailboxes), *(a.lower() for a in self.own_addresses)])


ENV_KEYS = {
    "MAILHELPDESK_DATABASE_URL": "database_url",
    "MAILHELPDESK_DATA_DIR": "data_dir",
    "MAILHELPDESK_RULES_FILE": "rules_file",
    "MAILHELPDESK_SMTP_PORT": "smtp_port",
    "MAILHELPDESK_LMTP_PORT": "lmtp_port",
    "MAILHELPDESK_WEB_PORT": "web_port",
}


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_path(config_file, env)
    if path is not None:
        values.update(_read_config_file(path))
    values.update({key: env[name] for name, key in ENV_KEYS.items() if env.get(name)})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = replace(_build(values, env), metrics_token=_metrics_token(values, env))
    return _with_defaults(settings, env)


# Where a config file is looked for when none is named: the working directory, then the system's.
CONFIG_LOCATIONS = (Path("mailhelpdesk.yaml"), Path("/etc/mailhelpdesk/mailhelpdesk.yaml"))


def config_path(named: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file: ``--config``, else ``MAILHELPDESK_CONFIG``, else the first of
    ``CONFIG_LOCATIONS`` that exists; None to run on defaults and the environment."""
    if named is not None:
        return named
    if env.get("MAILHELPDESK_CONFIG"):
        return Path(env["MAILHELPDESK_CONFIG"])
    return next((candidate for candidate in CONFIG_LOCATIONS if candidate.is_file()), None)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1:1: expected a mapping of settings")
    return data


_SCALARS: dict[str, type] = {
    "database_url": str, "default_mailbox": str, "smtp_host": str, "smtp_port": int,
    "web_host": str, "web_port": int, "auto_create_companies": bool, "subject_match_days": int,
    "max_message_bytes": int, "ticket_number_start": int, "loop_token": str, "parse_workers": int,
    "timer_interval": int, "rules_reload_interval": int, "public_url": str, "default_language": str,
    "smtp_max_recipients": int, "smtp_max_connections": int, "smtp_max_connections_per_client": int,
    "lmtp_host": str, "lmtp_port": int, "drain_seconds": int,
}
_PATHS = ("data_dir", "rules_file", "freemail_file", "templates_dir")
_NESTED = {"mailboxes", "freemail_extra", "own_addresses", "secret_key_file", "relay", "outbox",
           "metrics_token_file", "authserv_id"}


def _build(values: dict[str, Any], env: Mapping[str, str]) -> Settings:
    known = set(_SCALARS) | set(_PATHS) | _NESTED
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for key, kind in _SCALARS.items():
        if key in values:
            kwargs[key] = _coerce(key, values[key], kind)
    for key in _PATHS:
        if values.get(key):
            kwargs[key] = Path(str(values[key]))
    if "mailboxes" in values:
        kwargs["mailboxes"] = _mailboxes(values["mailboxes"], env)
    if "relay" in values:
        kwargs["relay"] = _relay("relay", values["relay"], env)
    if "outbox" in values:
        kwargs["outbox"] = _outbox(values["outbox"])
    for key in ("freemail_extra", "own_addresses"):
        if key in values:
            kwargs[key] = tuple(str(v).lower() for v in values[key] or ())
    if "authserv_id" in values:
        kwargs["authserv_id"] = _authserv_ids(values["authserv_id"])
    for key, lowest in (("parse_workers", 0), ("timer_interval", 1), ("rules_reload_interval", 0),
                        ("smtp_max_recipients", 1), ("smtp_max_connections", 1),
                        ("smtp_max_connections_per_client", 1), ("lmtp_port", 0), ("drain_seconds", 0)):
        if kwargs.get(key, lowest) < lowest:
            raise ConfigError(f"setting {key}: expected {lowest} or more, got {kwargs[key]}")
    settings = Settings(**kwargs)
    if values.get("secret_key_file"):
        settings = replace(settings, secret_key=_read_secret(Path(str(values["secret_key_file"]))))
    return settings


def _coerce(key: str, value: Any, kind: type) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {key}: expected {kind.__name__}, got {value!r}") from exc


_MAILBOX_KEYS = ("name", "address", "team", "line", "display_name", "language", "faq", "relay", "imap")


def _mailboxes(raw: Any, env: Mapping[str, str]) -> tuple[MailboxSettings, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("setting mailboxes: expected a non-empty list")
    boxes = [_mailbox(item, env) for item in raw]
    names = [b.name for b in boxes]
    if len(set(names)) != len(names):
        raise ConfigError("setting mailboxes: duplicate mailbox names")
    return tuple(boxes)


def _mailbox(item: Any, env: Mapping[str, str]) -> MailboxSettings:
    if not isinstance(item, dict) or "name" not in item or "address" not in item:
        raise ConfigError("setting mailboxes: each entry needs name and address")
    name = str(item["name"])
    _no_unknown(f"mailboxes[{name}]", item, _MAILBOX_KEYS)
    relay = _relay(f"mailboxes[{name}].relay", item["relay"], env) if item.get("relay") is not None else None
    imap = _imap(f"mailboxes[{name}].imap", item["imap"], env) if item.get("imap") is not None else None
    return MailboxSettings(name, str(item["address"]).lower(), str(item.get("team", "")),
                           _coerce(f"mailboxes[{name}].line", item.get("line", 1), int),
                           str(item.get("display_name", "")), str(item.get("language", "")).lower(),
                           _faq(name, item.get("faq") or []), relay, imap)


def _faq(mailbox: str, raw: Any) -> tuple[FaqLink, ...]:
    if not isinstance(raw, list) or not all(isinstance(i, dict) and "title" in i and "url" in i for i in raw):
        raise ConfigError(f"setting mailboxes[{mailbox}].faq: expected a list of {{title, url}}")
    return tuple(FaqLink(str(i["title"]), str(i["url"])) for i in raw)


_RELAY_KEYS = ("host", "port", "security", "username", "password_env", "password_file", "timeout")


def _relay(where: str, raw: Any, env: Mapping[str, str]) -> RelaySettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"setting {where}: expected a mapping of {', '.join(_RELAY_KEYS)}")
    _no_unknown(where, raw, _RELAY_KEYS)
    security = str(raw.get("security", "none")).lower()
    if security not in SECURITY_MODES:
        raise ConfigError(f"setting {where}.security: expected one of {', '.join(SECURITY_MODES)}, got {security!r}")
    return RelaySettings(str(raw.get("host", "127.0.0.1")), _coerce(f"{where}.port", raw.get("port", 25), int),
                         security, str(raw.get("username", "")), _relay_password(where, raw, env),
                         _coerce(f"{where}.timeout", raw.get("timeout", 30), float))


_IMAP_KEYS = ("host", "port", "security", "username", "password_env", "password_file", "folder", "move_to",
              "poll_seconds", "timeout", "ca_file", "auth", "token_file", "token_command")


def _imap(where: str, raw: Any, env: Mapping[str, str]) -> ImapSettings:
    if not isinstance(raw, dict) or not raw.get("host") or not raw.get("username"):
        raise ConfigError(f"setting {where}: expected a mapping with host and username ({', '.join(_IMAP_KEYS)})")
    _no_unknown(where, raw, _IMAP_KEYS)
    security = str(raw.get("security", "tls")).lower()
    if security not in SECURITY_MODES:
        raise ConfigError(f"setting {where}.security: expected one of {', '.join(SECURITY_MODES)}, got {security!r}")
    port = _coerce(f"{where}.port", raw.get("port", 993 if security == "tls" else 143), int)
    poll = _coerce(f"{where}.poll_seconds", raw.get("poll_seconds", 60), int)
    if raw.get("ca_file") and not Path(str(raw["ca_file"])).is_file():
        raise ConfigError(f"setting {where}.ca_file: no such file {raw['ca_file']}")
    if poll < 1:
        raise ConfigError(f"setting {where}.poll_seconds: expected 1 or more, got {poll}")
    auth, token_file, token_command = _imap_auth(where, raw)
    password = _relay_password(where, raw, env) if auth == "password" else ""
    return ImapSettings(str(raw["host"]), str(raw["username"]), password, port, security,
                        str(raw.get("folder", "INBOX")), str(raw.get("move_to", "")), poll,
                        _coerce(f"{where}.timeout", raw.get("timeout", 30), float), str(raw.get("ca_file", "")),
                        auth, token_file, token_command)


IMAP_AUTH_MODES = ("password", "xoauth2")
_PASSWORD_KEYS = ("password_env", "password_file")
_TOKEN_KEYS = ("token_file", "token_command")


def _imap_auth(where: str, raw: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """(auth, token_file, token_command). Each error names the key to fix, so that ``config check``
    points at its line."""
    auth = str(raw.get("auth", "password")).lower()
    if auth not in IMAP_AUTH_MODES:
        raise ConfigError(f"setting {where}.auth: expected one of {', '.join(IMAP_AUTH_MODES)}, got {auth!r}")
    given = [key for key in (*_PASSWORD_KEYS, *_TOKEN_KEYS) if raw.get(key) not in (None, "")]
    if auth == "password":
        if token := next((key for key in given if key in _TOKEN_KEYS), None):
            raise ConfigError(f"setting {where}.{token}: only for auth: xoauth2 (this mailbox logs in with a "
                              "password); add auth: xoauth2, or remove it")
        return auth, "", ()
    if password := next((key for key in given if key in _PASSWORD_KEYS), None):
        raise ConfigError(f"setting {where}.{password}: auth: xoauth2 logs in with an OAuth token, not a password: "
                          "password_env and password_file cannot be used with it (remove it, or use auth: password)")
    tokens = [key for key in given if key in _TOKEN_KEYS]
    if len(tokens) != 1:
        named = f"{where}.{tokens[1]}" if tokens else f"{where}.auth"
        raise ConfigError(f"setting {named}: auth: xoauth2 needs exactly one of token_file and token_command, "
                          f"got {' and '.join(tokens) or 'neither'}")
    if tokens == ["token_file"]:
        return auth, str(raw["token_file"]), ()
    return auth, "", _token_command(f"{where}.token_command", raw["token_command"])


def _token_command(where: str, raw: Any) -> tuple[str, ...]:
    """The command as its argv: it is run without a shell, so no quoting or expansion surprises."""
    if not isinstance(raw, str):
        raise ConfigError(f"setting {where}: expected a command line as one string, got {raw!r}")
    try:
        argv = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"setting {where}: cannot split {raw!r} into words: {exc}") from exc
    if not argv:
        raise ConfigError(f"setting {where}: expected a command, got an empty string")
    return argv


def _relay_password(where: str, raw: dict[str, Any], env: Mapping[str, str]) -> str:
    """The password never sits in the config file: it is named by an environment variable or a file."""
    if raw.get("password_env"):
        name = str(raw["password_env"])
        if name not in env:
            raise ConfigError(f"setting {where}.password_env: environment variable {name} is not set")
        return env[name]
    if raw.get("password_file"):
        path = Path(str(raw["password_file"]))
        try:
            return path.read_text("utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"setting {where}.password_file: cannot read {path}: {exc.strerror}") from exc
    return ""


_OUTBOX_LOWEST = {"interval": 1, "max_attempts": 1, "per_recipient_hourly": 1, "per_ticket_hourly": 1,
                  "per_domain_hourly": 1, "breaker_limit": 1, "breaker_minutes": 1, "lease": 1,
                  "max_age_hours": 1}


def _outbox(raw: Any) -> OutboxSettings:
    if not isinstance(raw, dict):
        raise ConfigError("setting outbox: expected a mapping")
    _no_unknown("outbox", raw, _OUTBOX_LOWEST)
    values = {key: _coerce(f"outbox.{key}", value, int) for key, value in raw.items()}
    for key, value in values.items():
        if value < _OUTBOX_LOWEST[key]:
            raise ConfigError(f"setting outbox.{key}: expected {_OUTBOX_LOWEST[key]} or more, got {value}")
    return OutboxSettings(**values)


def _authserv_ids(raw: Any) -> tuple[str, ...]:
    """One authserv-id or a list of them: each one token, as it appears in the header."""
    items = raw if isinstance(raw, list) else [raw] if raw not in (None, "") else []
    ids = tuple(str(item).strip().lower() for item in items)
    for value in ids:
        if not value or any(c.isspace() or c in ';()"=' for c in value):
            raise ConfigError(f"setting authserv_id: expected a host name such as mx.example.com, got {value!r}")
    return ids


def _no_unknown(where: str, raw: Mapping[str, Any], allowed: Any) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ConfigError(f"setting {where}: unknown key(s) {', '.join(map(str, unknown))}")


_DATABASE_SCHEMES = ("sqlite://", "postgres://", "postgresql://", "asyncpg://", "psycopg://")


def _check_database_url(url: str) -> None:
    if not url.startswith(_DATABASE_SCHEMES):
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise ConfigError(f"unsupported database URL scheme {scheme!r} (use sqlite:// or postgres://)")


def _with_defaults(settings: Settings, env: Mapping[str, str]) -> Settings:
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite://{settings.data_dir / 'mailhelpdesk.sqlite3'}")
    _check_database_url(settings.database_url)
    if settings.default_mailbox not in settings.mailbox_names():
        settings = replace(settings, default_mailbox=settings.mailboxes[0].name)
    if settings.rules_file is None and Path("rules.example.yaml").is_file():
        settings = replace(settings, rules_file=Path("rules.example.yaml"))
    if not settings.secret_key:
        settings = replace(settings, secret_key=_secret_from_env_or_file(settings.data_dir, env))
    if not settings.public_url:
        settings = replace(settings, public_url=f"http://{settings.web_host}:{settings.web_port}")
    return replace(settings, public_url=settings.public_url.rstrip("/"))


def _secret_from_env_or_file(data_dir: Path, env: Mapping[str, str]) -> bytes:
    if env.get("MAILHELPDESK_SECRET_KEY"):
        return env["MAILHELPDESK_SECRET_KEY"].encode()
    if env.get("MAILHELPDESK_SECRET_KEY_FILE"):
        return _read_secret(Path(env["MAILHELPDESK_SECRET_KEY_FILE"]))
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read secret key: {exc.strerror}") from exc
    if len(secret) < 32:
        raise ConfigError(f"{path}: secret key must be at least 32 bytes")
    return secret


# RFC 6750's token characters: what a scraper can put in an Authorization header as it is.
_METRICS_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*")


def _metrics_token(values: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """The token ``/metrics`` asks for: like every secret, from the environment or a file, never
    the config file itself; the environment first, as for every other setting."""
    if env.get("MAILHELPDESK_METRICS_TOKEN"):
        token, where = env["MAILHELPDESK_METRICS_TOKEN"].strip(), "environment variable MAILHELPDESK_METRICS_TOKEN"
    elif values.get("metrics_token_file"):
        path = Path(str(values["metrics_token_file"]))
        where = "setting metrics_token_file"
        try:
            token = path.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    else:
        return ""
    if not _METRICS_TOKEN.fullmatch(token):
        raise ConfigError(f"{where}: the metrics token must be at least 16 characters of A-Z a-z 0-9 - . _ ~ + / "
                          "(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
    return token
