"""HTML to text (for HTML-only mail and reply extraction) and HTML sanitizing (for the panel)."""

import pytest

from mailhelpdesk.mail.html_text import html_to_text, sanitize_html


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<div>  lots   of\t space&nbsp;here </div>", "lots of space here"),
        ("<script>var x = '<p>no</p>';</script><style>p {}</style><p>yes</p>", "yes"),
        ("<html><head><title>t</title></head><body>body</body></html>", "body"),
        ("5 &lt; 6 &amp;amp; done", "5 < 6 &amp; done"),  # entities are decoded exactly once
        ("<table><tr><td>Name</td><td>Value</td></tr><tr><td>a</td><td>b</td></tr></table>",
         "Name Value\na b"),
        ("<ul><li>first</li><li>second</li></ul>", "first\nsecond"),
        ("<p>unclosed <b>tags", "unclosed tags"),
        ("line one\nwrapped by the mailer", "line one wrapped by the mailer"),  # source newlines are spaces
        ("Gmail<div>puts</div><div>lines in divs</div>", "Gmail\nputs\nlines in divs"),
        ("<pre>keep\n  this</pre>after", "keep\nthis\n\nafter"),  # line breaks kept, indentation not
        ("", ""),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


def test_blockquotes_become_quoted_lines() -> None:
    markup = "<p>Answer</p><blockquote>old<br>text<blockquote>older</blockquote></blockquote><p>after</p>"
    assert html_to_text(markup) == "Answer\n\n> old\n> text\n>> older\n\nafter"


def test_blockquotes_in_indented_source_become_quoted_lines() -> None:
    markup = "<div>Answer</div>\n  <blockquote>\n    <div>old</div>\n  </blockquote>\n<div>after</div>"
    assert html_to_text(markup) == "Answer\n> old\nafter"


def test_a_block_of_a_no_break_space_is_a_blank_line() -> None:
    # Outlook, Mail.ru and Yandex separate paragraphs with "<div>&nbsp;</div>".
    assert html_to_text("<div>one</div><div>&nbsp;</div><div>two</div><div> </div><div>three</div>") == (
        "one\n\ntwo\nthree")


def test_private_use_markers_in_data_cannot_fake_quotes() -> None:
    assert html_to_text("<p>a\ue000b\ue001c</p>") == "abc"


def test_sanitize_removes_active_content() -> None:
    dirty = (
        '<p onclick="steal()" style="position:fixed">Hi <b>there</b></p><script>alert(1)</script>'
        '<img src="x" onerror="boom()"><a href="javascript:alert(2)">js</a><iframe src="https://evil"></iframe>'
        '<form action="https://evil"><input name="p"></form><style>body{display:none}</style>'
    )
    clean = sanitize_html(dirty)
    assert "Hi <b>there</b>" in clean
    for bad in ("<script", "alert(1)", "onclick", "onerror", "javascript:", "<iframe", "<form", "<input",
                "display:none", "position:fixed"):
        assert bad not in clean, bad


def test_sanitize_keeps_inline_images_and_marks_links() -> None:
    markup = '<img src="cid:logo@x"><a href="https://example.com">site</a><img src="data:text/html,x">'
    clean = sanitize_html(markup)
    assert '<img src="cid:logo@x">' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
    assert "data:" not in clean
