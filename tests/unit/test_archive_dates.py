"""An archive says when its mail arrived: the mbox separator line, else the file's time.

A mail whose Date header cannot be read takes its age from there, so an imported archive of
undated mail is recognised as old and mails no one.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailhelpdesk.ingest.files import RawMail, iter_sources

MAIL = b"From: Bob <bob@initech.example>\nTo: support@example.com\nSubject: s\n\nHello.\n"


@pytest.mark.parametrize(("separator", "expected"), [
    (b"From bob@initech.example Sat Jan  3 01:05:34 1996", datetime(1996, 1, 3, 1, 5, 34, tzinfo=UTC)),
    (b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011", datetime(2011, 7, 8, 12, 8, 34, tzinfo=UTC)),
    (b"From bob@initech.example Mon Dec 14 09:30 2009", datetime(2009, 12, 14, 9, 30, tzinfo=UTC)),
    (b"From bob@initech.example Tue Mar 02 10:00:00 MSK 2004", datetime(2004, 3, 2, 10, 0, tzinfo=UTC)),
    (b"From bob@initech.example", None),
    (b"From bob@initech.example Feb 31 10:00:00 2004", None),
])
def test_the_separator_line_dates_an_mbox_message(tmp_path: Path, separator: bytes,
                                                  expected: datetime | None) -> None:
    box = tmp_path / "archive.mbox"
    box.write_bytes(separator + b"\n" + MAIL + b"\n")
    items = list(iter_sources([box]))
    assert len(items) == 1 and isinstance(items[0], RawMail)
    assert items[0].received == expected
    assert items[0].raw.startswith(b"From: Bob")


def test_each_message_of_an_mbox_has_its_own_date(tmp_path: Path) -> None:
    box = tmp_path / "archive.mbox"
    box.write_bytes(b"From a@x.example Sat Jan  3 01:05:34 1996\n" + MAIL + b"\n"
                    b"From b@x.example Sun Feb  4 02:05:34 1996\n" + MAIL + b"\n")
    dates = [item.received for item in iter_sources([box]) if isinstance(item, RawMail)]
    assert dates == [datetime(1996, 1, 3, 1, 5, 34, tzinfo=UTC), datetime(1996, 2, 4, 2, 5, 34, tzinfo=UTC)]


def test_a_single_file_is_as_old_as_its_modification_time(tmp_path: Path) -> None:
    path = tmp_path / "old.eml"
    path.write_bytes(MAIL)
    then = datetime(2015, 6, 1, 12, 0, tzinfo=UTC).timestamp()
    os.utime(path, (then, then))
    (item,) = iter_sources([path])
    assert isinstance(item, RawMail) and item.received == datetime(2015, 6, 1, 12, 0, tzinfo=UTC)
