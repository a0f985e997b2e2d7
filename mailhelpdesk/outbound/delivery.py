"""Hand one composed message to the SMTP relay and say, as a value, how it went.

The outbox sender has to decide between "done", "try again later" and "give up"; it
should not have to know aiosmtplib's exception tree to do so. ``deliver`` therefore
never raises for SMTP or network trouble: it returns a ``Delivery`` whose outcome is
``sent``, ``temporary`` (retrying may help: 4xx replies, refused or reset connections,
timeouts) or ``permanent`` (retrying will not help: 5xx replies, a rejected login, an
untrusted certificate, a relay without the STARTTLS we were told to require).

Anything we cannot classify is treated as temporary: a wrong "temporary" costs a few
retries bounded by the outbox's ``max_attempts``, a wrong "permanent" loses a mail.
The relay password is never logged and is scrubbed from every ``detail``.
"""

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from mailhelpdesk.config import RelaySettings

log = logging.getLogger(__name__)

Outcome = Literal["sent", "temporary", "permanent"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one hand-over to the relay."""

    outcome: Outcome
    detail: str  # the server's reply, or what went wrong, for people reading the outbox
    refused: tuple[str, ...] = ()  # recipients the server refused while accepting others


class _Refusal(Exception):
    """A failure we detected ourselves (not one aiosmtplib raised), carrying its outcome."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: Outcome = outcome
        self.detail = detail


async def deliver(
    relay: RelaySettings,
    envelope_from: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    tls_context: ssl.SSLContext | None = None,
) -> Delivery:
    """Send ``raw`` from ``envelope_from`` to ``recipients`` through ``relay``.

    ``tls_context`` replaces the default (system trust store, hostname checked); tests
    use it to trust a self-signed certificate.
    """
    log.debug("delivering %d bytes via %s:%d (%s) to %d recipient(s)",
              len(raw), relay.host, relay.port, relay.security, len(recipients))
    try:
        result = await _session(relay, envelope_from, recipients, raw, tls_context)
    except _Refusal as exc:
        result = Delivery(exc.outcome, exc.detail)
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
        result = _classify(exc)
    result = _scrubbed(result, relay.password)
    log.debug("delivery via %s:%d: %s (%s)", relay.host, relay.port, result.outcome, result.detail)
    return result


async def _session(
    relay: RelaySettings,
    envelope_from: str,
    recipients: Sequence[str],
    raw: bytes,
    tls_context: ssl.SSLContext | None,
) -> Delivery:
    client = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        use_tls=relay.security == "tls",
        start_tls=False,  # never upgrade implicitly; "starttls" is done (and enforced) by hand below
        timeout=relay.timeout,
        tls_context=tls_context,
    )
    await client.connect()
    try:
        if relay.security == "starttls":
            await _require_starttls(client)
        if relay.username:
            await _login(client, relay)
        errors, reply = await client.sendmail(envelope_from, list(recipients), raw)
        await _quit_quietly(client)
    finally:
        client.close()
    return _accepted(reply, errors)


async def _require_starttls(client: aiosmtplib.SMTP) -> None:
    """Upgrade to TLS, or fail permanently: falling back to plain text would leak mail and password."""
    await client.ehlo()
    if not client.supports_extension("starttls"):
        raise _Refusal("permanent", "relay does not offer STARTTLS")
    await client.starttls()


async def _login(client: aiosmtplib.SMTP, relay: RelaySettings) -> None:
    try:
        await client.login(relay.username, relay.password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        outcome: Outcome = "temporary" if 400 <= exc.code < 500 else "permanent"
        raise _Refusal(outcome, f"relay refused our login: {exc.code} {exc.message}") from exc


async def _quit_quietly(client: aiosmtplib.SMTP) -> None:
    """The mail is already accepted; a relay hanging up rudely afterwards changes nothing."""
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.debug("QUIT after delivery failed (ignored): %s", exc)


def _accepted(reply: str, errors: dict[str, aiosmtplib.SMTPResponse]) -> Delivery:
    detail = f"250 {reply}".strip()
    if not errors:
        return Delivery("sent", detail)
    refusals = "; ".join(f"{addr} ({resp.code} {resp.message})" for addr, resp in errors.items())
    return Delivery("sent", f"{detail}; refused: {refusals}", tuple(errors))


def _classify(exc: BaseException) -> Delivery:
    """Map an aiosmtplib / socket / ssl failure to an outcome; order matters (subclasses first)."""
    untrusted = _find(exc, ssl.SSLCertVerificationError)
    if untrusted is not None:  # a misconfiguration (or an attack): retrying will not help
        return Delivery("permanent", f"relay's TLS certificate is not trusted: {untrusted}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return _all_refused(exc)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Delivery(_by_code(exc.code), f"{exc.code} {exc.message}")
    if _find(exc, ConnectionRefusedError) is not None:
        return Delivery("temporary", f"connection refused: {exc}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return Delivery("temporary", f"timed out: {exc}")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError | OSError):
        return Delivery("temporary", f"connection failed: {exc}")
    if isinstance(exc, ValueError):
        return Delivery("permanent", f"cannot send: {exc}")  # e.g. an address aiosmtplib won't put on the wire
    # The rest are plain SMTPExceptions: missing AUTH or SMTPUTF8 support, i.e. configuration.
    return Delivery("permanent", str(exc))


def _all_refused(exc: aiosmtplib.SMTPRecipientsRefused) -> Delivery:
    """Every RCPT failed: permanent only if every refusal was permanent."""
    codes = [r.code for r in exc.recipients]
    outcome: Outcome = "permanent" if all(_by_code(c) == "permanent" for c in codes) else "temporary"
    detail = "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
    return Delivery(outcome, f"all recipients refused: {detail}")


def _by_code(code: int) -> Outcome:
    return "permanent" if 500 <= code < 600 else "temporary"


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of ``kind`` in its chain (aiosmtplib wraps socket and ssl errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _scrubbed(result: Delivery, password: str) -> Delivery:
    """Defence in depth: no server reply or exception text should echo it, but never let it through."""
    if not password or password not in result.detail:
        return result
    return Delivery(result.outcome, result.detail.replace(password, "***"), result.refused)
