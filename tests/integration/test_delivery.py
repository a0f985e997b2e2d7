"""Delivery to a real SMTP relay (aiosmtpd on 127.0.0.1): security modes, AUTH, and how failures are classified."""

import ssl

import pytest

from mailhelpdesk.config import RelaySettings
from mailhelpdesk.outbound.delivery import Delivery, deliver

from .smtp_sink import SelfSigned, Sink, password_authenticator, self_signed, silent_server, smtp_sink, unused_port

RAW = (b"From: Support <support@helpdesk.test>\r\nTo: ivan@acme.test\r\nSubject: Re: [#1042] printer\r\n"
       b"Message-ID: <out-1@helpdesk.test>\r\nContent-Type: text/plain; charset=utf-8\r\n"
       b"Content-Transfer-Encoding: 8bit\r\n\r\n.leading dot\r\n\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n")
SENDER = "support@helpdesk.test"
SECRET = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    return self_signed(tmp_path_factory.mktemp("tls"))


def relay(port: int, security: str = "none", timeout: float = 5.0, **kwargs: str) -> RelaySettings:
    return RelaySettings("127.0.0.1", port, security, timeout=timeout, **kwargs)


async def send(settings: RelaySettings, rcpts: list[str] | None = None,
               tls_context: ssl.SSLContext | None = None) -> Delivery:
    return await deliver(settings, SENDER, rcpts or ["ivan@acme.test"], RAW, tls_context=tls_context)


async def test_plain_delivery_hands_over_the_exact_bytes_and_envelope() -> None:
    sink = Sink()
    async with smtp_sink(sink) as port:
        result = await send(relay(port), ["ivan@acme.test", "olga@acme.test"])
    assert result == Delivery("sent", "250 2.0.0 OK queued as 42")
    [got] = sink.received
    assert got.content == RAW
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ["ivan@acme.test", "olga@acme.test"]
    assert not got.tls


async def test_security_none_does_not_upgrade_when_starttls_is_offered(cert: SelfSigned) -> None:
    sink = Sink()
    async with smtp_sink(sink, tls_context=cert.server_context()) as port:
        result = await send(relay(port, "none"))
    assert result.outcome == "sent"
    assert [r.tls for r in sink.received] == [False]


async def test_starttls_with_a_trusted_certificate(cert: SelfSigned) -> None:
    sink = Sink()
    async with smtp_sink(sink, tls_context=cert.server_context(), require_starttls=True) as port:
        result = await send(relay(port, "starttls"), tls_context=cert.client_context())
    assert result.outcome == "sent", result.detail
    assert [(r.tls, r.content) for r in sink.received] == [(True, RAW)]


async def test_starttls_with_an_untrusted_certificate_is_permanent(cert: SelfSigned) -> None:
    sink = Sink()
    async with smtp_sink(sink, tls_context=cert.server_context(), require_starttls=True) as port:
        result = await send(relay(port, "starttls"))  # system trust store: the self-signed cert fails
    assert result.outcome == "permanent"
    assert "certificate" in result.detail and "not trusted" in result.detail
    assert sink.received == []


async def test_starttls_required_but_not_offered_is_permanent_and_sends_nothing() -> None:
    sink = Sink()
    async with smtp_sink(sink) as port:
        result = await send(relay(port, "starttls"), tls_context=ssl.create_default_context())
    assert result == Delivery("permanent", "relay does not offer STARTTLS")
    assert sink.received == []


async def test_implicit_tls(cert: SelfSigned) -> None:
    sink = Sink()
    async with smtp_sink(sink, implicit_tls=cert.server_context()) as port:
        result = await send(relay(port, "tls"), tls_context=cert.client_context())
    assert result.outcome == "sent", result.detail
    assert [(r.tls, r.content) for r in sink.received] == [(True, RAW)]


async def test_implicit_tls_with_an_untrusted_certificate_is_permanent(cert: SelfSigned) -> None:
    sink = Sink()
    async with smtp_sink(sink, implicit_tls=cert.server_context()) as port:
        result = await send(relay(port, "tls"))
    assert result.outcome == "permanent"
    assert "not trusted" in result.detail
    assert sink.received == []


@pytest.mark.parametrize(("password", "outcome"), [(SECRET, "sent"), ("wrong-" + SECRET, "permanent")])
async def test_auth_over_starttls(cert: SelfSigned, password: str, outcome: str) -> None:
    sink = Sink()
    async with smtp_sink(sink, tls_context=cert.server_context(), require_starttls=True,
                         authenticator=password_authenticator("helpdesk", SECRET)) as port:
        result = await send(relay(port, "starttls", username="helpdesk", password=password),
                            tls_context=cert.client_context())
    assert result.outcome == outcome, result.detail
    assert SECRET not in result.detail
    if outcome == "sent":
        assert [r.authenticated for r in sink.received] == [True]
    else:
        assert result.detail.startswith("relay refused our login: 535")
        assert sink.received == []


async def test_auth_over_plain_text_when_the_relay_allows_it() -> None:
    sink = Sink()
    async with smtp_sink(sink, authenticator=password_authenticator("helpdesk", SECRET),
                         auth_require_tls=False) as port:
        good = await send(relay(port, username="helpdesk", password=SECRET))
        bad = await send(relay(port, username="helpdesk", password="nope-" + SECRET))
    assert good.outcome == "sent"
    assert bad.outcome == "permanent" and "login" in bad.detail and SECRET not in bad.detail
    assert [r.authenticated for r in sink.received] == [True]


@pytest.mark.parametrize(("where", "reply", "outcome"), [
    ("rcpt", "451 4.3.0 try later", "temporary"),
    ("data", "451 4.3.0 try later", "temporary"),
    ("rcpt", "550 5.1.1 no such user", "permanent"),
    ("data", "554 5.6.0 message rejected", "permanent"),
])
async def test_server_replies_are_classified_by_code(where: str, reply: str, outcome: str) -> None:
    sink = Sink(rcpt_replies={"ivan@acme.test": reply}) if where == "rcpt" else Sink(data_reply=reply)
    async with smtp_sink(sink) as port:
        result = await send(relay(port))
    assert result.outcome == outcome
    assert reply in result.detail
    assert result.refused == ()
    assert sink.received == []


async def test_some_recipients_refused_is_sent_with_the_refused_listed() -> None:
    sink = Sink(rcpt_replies={"ghost@acme.test": "550 5.1.1 no such user"})
    async with smtp_sink(sink) as port:
        result = await send(relay(port), ["ghost@acme.test", "ivan@acme.test"])
    assert result.outcome == "sent"
    assert result.refused == ("ghost@acme.test",)
    assert "ghost@acme.test (550 5.1.1 no such user)" in result.detail
    assert [r.rcpt_tos for r in sink.received] == [["ivan@acme.test"]]


async def test_nothing_listening_is_temporary() -> None:
    result = await send(relay(unused_port()))
    assert result.outcome == "temporary"
    assert "refused" in result.detail or "connect" in result.detail


async def test_a_server_that_never_answers_times_out_as_temporary() -> None:
    async with silent_server() as port:
        result = await send(relay(port, timeout=0.5))
    assert result.outcome == "temporary"
    assert "timed out" in result.detail.lower()

