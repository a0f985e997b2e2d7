"""Threading on a realistic support mailbox with ground truth (bench/thread_corpus.py).

The corpus mixes the hard cases (colleagues, clients that drop In-Reply-To/References, generic
subjects reused for new requests, forwards by someone else, one subject at several companies,
replies that arrive before their parent); the truth says which thread and company every message
belongs to. The gate: no ticket ever mixes two companies' mail, and >= 99.5 % of the threads
come out intact (all their messages in one ticket holding nothing else). bench/threading_bench.py
prints the same figures per class on a bigger corpus, with examples of what went wrong.
"""

import sys
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from mailhelpdesk.app import Runtime
from mailhelpdesk.config import Settings

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # bench/ is scripts, not a package
from thread_corpus import (
    CLASSES,
    COLLEAGUE,
    COLLEAGUE_BARE,
    DROPPED,
    FORWARD_ATTACHED,
    FORWARD_INLINE,
    GENERIC_NEW,
    GENERIC_REPLY,
    MAILBOX,
    OUT_OF_ORDER,
    SHARED_SUBJECT,
    SUPPORT_ADDRESS,
    Corpus,
    Message,
    Score,
    generate,
    normalize,
    score,
)
from threading_bench import describe_miss, ingest_corpus, placements

THREADS, SEED = 200, 7
TARGET_INTACT = 0.995
MIN_PER_CLASS = 4  # every hard case is in the corpus, or a broken generator would pass the gate


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> Settings:
    # Parsing in this process: the machine running the suite has few cores to spare.
    return make_settings(database_url, tmp_path, mailboxes=[{"name": MAILBOX, "address": SUPPORT_ADDRESS}],
                         parse_workers=0)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return generate(THREADS, SEED)


def _parsed(message: Message) -> EmailMessage:
    parsed = message_from_bytes(message.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _report(result: Score, limit: int = 12) -> str:
    lines = [result.summary()] + [describe_miss(miss) for miss in result.misses[:limit]]
    return "\n".join(lines)


# --- the generator's truth is sane: a broken generator cannot pass the gate ------------------------


def test_every_hard_case_is_in_the_corpus(corpus: Corpus) -> None:
    counts = corpus.class_counts()
    assert all(counts[kind] >= MIN_PER_CLASS for kind in CLASSES), counts
    assert len(corpus.threads) == THREADS
    assert sum(1 for t in corpus.threads.values() if t.freemail) >= THREADS // 5
    replies = [m for m in corpus.messages if m.message_id != corpus.threads[m.thread].message_ids[0]]
    bare = [m for m in replies if not m.refs]
    assert 0.1 <= len(bare) / len(replies) <= 0.35  # clients that drop the headers, and colleagues
    assert 0.03 <= counts[OUT_OF_ORDER] / len(corpus.messages) <= 0.07


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    first, again, other = generate(30, 5), generate(30, 5), generate(30, 6)
    assert [m.raw for m in first.messages] == [m.raw for m in again.messages]
    assert [m.raw for m in first.messages] != [m.raw for m in other.messages]


def test_messages_say_what_the_truth_says(corpus: Corpus) -> None:
    ids = [m.message_id for m in corpus.messages]
    assert len(set(ids)) == len(ids)
    assert [m.position for m in corpus.messages] == list(range(len(ids)))
    assert sorted(ids) == sorted(i for t in corpus.threads.values() for i in t.message_ids)
    for message in corpus.messages:
        parsed = _parsed(message)
        assert str(parsed["Message-ID"]).strip("<>") == message.message_id
        assert SUPPORT_ADDRESS in str(parsed["To"])
        assert parsedate_to_datetime(str(parsed["Date"])) == message.date
        refers = [str(parsed.get(h, "")) for h in ("In-Reply-To", "References")]
        assert bool(any(refers)) == (bool(message.refs) and FORWARD_ATTACHED not in message.kinds)


def test_dates_follow_each_thread_and_late_messages_follow_their_reply(corpus: Corpus) -> None:
    by_id = corpus.by_id()
    arrivals = [m.arrived for m in corpus.messages]
    assert arrivals == sorted(arrivals)
    for thread in corpus.threads.values():
        dates = [by_id[i].date for i in thread.message_ids]
        assert dates == sorted(dates) and len(set(dates)) == len(dates)
    for message in corpus.messages:
        if OUT_OF_ORDER in message.kinds:
            earlier = corpus.messages[:message.position]
            assert any(m.thread == message.thread and message.message_id in m.refs for m in earlier)


def test_each_class_is_what_it_says(corpus: Corpus) -> None:
    threads = corpus.threads
    for m in corpus.messages:
        thread = threads[m.thread]
        if COLLEAGUE in m.kinds or COLLEAGUE_BARE in m.kinds:
            assert m.sender != thread.requester and not thread.freemail
            assert m.sender.endswith(thread.company)  # same company (a subdomain of it at most)
        if {DROPPED, COLLEAGUE_BARE, GENERIC_REPLY} & set(m.kinds):
            assert not m.refs and normalize(m.subject) == normalize(thread.subject) and m.subject != thread.subject
        if GENERIC_NEW in m.kinds:
            assert any(t.requester == thread.requester and normalize(t.subject) == normalize(thread.subject)
                       and t.key != thread.key for t in threads.values())
        if FORWARD_INLINE in m.kinds or FORWARD_ATTACHED in m.kinds:
            source = threads[m.forward_of or ""]  # a forward is a thread of its own, linked to its source
            assert thread.forward_of == source.key and thread.message_ids[0] == m.message_id
            assert m.sender != source.requester and m.refs and m.refs[-1] in source.message_ids
        if FORWARD_ATTACHED in m.kinds:
            assert any(p.get_content_type() == "message/rfc822" for p in _parsed(m).walk())
        if SHARED_SUBJECT in m.kinds:
            assert any(t.company != thread.company and normalize(t.subject) == normalize(thread.subject)
                       for t in threads.values())


# --- the gate: the real product on both engines ----------------------------------------------------


async def test_a_realistic_mailbox_is_threaded_right(rt: Runtime, corpus: Corpus, tmp_path: Path) -> None:
    await ingest_corpus(rt, corpus, tmp_path / "corpus")
    result = score(corpus, await placements(corpus))
    stored, cross_company, intact = result.stored, result.cross_company, result.intact_ratio

    assert stored == len(corpus.messages), _report(result)
    assert cross_company == 0, _report(result)
    assert intact >= TARGET_INTACT, _report(result)
