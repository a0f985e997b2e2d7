"""Raw messages from .eml files, directories of them, mbox files and Maildirs.

Only framing is done here (splitting an mbox); the bytes of each message are passed on
untouched. Files are read one message at a time so memory stays flat on big archives.
"""

import mailbox
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RawMail:
    raw: bytes
    source: str
    # When the mail was delivered, as far as the archive tells: the mbox separator line's date,
    # else the file's time. A mail whose Date cannot be read is as old as this.
    received: datetime | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    source: str
    error: str


Item = RawMail | Unreadable


def iter_sources(paths: list[Path]) -> Iterator[Item]:
    """Every message under ``paths``, in a stable order."""
    for path in paths:
        if not path.exists():
            yield Unreadable(str(path), "no such file or directory")
        elif path.is_dir():
            yield from _iter_directory(path)
        else:
            yield from _iter_file(path)


def count_messages(paths: list[Path]) -> int:
    """A cheap upper bound for the progress bar (files count as one, mbox by From_ lines)."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(1 for _ in _files_under(path))
        elif path.is_file():
            total += _count_mbox(path) if _is_mbox(path) else 1
    return total


def _iter_directory(path: Path) -> Iterator[Item]:
    """All of it: a Maildir's new/ and cur/, and beside them its loose files and sub-folders
    (Maildir++ keeps folders such as .Sent there): mail left anywhere in it is still mail."""
    for file in _files_under(path):
        yield from _iter_file(file)


def _files_under(path: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(path):
        dirs.sort()
        maildir = _is_maildir(Path(root))
        if maildir:  # tmp/ holds deliveries not finished: never mail yet
            dirs[:] = [d for d in dirs if d not in ("cur", "new", "tmp")]
            yield from (Path(root) / "new" / f for f in sorted(os.listdir(Path(root) / "new")) if f[:1] != ".")
            yield from (Path(root) / "cur" / f for f in sorted(os.listdir(Path(root) / "cur")) if f[:1] != ".")
        for name in sorted(files):
            if not name.startswith(".") and not (maildir and name.startswith(_MAILDIR_METADATA)):
                yield Path(root) / name


# What mail servers keep beside a Maildir's messages: indexes, folder lists, flags. Not mail.
_MAILDIR_METADATA = ("dovecot", "maildirfolder", "subscriptions", "courierimap", "maildirsize", "maildirquota")


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _iter_file(path: Path) -> Iterator[Item]:
    """An mbox's messages or the file as one message; an empty one is named as unreadable."""
    for item in _iter_file_items(path):
        if isinstance(item, RawMail) and not item.raw.strip():
            yield Unreadable(item.source, f"empty: {'no bytes' if not item.raw else 'only blank lines'}")
        else:
            yield item


def _iter_file_items(path: Path) -> Iterator[Item]:
    """An mbox's messages, or the file as one message (opened once: most inputs are small files)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
            mail = None if head == b"From " else RawMail(
                head + handle.read(), str(path), datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC))
    except OSError as exc:
        yield Unreadable(str(path), exc.strerror or str(exc))
        return
    if mail is None:
        yield from _iter_mbox(path)
    else:
        yield mail


def _read(path: Path) -> Item:
    try:
        return RawMail(path.read_bytes(), str(path), datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except OSError as exc:
        return Unreadable(str(path), exc.strerror or str(exc))


def _is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError:
        return False


_ESCAPED_FROM = re.compile(rb"(?m)^>(>*From )")


def _unescape_from(raw: bytes) -> bytes:
    """Undo the mbox writer's ``>From `` quoting so the message is what was sent (mboxrd rule)."""
    return _ESCAPED_FROM.sub(rb"\1", raw)


def _count_mbox(path: Path) -> int:
    if _cr_only(path):
        return path.read_bytes().count(b"\rFrom ") + 1
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.startswith(b"From "))


def _iter_mbox(path: Path) -> Iterator[Item]:
    if _cr_only(path):
        yield from _iter_cr_mbox(path)
        return
    try:
        box = mailbox.mbox(str(path), create=False)
        keys = box.keys()
    except OSError as exc:
        yield Unreadable(str(path), exc.strerror or str(exc))
        return
    try:
        for index, key in enumerate(keys):
            yield RawMail(_unescape_from(box.get_bytes(key)), f"{path}#{index + 1}", _separator_date(box, key))
    finally:
        box.close()


# "From sender@example.com Sat Jan  3 01:05:34 1996" (asctime; some writers add a zone or drop seconds)
_SEPARATOR_DATE = re.compile(rb"([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s+(?:[A-Z]{3,5}\s+)?(\d{4})")


def _cr_only(path: Path) -> bool:
    """An mbox written with old Mac line ends (CR alone): the standard reader sees one long line."""
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    return b"\r" in head and b"\n" not in head


def _iter_cr_mbox(path: Path) -> Iterator[Item]:
    try:
        text = path.read_bytes().replace(b"\r", b"\n")
    except OSError as exc:
        yield Unreadable(str(path), exc.strerror or str(exc))
        return
    starts = [0, *(m.start() + 1 for m in re.finditer(rb"\nFrom ", text))]
    for index, (start, end) in enumerate(zip(starts, [*starts[1:], len(text)], strict=True)):
        separator, _, message = text[start:end].partition(b"\n")
        yield RawMail(_unescape_from(message), f"{path}#{index + 1}", _date_of_separator(separator))


def _separator_date(box: mailbox.mbox, key: str) -> datetime | None:
    """The date on a message's ``From `` separator line (taken as UTC), if one can be read."""
    with box.get_file(key, from_=True) as handle:
        line = handle.readline(1000)
    return _date_of_separator(line)


def _date_of_separator(line: bytes) -> datetime | None:
    match = _SEPARATOR_DATE.search(line[:1000])
    if match is None:
        return None
    month, day, clock, year = (part.decode("ascii") for part in match.groups())
    clock = clock if clock.count(":") == 2 else f"{clock}:00"
    try:
        return datetime.strptime(f"{month} {day} {clock} {year}", "%b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        return None
