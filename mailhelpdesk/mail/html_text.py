"""Plain text from HTML, for HTML-only mail, and sanitized HTML for display."""

import re
from html.parser import HTMLParser

import nh3

# Like a browser: paragraphs are set off by a blank line, other blocks start a new line, and
# whitespace in the source (wrapped by the mailer or by quoted-printable) is just a space.
_PARAGRAPH = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "pre", "hr"))
_BLOCK = frozenset((
    "address", "article", "aside", "center", "dd", "div", "dt", "fieldset", "figcaption", "figure", "footer",
    "form", "header", "li", "main", "nav", "section", "tr",
))
_CELL = frozenset(("td", "th"))
_SKIP = frozenset(("script", "style", "head", "title", "template"))
# Private-use characters mark where a blockquote opens and closes, so that quoted history
# becomes "> " lines that reply_text() can recognise, as in a plain-text reply.
_QUOTE_OPEN, _QUOTE_CLOSE = "\ue000", "\ue001"
_SOURCE_SPACE = re.compile(r"[ \t\r\n\f]+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.preformatted = 0
        self.newlines = 2  # nothing before the first line: no leading blank lines

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._tag(tag, opening=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, opening=True)

    def _tag(self, tag: str, *, opening: bool) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping + (1 if opening else -1))
        elif tag == "blockquote":
            self._breaks(1)
            self._emit(f"{_QUOTE_OPEN if opening else _QUOTE_CLOSE}\n")
        elif tag == "br" and opening:
            self._emit("\n")
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self.preformatted = max(0, self.preformatted + (1 if opening else -1))
            self._breaks(2)
        elif tag in _BLOCK:
            self._breaks(1)
        elif tag in _CELL and opening:
            self._emit(" ")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        data = data.replace(_QUOTE_OPEN, "").replace(_QUOTE_CLOSE, "")
        self._emit(data if self.preformatted else _SOURCE_SPACE.sub(" ", data))

    def _breaks(self, count: int) -> None:
        if self.newlines < count:
            self._emit("\n" * (count - self.newlines))

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        # A no-break space is content: a browser gives "<div>&nbsp;</div>" a line of its own, and
        # mailers (Outlook, Mail.ru, Yandex) write blank lines between paragraphs that way.
        content = text.rstrip(" \t")
        if content.strip(" \t\n\r\f"):
            self.newlines = len(content) - len(content.rstrip("\n"))
        else:
            self.newlines += content.count("\n")


_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(markup: str) -> str:
    """Readable plain text from an HTML body (block elements become line breaks, quotes "> " lines)."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    lines: list[str] = []
    depth = 0
    for line in "".join(collector.parts).split("\n"):
        # A marker may share its line with spaces from the source ("</div>\n<blockquote>").
        text = _SPACES.sub(" ", line).strip()
        if text == _QUOTE_OPEN:
            depth += 1
        elif text == _QUOTE_CLOSE:
            depth = max(0, depth - 1)
        else:
            lines.append(f"{'>' * depth} {text}" if depth and text else text)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# cid: lets inline images (multipart/related) resolve in the panel; data: stays forbidden.
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize_html(markup: str) -> str:
    """HTML safe to show in the panel: no scripts, handlers, forms or foreign styles."""
    return nh3.clean(markup, link_rel="noopener noreferrer nofollow", url_schemes=_URL_SCHEMES)
