"""What our own receiving server says about a mail's sender: ``Authentication-Results`` (RFC 8601).

Anyone can write an ``Authentication-Results`` header into the mail they send, under any
authserv-id, ours included. Which ones we believe:

- only those whose authserv-id is one of ours (``authserv_id`` in the settings);
- of those, only the topmost block: from the first one of ours, read from the top, down to the
  next ``Received`` header. Servers add their headers at the top, so everything below the
  ``Received`` header that follows our server's verdict was already in the mail when it reached
  us (RFC 8601, "Header Field Position"). ``Received`` headers above our verdict are hops
  inside our own system (delivery to the mailbox, an IMAP provider's internal relays) and are
  passed over.
  Where the receiving server writes its ``Received`` header first and its verdict below it
  (Gmail does), the verdict is still the first of ours and its block ends at the sender's hop.

A header forged with our id can still end up in that block: next to our server's own when the
server neither removes such headers (as RFC 8601 section 5 asks) nor writes its verdict above
them, or alone when our server wrote none. It can make things worse only for the forger: a
DMARC failure anywhere in the block wins over any pass, so a forged pass cannot hide our
server's failure, and a forged failure only keeps automatic mail from the address the forger
wrote as the sender, which is what the check is for.

The verdict: a DMARC ``fail`` → fail. Without a DMARC pass or fail (no record: ``none``; a DNS
error), an SPF hard ``fail`` → fail: the domain says no server but its own sends its mail.
``softfail`` is the domain saying it is not sure, so it is no failure. Anything else → pass or
unknown. Pure: no I/O.
"""

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII but ':' and space
_METHOD = re.compile(r"^([a-z0-9][a-z0-9_-]*)\s*(?:/\s*\d+\s*)?=\s*([a-z0-9_-]+)(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r'([a-z0-9_-]+)\s*\.\s*([a-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s";]+)', re.IGNORECASE)
_SPF_FAIL = frozenset(("fail", "hardfail"))  # "hardfail": RFC 5451's older name for it
_DECIDED = frozenset(("pass", "fail"))  # DMARC results that settle it; none, temperror, permerror do not
_SHOWN = 120  # characters of a property value quoted in the reason


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` of a header, e.g. ``dmarc=fail header.from=example.org``."""

    method: str  # lowercase, version dropped: "dmarc", "spf", "dkim"
    result: str  # lowercase: "pass", "fail", "softfail" …
    properties: tuple[tuple[str, str], ...] = ()  # ("header.from", "example.org")

    def prop(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


@dataclass(frozen=True, slots=True)
class AuthResults:
    """One ``Authentication-Results`` header: who wrote it and what each method found."""

    authserv_id: str  # lowercase
    results: tuple[MethodResult, ...]


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    verdict: Literal["fail", "pass", "unknown"]
    reason: str = ""  # for a failure: "the sender failed DMARC at mx.example.com (header.from=example.org)"


UNKNOWN = AuthVerdict("unknown")


def sender_verdict(raw: bytes, authserv_ids: Collection[str]) -> AuthVerdict:
    """What our receiving server (``authserv_ids``, lowercase) says about the sender of ``raw``."""
    if not authserv_ids:
        return UNKNOWN
    return judge(trusted_results(header_fields(raw), authserv_ids))


def trusted_results(fields: Sequence[tuple[str, str]], authserv_ids: Collection[str]) -> list[AuthResults]:
    """Our headers of the topmost block (see the module's docstring): from the first of ours down
    to the next ``Received`` header."""
    trusted: list[AuthResults] = []
    for name, value in fields:
        if name == "received" and trusted:
            break
        if name == "authentication-results":
            parsed = parse_authentication_results(value)
            if parsed is not None and parsed.authserv_id in authserv_ids:
                trusted.append(parsed)
    return trusted


def judge(results: Sequence[AuthResults]) -> AuthVerdict:
    """The verdict over our trusted headers; a failure wins over any pass."""
    found = [(header.authserv_id, method) for header in results for method in header.results]
    dmarc = [(host, m) for host, m in found if m.method == "dmarc" and m.result in _DECIDED]
    if failed := next(((host, m) for host, m in dmarc if m.result == "fail"), None):
        return AuthVerdict("fail", _reason("DMARC", *failed, "header.from"))
    if dmarc:
        return AuthVerdict("pass")
    spf = [(host, m) for host, m in found if m.method == "spf"]
    if failed := next(((host, m) for host, m in spf if m.result in _SPF_FAIL), None):
        return AuthVerdict("fail", _reason("SPF", *failed, "smtp.mailfrom"))
    return AuthVerdict("pass") if any(m.result == "pass" for _, m in spf) else UNKNOWN


def _reason(what: str, host: str, method: MethodResult, shown: str) -> str:
    value = method.prop(shown)[:_SHOWN]
    return f"the sender failed {what} at {host}" + (f" ({shown}={value})" if value else "")


def parse_authentication_results(value: str) -> AuthResults | None:
    """One header's value (unfolded); None when it names no authserv-id."""
    parts = split_outside_quotes(strip_comments(value), ";")
    head = parts[0].split()
    if not head:
        return None
    results = tuple(r for r in (_method_result(part) for part in parts[1:]) if r is not None)
    return AuthResults(_unquote(head[0]).lower(), results)


def _method_result(text: str) -> MethodResult | None:
    """``method[/version]=result [reason=…] [ptype.property=value …]``; None for ``none`` or junk."""
    found = _METHOD.match(text.strip())
    if found is None:
        return None
    properties = tuple((f"{p.group(1)}.{p.group(2)}".lower(), _unquote(p.group(3)))
                       for p in _PROPERTY.finditer(found.group(3)))
    return MethodResult(found.group(1).lower(), found.group(2).lower(), properties)


def strip_comments(value: str) -> str:
    """``value`` with its (possibly nested) comments replaced by a space; quoted strings kept."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
        elif char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def split_outside_quotes(value: str, separator: str) -> list[str]:
    """``value`` split at ``separator`` where it is not inside a quoted string."""
    parts, start, quoted, escaped = [], 0, False, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(value[start:index])
            start = index + 1
    parts.append(value[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


_HEADER_SCAN = 256 * 1024


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of a raw message in order: (lowercase name, unfolded value)."""
    fields: list[tuple[str, str]] = []
    for line in _header_lines(raw):
        if line[:1] in (" ", "\t"):
            if fields:  # a folded line continues the field above
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon and _FIELD_NAME.match(name.rstrip()):
            fields.append((name.rstrip().lower(), value.strip()))
    return fields


def _header_lines(raw: bytes) -> Iterator[str]:
    """The lines of the header section: up to the first empty line (within the first 256 KiB:
    a mail without one must not be decoded whole for this)."""
    raw = raw[:_HEADER_SCAN]
    ends = [at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0]
    head = raw[:min(ends)] if ends else raw
    yield from re.split(r"\r?\n", head.decode("utf-8", "replace"))
