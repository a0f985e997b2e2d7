"""The commands agents write at the top of an emailed reply: values, errors, block boundaries, mailer noise."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhelpdesk.tickets.mail_commands import (
    COMMAND_NAMES,
    MAX_COMMANDS,
    MAX_LINE,
    AgentReply,
    Command,
    CommandError,
    Value,
    Vocabulary,
    parse_agent_reply,
)

ANNA = "anna@example.com"
OLEG = "oleg@example.com"
CUSTOMER = "maria@customer.org"
VOCABULARY = Vocabulary(teams=frozenset({"dispatch", "network", "Field Service"}), agents=frozenset({ANNA, OLEG}))


def parse(text: str, sender: str = ANNA) -> AgentReply:
    return parse_agent_reply(text, sender, VOCABULARY)


def values(text: str) -> list[tuple[str, Value]]:
    reply = parse(text)
    assert reply.errors == ()
    return [(c.name, c.value) for c in reply.commands]


def reasons(text: str, sender: str = ANNA) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in parse(text, sender).errors]


# --- every command -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#note", ("note", None)),
        ("#status open", ("status", "open")),
        ("#status pending", ("status", "pending")),
        ("#status resolved", ("status", "resolved")),
        ("#status closed", ("status", "closed")),
        ("#urgency low", ("urgency", "low")),
        ("#urgency critical", ("urgency", "critical")),
        ("#line 1", ("line", 1)),
        ("#line 4", ("line", 4)),
        ("#team network", ("team", "network")),
        ("#team field service", ("team", "Field Service")),  # declared spelling, spaces allowed
        ("#assign me", ("assign", ANNA)),
        (f"#assign {OLEG}", ("assign", OLEG)),
        ("#assign Oleg@Example.COM", ("assign", OLEG)),
        (f"#assign <{OLEG}>", ("assign", OLEG)),
        (f"#assign mailto:{OLEG}", ("assign", OLEG)),
        ("#tag vpn", ("tag", ("+vpn",))),
        ("#tag +vpn -new", ("tag", ("+vpn", "-new"))),
        ("#tag VPN, Outage; -Spam", ("tag", ("+vpn", "+outage", "-spam"))),
        ("#tag +vpn vpn", ("tag", ("+vpn",))),
        ("#tag v1.2 team:net a_b x-y", ("tag", ("+v1.2", "+team:net", "+a_b", "+x-y"))),
        ("#tag +сбой -新しい हिन्दी", ("tag", ("+сбой", "-新しい", "+हिन्दी"))),
        ("#tag " + "x" * 50, ("tag", ("+" + "x" * 50,))),
        ("#cc boss@customer.org", ("cc", ("boss@customer.org",))),
        ("#cc A@x.com, b@y.org;c@z.io  d@w.net", ("cc", ("a@x.com", "b@y.org", "c@z.io", "d@w.net"))),
        ("#cc a@x.com A@X.COM", ("cc", ("a@x.com",))),
        ("#cc boss@customer.org<mailto:boss@customer.org>", ("cc", ("boss@customer.org",))),  # Outlook plain text
        ("#cc boss@customer.org <mailto:boss@customer.org>", ("cc", ("boss@customer.org",))),
        ("#merge 1042", ("merge", 1042)),
        ("#merge #1042", ("merge", 1042)),
        ("#merge [#1042]", ("merge", 1042)),
    ],
)
def test_each_command_and_its_typed_value(line: str, expected: tuple[str, Value]) -> None:
    reply = parse(f"{line}\nHello")
    assert reply.errors == ()
    assert reply.commands == (Command(expected[0], expected[1], 1, line),)
    assert reply.body == "Hello"


def test_a_full_block() -> None:
    text = "#status pending\n#assign me\n#tag +vpn -new\n#note\n\nHello Maria,\nthe tunnel is up."
    reply = parse(text)
    assert [(c.line, c.name, c.value) for c in reply.commands] == [
        (1, "status", "pending"), (2, "assign", ANNA), (3, "tag", ("+vpn", "-new")), (4, "note", None),
    ]
    assert reply.errors == ()
    assert reply.body == "Hello Maria,\nthe tunnel is up."


def test_note_with_other_commands_keeps_both() -> None:
    assert values("#note\n#status pending\n#urgency high\nInternal: vendor called") == [
        ("note", None), ("status", "pending"), ("urgency", "high"),
    ]


# --- every error -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("#stauts pending", "unknown command '#stauts'; did you mean #status? (known: #note, #status, #urgency,"
                            " #line, #team, #assign, #tag, #cc, #merge)"),
        ("#line2", "unknown command '#line2'; did you mean #line?"),
        ("#notes", "unknown command '#notes'; did you mean #note?"),
        ("#urgent", "unknown command '#urgent'; did you mean #urgency?"),
        ("#thanks for waiting", "unknown command '#thanks' (known: #note,"),
        ("#status", "#status needs one of: open, pending, resolved, closed"),
        ("#status pendng", "unknown status 'pendng' (open, pending, resolved, closed); did you mean 'pending'?"),
        ("#status new", "status 'new' cannot be set (open, pending, resolved, closed)"),
        ("#status open please", "#status takes one value, not 'open please'"),
        ("#status open #urgency high", "one command per line, not 'open #urgency high'"),
        ("#urgency urgent", "unknown urgency 'urgent' (low, normal, high, critical)"),
        ("#urgency new", "unknown urgency 'new' (low, normal, high, critical)"),
        ("#line 5", "support lines are numbered 1 to 4, not '5'"),
        ("#line 0", "support lines are numbered 1 to 4, not '0'"),
        ("#line two", "support lines are numbered 1 to 4, not 'two'"),
        ("#line", "#line needs a support line, 1 to 4"),
        ("#team nope", "unknown team 'nope' (teams: Field Service, dispatch, network)"),
        ("#team netwrk", "unknown team 'netwrk' (teams: Field Service, dispatch, network); did you mean 'network'?"),
        ("#team", "#team needs a team name (teams: Field Service, dispatch, network)"),
        ("#assign someone@x.com", "'someone@x.com' is not a declared agent"),
        ("#assign olge@example.com", "'olge@example.com' is not a declared agent; did you mean 'oleg@example.com'?"),
        ("#assign", "#assign needs an agent's address or 'me'"),
        ("#assign me oleg@example.com", "#assign takes one value, not 'me oleg@example.com'"),
        ("#tag", "#tag needs at least one tag, such as +vip or -spam"),
        ("#tag +", "invalid tag '+': letters, digits, - _ . : and at most 50 characters"),
        ("#tag a/b", "invalid tag 'a/b'"),
        ("#tag -.x", "invalid tag '-.x'"),
        ("#tag " + "x" * 51, "invalid tag 'xxxx"),
        ("#tag +vpn -vpn", "tag 'vpn' is both added and removed"),
        ("#cc", "#cc needs at least one address"),
        ("#cc boss", "not a valid address: 'boss'"),
        ("#cc a@x.com boss@localhost b@@x.com", "not a valid address: 'boss@localhost', 'b@@x.com'"),
        ("#cc a@x..com", "not a valid address: 'a@x..com'"),
        ("#cc müller@x.de", "not a valid address: 'müller@x.de'"),
        ("#merge 0", "#merge needs a ticket number (1 or more), not '0'"),
        ("#merge abc", "#merge needs a ticket number (1 or more), not 'abc'"),
        ("#merge -3", "#merge needs a ticket number (1 or more), not '-3'"),
        ("#merge", "#merge needs a ticket number"),
        ("#merge 1042 1043", "#merge takes one value, not '1042 1043'"),
        ("#note call the vendor", "#note takes no value: write the note below the commands"),
    ],
)
def test_each_error_names_the_line_and_why(line: str, reason: str) -> None:
    reply = parse(f"#urgency high\n{line}\nHello")
    assert [c.name for c in reply.commands] == ["urgency"]  # a rejected line yields no command
    assert len(reply.errors) == 1
    error = reply.errors[0]
    assert (error.line, error.source) == (2, line)
    assert error.reason.startswith(reason), error.reason
    assert reply.body == "Hello"


def test_assign_me_needs_the_sender_to_be_an_agent() -> None:
    assert reasons("#assign me\nHello", sender=CUSTOMER) == [(1, f"'me' is {CUSTOMER!r}, who is not a declared agent")]
    assert values("#assign me") == [("assign", ANNA)]
    assert parse("#assign ME", sender=" Oleg@Example.com ").commands[0].value == OLEG


def test_no_teams_declared() -> None:
    vocabulary = Vocabulary(teams=frozenset(), agents=frozenset({ANNA}))
    reply = parse_agent_reply("#team network", ANNA, vocabulary)
    assert reply.errors[0].reason == "unknown team 'network' (teams: none are declared)"


def test_a_vocabulary_may_narrow_statuses_and_urgencies() -> None:
    vocabulary = Vocabulary(teams=frozenset(), agents=frozenset(), statuses=("open", "closed"), urgencies=("high",))
    reply = parse_agent_reply("#status pending\n#urgency high", ANNA, vocabulary)
    assert [c.value for c in reply.commands] == ["high"]
    assert reply.errors[0].reason == "unknown status 'pending' (open, closed)"


# --- conflicts and duplicates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("#status open\n#status closed", "#status closed conflicts with #status open on line 1"),
        ("#urgency low\n#urgency high", "#urgency high conflicts with #urgency low on line 1"),
        ("#line 1\n#line 2", "#line 2 conflicts with #line 1 on line 1"),
        ("#team network\n#team dispatch", "#team dispatch conflicts with #team network on line 1"),
        (f"#assign me\n#assign {OLEG}", f"#assign {OLEG} conflicts with #assign {ANNA} on line 1"),
        ("#merge 7\n#merge 8", "#merge 8 conflicts with #merge 7 on line 1"),
        ("#tag +vpn\n#tag -vpn", "tag 'vpn' is both added and removed (line 1)"),
        ("#tag -vpn x\n#tag vpn", "tag 'vpn' is both added and removed (line 1)"),
    ],
)
def test_a_conflicting_command_is_an_error_on_the_second(text: str, reason: str) -> None:
    reply = parse(text)
    assert [(c.line, c.source) for c in reply.commands] == [(1, text.split("\n")[0])]
    assert reply.errors == (CommandError(2, text.split("\n")[1], reason),)


def test_duplicates_of_the_same_value_are_fine_and_kept_once() -> None:
    text = f"#status open\n#Status OPEN\n#assign me\n#assign {ANNA}\n#note\n#note\n#team network\n#team NETWORK\nx"
    assert values(text) == [("status", "open"), ("assign", ANNA), ("note", None), ("team", "network")]


def test_repeated_tags_and_cc_lines_all_count() -> None:
    assert values("#tag +vpn\n#tag vpn -spam\n#cc a@x.com\n#cc b@x.com") == [
        ("tag", ("+vpn",)), ("tag", ("+vpn", "-spam")), ("cc", ("a@x.com",)), ("cc", ("b@x.com",)),
    ]


def test_an_error_does_not_stop_the_lines_below() -> None:
    reply = parse("#stauts open\n#urgency high\n#line 9\n#team network\nHi")
    assert [c.name for c in reply.commands] == ["urgency", "team"]
    assert [e.line for e in reply.errors] == [1, 3]


# --- where the block ends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("#status open\nHello", "Hello"),
        ("#status open\n\n\nHello", "Hello"),
        ("\n\n#status open\nHello", "Hello"),
        (" \t\n\u00a0\n\u200b\n#status open\nHello", "Hello"),
        ("#status open\n#1042 is the same problem", "#1042 is the same problem"),
        ("#status open\n# Heading\nText", "# Heading\nText"),
        ("#status open\n#hashtag-ish\n#urgency high", "#hashtag-ish\n#urgency high"),
        ("#status open\nHello\n#urgency high", "Hello\n#urgency high"),
        ("#status open\n> #urgency high", "> #urgency high"),
        ("#status open", ""),
        ("#status open\n\n \n", ""),
        ("#status open\r\n\r\nHello\r\nBye\r\n", "Hello\r\nBye\r\n"),
        ("#status open\rHello", "Hello"),
        ("#status open\u2028Hello", "Hello"),
    ],
)
def test_the_block_and_the_body(text: str, body: str) -> None:
    reply = parse(text)
    assert [(c.name, c.line) for c in reply.commands] == [("status", text.count("\n", 0, text.index("#")) + 1)]
    assert reply.errors == ()
    assert reply.body == body


@pytest.mark.parametrize(
    "text",
    ["#1042 is the same problem\n#status open", "# Heading\n#status open", "#hashtag-ish\n#status open",
     "Hello\n#status open", "#\n#status open", "#C++ question\n#status open", "> #status open"],
)
def test_text_first_means_no_commands(text: str) -> None:
    assert parse(text) == AgentReply((), (), text)


def test_a_known_command_below_the_blank_line_that_ended_the_block_is_flagged_and_stays_text() -> None:
    # Mailers that put each line in its own paragraph turn one block into several.
    reply = parse("#status pending\n\n#assign me\n\nHello")
    assert [c.name for c in reply.commands] == ["status"]
    assert reply.errors == (CommandError(
        3, "#assign me", "'#assign' is not read: a blank line ended the commands, so it stays in the text"),)
    assert reply.body == "#assign me\n\nHello"


def test_other_hash_lines_below_the_blank_line_are_just_text() -> None:
    for body in ("#1042 is the same problem", "#thanks for waiting", "Hello\n#status closed"):
        reply = parse(f"#status pending\n\n{body}")
        assert (reply.errors, reply.body) == ((), body)


def test_signature_and_quoted_history_stay_in_the_body() -> None:
    body = (
        "Hello Maria,\n\nfixed.\n\n-- \nAnna, Support\n#support-team\n\n"
        "On Mon, 3 Jun 2024 at 10:00, Maria <maria@customer.org> wrote:\n> #status closed\n> #note\n> Help!"
    )
    reply = parse(f"#status resolved\n#tag +vpn\n\n{body}")
    assert [c.value for c in reply.commands] == ["resolved", ("+vpn",)]
    assert reply.body == body


def test_at_most_twenty_command_lines_are_read() -> None:
    lines = [f"#tag t{i}" for i in range(1, MAX_COMMANDS + 1)] + ["#status open", "#urgency high", "Hello"]
    reply = parse("\n".join(lines))
    assert len(reply.commands) == MAX_COMMANDS
    assert reply.errors == (CommandError(21, "#status open", "too many commands (at most 20 lines are read)"),)
    assert reply.body == "#urgency high\nHello"


def test_error_lines_count_towards_the_limit() -> None:
    lines = ["#stauts open"] * MAX_COMMANDS + ["#status open"]
    reply = parse("\n".join(lines))
    assert reply.commands == ()
    assert reply.errors[-1].reason.startswith("too many commands")


# --- case, whitespace and mailer noise ---------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "#Status Pending",
        "#STATUS PENDING",
        "#status pending   ",
        "   #status pending",
        "\t#status\tpending",
        "#status\u00a0pending\u00a0",
        "\u200b#status pending\u200b",
        "\ufeff#status pending",
        "\u200e#status pending\u200f",
        "#status  pending",
        "#status: pending",
        "#status:pending",
        "#Status : Pending",
        "#status pending.",
        "#status pending!",
        "#status pending,",
        "#status pending;",
        "#status pending .",
        "*#status pending*",
        "**#status pending**",
        "* #status pending *",
        "*#status pending*.",
        "＃status pending",  # a full-width number sign from an East Asian keyboard
        "#ｓｔａｔｕｓ ｐｅｎｄｉｎｇ",
    ],
)
def test_case_and_whitespace_tolerance(line: str) -> None:
    reply = parse(f"{line}\nHello")
    assert reply.errors == ()
    assert reply.commands == (Command("status", "pending", 1, line),)
    assert reply.body == "Hello"


@pytest.mark.parametrize("line", ["*#status pending", "#status pending*", "**#status pending*", "_#status pending_"])
def test_unbalanced_or_other_wrapping_is_not_unwrapped(line: str) -> None:
    reply = parse(f"{line}\nHello")
    assert reply.commands == ()


def test_trailing_punctuation_on_other_commands() -> None:
    assert values("#merge 1042.\n#cc a@x.com.\n#tag vpn.\n#line 2.\n#note.") == [
        ("merge", 1042), ("cc", ("a@x.com",)), ("tag", ("+vpn",)), ("line", 2), ("note", None),
    ]


def test_source_is_the_line_as_written_and_line_numbers_count_leading_blank_lines() -> None:
    reply = parse("\r\n\r\n  #Status: Pending. \r\n#stauts\r\nHello")
    assert reply.commands == (Command("status", "pending", 3, "  #Status: Pending. "),)
    assert [(e.line, e.source) for e in reply.errors] == [(4, "#stauts")]


# --- big texts ---------------------------------------------------------------------------------


def test_a_huge_body_is_returned_whole() -> None:
    body = "Hello\n" + "#line 9 is not a command here\n" * 200_000
    reply = parse("#status open\n" + body)
    assert [c.value for c in reply.commands] == ["open"]
    assert reply.errors == ()
    assert reply.body == body


def test_many_leading_blank_lines() -> None:
    reply = parse("\n \u00a0\n" * 100_000 + "#status open\nHello")
    assert reply.commands == (Command("status", "open", 200_001, "#status open"),)
    assert reply.body == "Hello"


def test_a_huge_first_line() -> None:
    text = "#status " + "x" * 5_000_000 + "\nHello"
    reply = parse(text)
    assert reply.commands == ()
    assert [(e.line, len(e.source), e.reason) for e in reply.errors] == [
        (1, MAX_LINE, f"command line too long (at most {MAX_LINE} characters)"),
    ]
    assert reply.body == "Hello"
    assert parse("y" * 5_000_000) == AgentReply((), (), "y" * 5_000_000)


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=300)
@given(first=st.characters(categories=["L", "N"]), rest=st.text())
def test_a_body_without_leading_hash_lines_is_unchanged(first: str, rest: str) -> None:
    text = first + rest
    assert parse(text) == AgentReply((), (), text)


@settings(max_examples=300)
@given(
    commands=st.lists(st.sampled_from(["#status open", "#note", "#tag x", "#stauts", "#line 7"]), max_size=5),
    body=st.text(),
)
def test_any_text_body_is_a_suffix_and_errors_point_at_real_lines(commands: list[str], body: str) -> None:
    text = "\n".join([*commands, body])
    reply = parse(text)
    assert text.endswith(reply.body)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    count = lines.count("\n") + 1
    items: tuple[Command | CommandError, ...] = (*reply.commands, *reply.errors)
    for item in items:
        assert 1 <= item.line <= count
        assert lines.split("\n")[item.line - 1] == item.source


@settings(max_examples=200)
@given(first=st.characters(categories=["L", "N", "P", "S"]), rest=st.text())
def test_the_body_below_a_blank_line_is_returned_unchanged(first: str, rest: str) -> None:
    body = first + rest
    assert parse(f"#status open\n#assign me\n\n{body}").body == body


def test_every_command_name_is_known() -> None:
    assert COMMAND_NAMES == ("note", "status", "urgency", "line", "team", "assign", "tag", "cc", "merge")
