"""Raw MIME assembly for the synthetic corpus: bytes as a mailer writes them (LF line ends).

The corpus is built by hand rather than with ``email.mime`` so that every charset and
transfer encoding combination (8bit KOI8-R, 7bit ISO-2022-JP, RFC 2231 file names...)
comes out exactly as chosen, and so that generating 50,000 messages stays quick.
"""

import base64
import quopri
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import encode_rfc2231, formataddr

CODECS = {
    "us-ascii": "ascii",
    "utf-8": "utf-8",
    "iso-8859-1": "latin-1",
    "koi8-r": "koi8_r",
    "windows-1251": "cp1251",
    "iso-2022-jp": "iso2022_jp",
}


@dataclass(frozen=True, slots=True)
class Part:
    """One MIME entity: its header lines and its (already transfer-encoded) body."""

    headers: tuple[str, ...]
    body: bytes

    def to_bytes(self) -> bytes:
        return "\n".join(self.headers).encode("ascii") + b"\n\n" + self.body


def header_value(value: str, charset: str, name: str) -> str:
    """An unstructured header value, RFC 2047-encoded when it is not ASCII."""
    if value.isascii():
        return value
    return Header(value, _header_charset(charset), header_name=name).encode(linesep="\n")


def address(display: str, addr: str, charset: str) -> str:
    """``Display Name <addr>`` with the name encoded as needed."""
    if not display:
        return addr
    return formataddr((display, addr), charset=_header_charset(charset))


def _header_charset(charset: str) -> str:
    return "utf-8" if charset == "us-ascii" else charset


def encode_text(text: str, charset: str, cte: str) -> bytes:
    data = text.encode(CODECS[charset])
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data if data.endswith(b"\n") else data + b"\n"


def text_part(subtype: str, text: str, charset: str, cte: str) -> Part:
    headers = (f'Content-Type: text/{subtype}; charset="{charset}"', f"Content-Transfer-Encoding: {cte}")
    return Part(headers, encode_text(text, charset, cte))


def file_part(ctype: str, data: bytes, filename: str, *, content_id: str = "", rfc2231: bool = True) -> Part:
    """A base64 attachment (or an inline image when ``content_id`` is set)."""
    disposition = "inline" if content_id else "attachment"
    if filename.isascii():
        name_param, file_param = f'name="{filename}"', f'filename="{filename}"'
    elif rfc2231:
        encoded = encode_rfc2231(filename, "utf-8")
        name_param, file_param = f"name*={encoded}", f"filename*={encoded}"
    else:  # what many mailers do instead, against the RFC
        encoded = Header(filename, "utf-8").encode()
        name_param, file_param = f'name="{encoded}"', f'filename="{encoded}"'
    headers = [f"Content-Type: {ctype};\n\t{name_param}", f"Content-Disposition: {disposition};\n\t{file_param}",
               "Content-Transfer-Encoding: base64"]
    if content_id:
        headers.append(f"Content-ID: <{content_id}>")
    return Part(tuple(headers), base64.encodebytes(data))


def raw_part(ctype: str, body: bytes, extra: Sequence[str] = ()) -> Part:
    """A part whose body is given as is (message/rfc822, message/delivery-status...)."""
    return Part((f"Content-Type: {ctype}", *extra), body if body.endswith(b"\n") else body + b"\n")


def multipart(subtype: str, parts: Sequence[Part], boundary: str, params: str = "") -> Part:
    chunks = [b"This is a multi-part message in MIME format.\n"]
    for part in parts:
        chunks.append(f"\n--{boundary}\n".encode("ascii"))
        chunks.append(part.to_bytes())
    chunks.append(f"\n--{boundary}--\n".encode("ascii"))
    return Part((f'Content-Type: multipart/{subtype};{params}\n\tboundary="{boundary}"',), b"".join(chunks))


def message(headers: Sequence[str], root: Part) -> bytes:
    """A complete message: envelope headers, MIME-Version, then the root part."""
    return Part((*headers, "MIME-Version: 1.0", *root.headers), root.body).to_bytes()
