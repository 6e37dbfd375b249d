"""Plain text, Markdown and HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ..errors import Unreadable
from ..models import Extracted, Page
from ..text import clean_display
from . import blocks as blk


def read_text_file(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    bom16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    for enc in ("utf-8-sig", "utf-16") if bom16 else ("utf-8-sig",):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("cp1256")  # legacy Arabic Windows encoding
    except UnicodeDecodeError:
        raise Unreadable("text file is not UTF-8, UTF-16 or Windows-1256") from None


def _pages_from_text(text: str, kind: str, title: str = "", lines: bool = False) -> Extracted:
    """Pages of a text (form feeds separate pages in text exports); the
    blocks are its paragraphs and list items (``lines``: one block per line)."""
    result = Extracted(kind=kind, title=title)
    for i, part in enumerate(text.split("\f"), start=1):
        shown = clean_display(part)
        blocks = [b for line in shown.split("\n") for b in blk.from_text(line)] if lines \
            else blk.from_text(shown)
        result.pages.append(Page(number=i, text=shown, blocks=blocks))
    return result


def extract_txt(path: str) -> Extracted:
    return _pages_from_text(read_text_file(path), "txt")


# Markdown, the common syntax: ATX and setext headings, list items (by
# indentation), block quotes, fenced code, pipe tables, emphasis and links
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$")
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_MD_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
_MD_INLINE = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    # emphasis only around words: snake_case_names keep their underscores
    (re.compile(r"(?<![\w*])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),
    (re.compile(r"(?<![\w*])(\*|_)(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),
    (re.compile(r"(?<![\w~])~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escapes
]


def md_inline(text: str) -> str:
    """Markdown inline markup removed, the words kept."""
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return text


def _md_cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [md_inline(c.strip()) for c in re.split(r"(?<!\\)\|", line)]


def md_blocks(text: str) -> list[blk.Block]:
    """The blocks of a Markdown text."""
    out: list[blk.Block] = []
    lines = text.split("\n")
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            blk.add(out, blk.paragraph(md_inline(" ".join(p.strip() for p in para))))
            para.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        if _MD_FENCE.match(line):
            flush()
            fence = _MD_FENCE.match(line).group(1)  # type: ignore[union-attr]
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                code.append(lines[i])
                i += 1
            blk.add(out, blk.paragraph("\n".join(code)))
            i += 1
            continue
        m = _MD_HEADING.match(line)
        if m:
            flush()
            blk.add(out, blk.heading(md_inline(m.group(2)), len(m.group(1))))
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "|" in line and _MD_TABLE_RULE.match(nxt) and "-" in nxt:
            flush()
            rows = [_md_cells(line)]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_md_cells(lines[i]))
                i += 1
            blk.add(out, blk.table(rows, header=True))
            continue
        if para and _MD_SETEXT.match(line) and not _MD_ITEM.match(line):
            level = 1 if line.strip().startswith("=") else 2
            blk.add(out, blk.heading(md_inline(" ".join(p.strip() for p in para)), level))
            para.clear()
            i += 1
            continue
        if _MD_RULE.match(line):
            flush()
            i += 1
            continue
        m = _MD_ITEM.match(line)
        if m:
            flush()
            indent = len(m.group(1).replace("\t", "    "))
            marker = m.group(2)
            parts = [m.group(3)]
            i += 1
            # the item's next lines: indented, not an item of their own
            while i < len(lines) and lines[i].strip() and lines[i][:1].isspace() \
                    and not _MD_ITEM.match(lines[i]):
                parts.append(lines[i].strip())
                i += 1
            ordered = marker[0].isdigit()
            blk.add(out, blk.item(md_inline(" ".join(parts)), indent // 2, marker if ordered
                                  else blk.BULLET, ordered,
                                  int(marker[:-1]) if ordered else None))
            continue
        if line.lstrip().startswith(">"):
            flush()
            blk.add(out, blk.paragraph(md_inline(re.sub(r"^\s*>\s?", "", line))))
            i += 1
            continue
        para.append(line)
        i += 1
    flush()
    return out


def extract_md(path: str) -> Extracted:
    """Markdown: the blocks of its syntax; the text is the blocks' text, one
    line each (a table row's cells joined by " | ", no rule rows)."""
    text = read_text_file(path)
    result = Extracted(kind="md")
    for i, part in enumerate(text.split("\f"), start=1):
        blocks = md_blocks(part)
        if not result.title:
            result.title = next((b["text"] for b in blocks if b["kind"] == "heading"
                                 and b["level"] == 1), "")[:300]
        result.pages.append(Page(number=i, text=clean_display("\n".join(
            blk.text_lines(blocks))), blocks=blocks))
    return result


class _HTMLText(HTMLParser):
    """An HTML page's text (block elements on lines of their own) and its
    blocks: headings, paragraphs, list items (nested lists, ``<ol start>``,
    ``<li value>``) and tables."""

    _SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
              "article", "table", "blockquote", "pre", "td", "th", "header", "footer"}
    _PARAGRAPH = {"p", "div", "section", "article", "blockquote", "pre", "header", "footer",
                  "main", "aside", "nav", "figure", "figcaption", "dd", "dt", "address"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.blocks: list[blk.Block] = []
        self._skip = 0
        self._in_title = False
        self._buf: list[str] = []
        self._kind: tuple[str, dict[str, object]] = ("paragraph", {})
        self._lists: list[dict[str, object]] = []  # open lists: ordered, next number
        self._table: list[list[str]] | None = None
        self._header = False
        self._cell: list[str] | None = None

    def _flush(self) -> None:
        # source line breaks are spaces; <br> (U+2028 here) is a line break
        text = re.sub(r"[ \t\r\n]+", " ", "".join(self._buf))
        text = re.sub(r" ?\u2028 ?", "\n", text).strip()
        self._buf = []
        kind, info = self._kind
        self._kind = ("paragraph", {})
        if not text:
            return
        if kind == "heading":
            blk.add(self.blocks, blk.heading(text, int(info["level"])))  # type: ignore[call-overload]
        elif kind == "item":
            blk.add(self.blocks, blk.item(text, int(info["level"]),  # type: ignore[call-overload]
                                          str(info["marker"]), bool(info["ordered"]),
                                          info.get("number")))  # type: ignore[arg-type]
        else:
            blk.add(self.blocks, blk.paragraph(text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skip += 1
        if tag in self._BLOCK:
            self.parts.append("\n")
        if self._skip or self._in_title:
            return
        attr = dict(attrs)
        if tag == "table" and self._table is None:
            self._flush()
            self._table, self._header = [], False
        elif self._table is not None:
            if tag == "tr":
                self._end_cell()
                self._table.append([])
            elif tag in ("td", "th"):
                self._end_cell()
                if not self._table:
                    self._table.append([])
                if tag == "th" and len(self._table) == 1:
                    self._header = True
                self._cell = []
            elif tag == "br" and self._cell is not None:
                self._cell.append("\u2028")
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._kind = ("heading", {"level": int(tag[1])})
        elif tag in ("ul", "ol"):
            self._flush()
            start = attr.get("start") or "1"
            self._lists.append({"ordered": tag == "ol",
                                "next": int(start) if start.isdigit() else 1})
        elif tag == "li":
            self._flush()
            top = self._lists[-1] if self._lists else {"ordered": False, "next": 1}
            value = attr.get("value")
            n = int(value) if value and value.isdigit() else int(top["next"])  # type: ignore[call-overload]
            top["next"] = n + 1
            ordered = bool(top["ordered"])
            self._kind = ("item", {"level": max(0, len(self._lists) - 1), "ordered": ordered,
                                   "marker": f"{n}." if ordered else blk.BULLET,
                                   "number": n if ordered else None})
        elif tag == "br":
            self._buf.append("\u2028")
        elif tag in self._PARAGRAPH:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skip:
            self._skip -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")
        if self._skip:
            return
        if self._table is not None:
            if tag in ("td", "th", "tr"):
                self._end_cell()
            elif tag == "table":
                self._end_cell()
                blk.add(self.blocks, blk.table(self._table, self._header))
                self._table = None
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif re.fullmatch(r"h[1-6]", tag) or tag == "li" or tag in self._PARAGRAPH:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)
            if self._table is not None:
                if self._cell is not None:
                    self._cell.append(data)
            else:
                self._buf.append(data)

    def _end_cell(self) -> None:
        if self._cell is not None and self._table is not None:
            text = re.sub(r"[ \t\r\n]+", " ", "".join(self._cell))
            self._table[-1].append(re.sub(r" ?\u2028 ?", "\n", text).strip())
        self._cell = None

    def close(self) -> None:
        super().close()
        self._flush()
        if self._table is not None:
            self._end_cell()
            blk.add(self.blocks, blk.table(self._table, self._header))
            self._table = None


def extract_html(path: str) -> Extracted:
    parser = _HTMLText()
    parser.feed(read_text_file(path))
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t\n]*", "\n", text)
    result = _pages_from_text(text, "html", clean_display(parser.title), lines=True)
    if len(result.pages) == 1:  # form feeds do not separate an HTML page's blocks
        result.pages[0].blocks = parser.blocks
    return result
