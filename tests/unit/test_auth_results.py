"""Reading our receiving server's ``Authentication-Results`` (RFC 8601): which headers are ours,
and whether they say the sender is forged."""

import pytest

from mailhelpdesk.mail.auth_results import (
    AuthVerdict,
    MethodResult,
    header_fields,
    parse_authentication_results,
    sender_verdict,
    split_outside_quotes,
    strip_comments,
)

OURS = frozenset({"mx.example.com"})
BODY = b"From: Ann <ann@acme.com>\r\nTo: support@example.com\r\nSubject: Help\r\n\r\nHello\r\n"
BORDER = "Received: from mail.acme.com (mail.acme.com [192.0.2.7]) by mx.example.com with ESMTPS id 4Xy"
SENDER_HOP = "Received: from laptop by mail.acme.com with ESMTPSA id 77"


def message(*headers: str, body: bytes = BODY) -> bytes:
    """``headers`` on top of a plain mail, in the order given (the topmost first)."""
    return "".join(f"{h}\r\n" for h in headers).encode() + body


def verdict(*headers: str) -> AuthVerdict:
    return sender_verdict(message(*headers), OURS)


# --- the verdict -----------------------------------------------------------------------------------


def test_dmarc_fail_with_its_policy_comment_is_a_failure_naming_our_server_and_the_domain() -> None:
    got = verdict("Authentication-Results: mx.example.com; dmarc=fail (p=reject dis=none) header.from=acme.com",
                  BORDER)

    assert got == AuthVerdict("fail", "the sender failed DMARC at mx.example.com (header.from=acme.com)")


def test_dmarc_pass_is_a_pass() -> None:
    assert verdict("Authentication-Results: mx.example.com; dmarc=pass header.from=acme.com").verdict == "pass"


def test_no_header_at_all_is_unknown() -> None:
    assert sender_verdict(BODY, OURS) == AuthVerdict("unknown")


def test_without_our_authserv_ids_configured_nothing_is_read() -> None:
    raw = message("Authentication-Results: mx.example.com; dmarc=fail header.from=acme.com")

    assert sender_verdict(raw, frozenset()).verdict == "unknown"


@pytest.mark.parametrize(("results", "expected"), [
    ("spf=fail smtp.mailfrom=ann@acme.com", "fail"),
    ("spf=hardfail smtp.mailfrom=ann@acme.com", "fail"),  # RFC 5451's older name
    ("spf=softfail smtp.mailfrom=ann@acme.com", "unknown"),  # "~all": the domain is not sure
    ("spf=neutral", "unknown"),
    ("spf=pass smtp.mailfrom=ann@acme.com", "pass"),
    ("dmarc=none header.from=acme.com; spf=fail smtp.mailfrom=ann@acme.com", "fail"),  # no DMARC record
    ("dmarc=temperror; spf=fail smtp.mailfrom=ann@acme.com", "fail"),
    ("dmarc=pass header.from=acme.com; spf=fail smtp.mailfrom=bounce@esp.example", "pass"),  # DKIM aligned
    ("dkim=fail header.d=acme.com", "unknown"),  # DKIM alone: forwarders break it every day
    ("none", "unknown"),
])
def test_spf_decides_only_without_a_dmarc_pass_or_fail_and_only_a_hard_fail(results: str, expected: str) -> None:
    assert verdict(f"Authentication-Results: mx.example.com; {results}").verdict == expected


def test_an_spf_failure_names_the_envelope_sender() -> None:
    got = verdict("Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=ann@acme.com")

    assert got.reason == "the sender failed SPF at mx.example.com (smtp.mailfrom=ann@acme.com)"


# --- which headers are ours ------------------------------------------------------------------------


def test_a_header_of_another_authserv_id_is_ignored() -> None:
    assert verdict("Authentication-Results: mx.acme.com; dmarc=fail header.from=acme.com").verdict == "unknown"
    assert verdict("Authentication-Results: mx.example.com.evil.test; dmarc=fail").verdict == "unknown"


def test_a_header_without_an_authserv_id_is_nobody_s() -> None:
    # Microsoft 365 writes its results so: they cannot be told from the sender's.
    got = verdict("Authentication-Results: spf=fail (sender IP is 192.0.2.7) smtp.mailfrom=acme.com;"
                  " dmarc=fail action=quarantine header.from=acme.com;compauth=fail reason=000")

    assert got.verdict == "unknown"


def test_results_of_several_headers_of_ours_are_read_together() -> None:
    # OpenDMARC and an SPF milter each write their own header: DMARC's pass settles it.
    got = verdict("Authentication-Results: mx.example.com; dmarc=pass header.from=acme.com",
                  "Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=bounce@esp.example",
                  "Authentication-Results: spamfilter.example.com; dmarc=fail", BORDER)

    assert got.verdict == "pass"


def test_any_of_several_authserv_ids_of_ours_counts() -> None:
    raw = message("Authentication-Results: mx2.example.com; dmarc=fail header.from=acme.com")

    assert sender_verdict(raw, frozenset({"mx1.example.com", "mx2.example.com"})).verdict == "fail"


def test_a_header_with_our_id_below_the_mail_s_arrival_was_written_by_the_sender() -> None:
    # Our server's pass is read; a failure written below its Received header changes nothing …
    got = verdict("Authentication-Results: mx.example.com; dmarc=pass header.from=acme.com", BORDER, SENDER_HOP,
                  "Authentication-Results: mx.example.com; dmarc=fail header.from=acme.com")
    assert got.verdict == "pass"
    # … and neither does a pass there: without it, our server's SPF failure stands.
    got = verdict("Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=ann@acme.com", BORDER,
                  "Authentication-Results: mx.example.com; dmarc=pass header.from=acme.com")
    assert got.verdict == "fail"


def test_received_headers_of_our_own_system_above_our_verdict_are_passed_over() -> None:
    # Gmail's layout: delivery and internal hops on top, the verdict just below the border's Received.
    got = verdict("Received: by 2002:a05:7208:1f0e:b0:8e:1234 with SMTP id m12csp12",
                  "Received: from mail.acme.com by mx.example.com with ESMTPS id 4Xy",
                  "Received-SPF: fail (mx.example.com: domain of acme.com does not designate 192.0.2.7)",
                  "Authentication-Results: mx.example.com; dkim=none; spf=fail smtp.mailfrom=acme.com;"
                  " dmarc=fail (p=REJECT sp=REJECT dis=REJECT) header.from=acme.com",
                  SENDER_HOP, "Authentication-Results: mx.example.com; dmarc=pass")

    assert got == AuthVerdict("fail", "the sender failed DMARC at mx.example.com (header.from=acme.com)")


def test_a_forged_pass_next_to_our_failure_cannot_hide_it() -> None:
    got = verdict("Authentication-Results: mx.example.com; dmarc=fail header.from=acme.com",
                  "Authentication-Results: mx.example.com; dmarc=pass header.from=acme.com", BORDER)

    assert got.verdict == "fail"


def test_headers_in_the_body_are_not_headers() -> None:
    raw = BODY + b"Authentication-Results: mx.example.com; dmarc=fail\r\n"

    assert sender_verdict(raw, OURS).verdict == "unknown"


# --- the syntax ------------------------------------------------------------------------------------


def test_a_folded_header_is_read_whole() -> None:
    got = verdict("Authentication-Results: mx.example.com;\r\n\tdkim=pass header.i=@acme.com;\r\n"
                  "       spf=pass smtp.mailfrom=acme.com;\r\n       dmarc=fail (p=QUARANTINE)\r\n"
                  "        header.from=acme.com", BORDER)

    assert got.reason == "the sender failed DMARC at mx.example.com (header.from=acme.com)"


def test_names_ids_methods_and_results_are_case_insensitive() -> None:
    got = verdict("AUTHENTICATION-RESULTS: MX.Example.COM; DMARC=FAIL Header.From=acme.com")

    assert got.verdict == "fail"


def test_a_version_after_the_authserv_id_and_after_a_method_is_allowed() -> None:
    parsed = parse_authentication_results("mx.example.com 1; dmarc/1=fail header.from=acme.com; spf = pass")

    assert parsed is not None and parsed.authserv_id == "mx.example.com"
    assert [(r.method, r.result) for r in parsed.results] == [("dmarc", "fail"), ("spf", "pass")]


def test_comments_anywhere_are_left_out_even_nested_or_holding_semicolons() -> None:
    parsed = parse_authentication_results(
        "(our MX) mx.example.com (v1; says); spf=pass (sender (a (nested) comment); is ok) "
        "smtp.mailfrom=acme.com; dmarc=fail (p=reject; dis=none) header.from=acme.com")

    assert parsed is not None and parsed.authserv_id == "mx.example.com"
    assert parsed.results == (MethodResult("spf", "pass", (("smtp.mailfrom", "acme.com"),)),
                              MethodResult("dmarc", "fail", (("header.from", "acme.com"),)))


def test_a_quoted_authserv_id_and_quoted_values_keep_their_semicolons() -> None:
    parsed = parse_authentication_results(
        '"mx.example.com"; spf=fail reason="no; really" smtp.mailfrom="a;b"@acme.com; dmarc=pass')

    assert parsed is not None and parsed.authserv_id == "mx.example.com"
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "fail"), ("dmarc", "pass")]


def test_an_empty_or_nonsense_value_is_no_header() -> None:
    assert parse_authentication_results("") is None
    assert parse_authentication_results("  (only a comment) ") is None
    junk = parse_authentication_results("mx.example.com; ===; spf")
    assert junk is not None and junk.results == ()


def test_strip_comments_and_split_respect_quoted_strings_and_escapes() -> None:
    assert strip_comments('a (b) "c (d)" e (f \\) g) h') == 'a   "c (d)" e   h'
    assert split_outside_quotes('a; "b; c"; d \\; e', ";") == ["a", ' "b; c"', " d \\", " e"]


def test_header_fields_unfold_and_keep_order_with_bare_newlines_too() -> None:
    raw = (b"From sender@acme.com Mon Jan  1 00:00:00 2029\nReceived: from a\n by b\n"
           b"Authentication-Results: mx.example.com;\n dmarc=fail\nSubject: x\n\nAuthentication-Results: no\n")

    assert header_fields(raw) == [("received", "from a by b"),
                                  ("authentication-results", "mx.example.com; dmarc=fail"), ("subject", "x")]
