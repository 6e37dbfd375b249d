"""Plain text, Markdown and HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ..errors import ExtractError
from ..models import Extracted, Page
from ..text import clean_display


def read_text_file(path: str) -> str:
    data = open(path, "rb").read()
    bom16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    for enc in ("utf-8-sig", "utf-16") if bom16 else ("utf-8-sig",):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("cp1256")  # legacy Arabic Windows encoding
    except UnicodeDecodeError:
        raise ExtractError("text file is not UTF-8, UTF-16 or Windows-1256") from None


def _pages_from_text(text: str, kind: str, title: str = "") -> Extracted:
    # form feeds separate pages in text exports
    result = Extracted(kind=kind, title=title)
    for i, part in enumerate(text.split("\f"), start=1):
        result.pages.append(Page(number=i, text=clean_display(part)))
    return result


def extract_txt(path: str) -> Extracted:
    return _pages_from_text(read_text_file(path), "txt")


_MD_MARKUP = re.compile(
    r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?|\d+[.)]\s+)|[*_`]{1,3}|!?\[([^\]]*)\]\([^)]*\)", re.M)


def extract_md(path: str) -> Extracted:
    text = read_text_file(path)
    title = ""
    m = re.search(r"^#\s+(.+)$", text, re.M)
    if m:
        title = clean_display(m.group(1))
    plain = _MD_MARKUP.sub(lambda m: m.group(2) or "", text)
    return _pages_from_text(plain, "md", title)


class _HTMLText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
              "article", "table", "blockquote", "pre", "td", "th", "header", "footer"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip:
            self._skip -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def extract_html(path: str) -> Extracted:
    parser = _HTMLText()
    parser.feed(read_text_file(path))
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t\n]*", "\n", text)
    return _pages_from_text(text, "html", clean_display(parser.title))
