"""A page's structure for reading: blocks the extractors produce.

The document page shows a document as it was written, not as it was
chunked: headings, paragraphs, numbered and bulleted list items and tables,
each block in its own direction.  Each extractor turns what its format
knows (DOCX styles and numbering, PPTX titles and bullet levels, Markdown
syntax, a PDF's font sizes and line spacing) into a list of plain dicts,
stored with the document (``documents.structure``) and rendered by the
document page (``doclib.documents.reading``).  ``Page.text``, what is
chunked and indexed, is computed as before, apart from the blocks.

A block is one of:

- ``{"kind": "heading", "text": ..., "level": 1-6}``
- ``{"kind": "paragraph", "text": ...}`` (``"role": "margin"`` for a
  header or footer); its text may hold line breaks, shown as such
- ``{"kind": "item", "text": ..., "level": 0.., "ordered": bool,
  "marker": "10." | "\u2022", "number": 10}`` (``number`` when ordered)
- ``{"kind": "table", "rows": [[cell, ...], ...], "header": bool}``

Block texts are cleaned like every stored text (``clean_display``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..text import clean_display

Block = dict[str, Any]
STRUCTURE_VERSION = 1
BULLET = "\u2022"

_AR_DIGITS = "\u0660-\u0669"
_FA_DIGITS = "\u06f0-\u06f9"
# a list marker at the start of a line: 1. 1) ١. ١) (a) a) iv. or a bullet
_MARKER = re.compile(
    rf"^(?:(?P<num>[0-9]{{1,3}}|[{_AR_DIGITS}]{{1,3}}|[{_FA_DIGITS}]{{1,3}})[.)\-\u066b](?=\s)"
    r"|\(?(?P<alpha>[a-hA-H])\)"
    r"|(?P<roman>(?:i{1,3}|iv|v|vi{1,3}|ix|x))[.)](?=\s)"
    r"|(?P<bullet>[\u2022\u25cf\u25aa\u25a0\u25e6\u2023\u2219\u00b7\u25cb\u25c6\u25c7"
    r"\u25ba\u25b6\u2713\u2714\u27a2\u2043\u2013\u2014*\-]))\s+")
_DIGIT_VALUE = str.maketrans("\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
                             "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
                             "01234567890123456789")


def heading(text: str, level: int = 1) -> Block | None:
    text = clean_display(text)
    return {"kind": "heading", "text": text, "level": max(1, min(6, level))} if text else None


def paragraph(text: str, role: str = "") -> Block | None:
    text = clean_display(text)
    if not text:
        return None
    block: Block = {"kind": "paragraph", "text": text}
    if role:
        block["role"] = role
    return block


def item(text: str, level: int = 0, marker: str = BULLET, ordered: bool = False,
         number: int | None = None) -> Block | None:
    text = clean_display(text)
    if not text:
        return None
    block: Block = {"kind": "item", "text": text, "level": max(0, min(8, level)),
                    "ordered": ordered, "marker": clean_display(marker) or BULLET}
    if ordered and number is not None:
        block["number"] = number
    return block


def table(rows: list[list[str]], header: bool = False) -> Block | None:
    cleaned = [[clean_display(c) for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return None
    return {"kind": "table", "rows": cleaned, "header": header and len(cleaned) > 1}


def add(blocks: list[Block], block: Block | None) -> None:
    if block is not None:
        blocks.append(block)


def split_marker(line: str) -> tuple[str, str, bool, int | None] | None:
    """(marker, rest, ordered, number) when the line starts with a list marker."""
    m = _MARKER.match(line)
    if not m or not line[m.end():].strip():
        return None
    marker = line[:m.end()].strip()
    rest = line[m.end():].strip()
    if m.group("bullet"):
        return BULLET if m.group("bullet") in "\u2022*-\u00b7\u2219" else marker, rest, False, None
    if m.group("num"):
        return marker, rest, True, int(m.group("num").translate(_DIGIT_VALUE))
    if m.group("alpha"):
        return marker, rest, True, ord(m.group("alpha").lower()) - ord("a") + 1
    return marker, rest, True, None


def from_text(text: str) -> list[Block]:
    """Blocks of plain text (TXT, OCR): a blank line ends a paragraph, a
    line that starts with a list marker is a list item; the lines of a
    paragraph keep their breaks."""
    blocks: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            add(blocks, paragraph("\n".join(para)))
            para.clear()

    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        marked = split_marker(line)
        if marked:
            flush()
            marker, rest, ordered, number = marked
            add(blocks, item(rest, 0, marker, ordered, number))
        elif blocks and blocks[-1]["kind"] == "item" and not para and raw[:1].isspace():
            blocks[-1]["text"] += " " + clean_display(line)  # an item's indented next line
        else:
            para.append(line)
    flush()
    return blocks


@dataclass
class Line:
    """One line of a PDF page in reading order: its text, baseline (y grows
    upwards, as in PDF), font size and left edge."""

    text: str
    y: float
    size: float
    x: float = 0.0


def from_lines(lines: list[Line], body_size: float | None = None,
               heading_sizes: list[int] | None = None) -> list[Block]:
    """Blocks of a PDF page from its lines: a line in a font clearly larger
    than the body's is a heading; a line that starts with a list marker
    starts an item; a gap between lines wider than the page's usual line
    pitch, or a change of font size, ends a paragraph."""
    lines = [Line(clean_display(ln.text), ln.y, ln.size, ln.x) for ln in lines]
    lines = [ln for ln in lines if ln.text]
    if not lines:
        return []
    if body_size is None:
        body_size = document_body_size([lines])
    if heading_sizes is None:
        heading_sizes = document_heading_sizes([lines], body_size)
    pitches = Counter(round(prev.y - ln.y) for prev, ln in zip(lines, lines[1:], strict=False)
                      if abs(prev.size - ln.size) < 0.6 and 0 < prev.y - ln.y < 3 * ln.size)
    pitch = pitches.most_common(1)[0][0] if pitches else 1.4 * body_size
    blocks: list[Block] = []
    current: dict[str, Any] | None = None  # the block being built, its text as parts
    prev: Line | None = None

    def flush() -> None:
        nonlocal current
        if current is not None:
            text = " ".join(current.pop("parts"))
            kind = current.pop("kind")
            if kind == "heading":
                add(blocks, heading(text, current["level"]))
            elif kind == "item":
                add(blocks, item(text, 0, current["marker"], current["ordered"],
                                 current["number"]))
            else:
                add(blocks, paragraph(text))
        current = None

    for ln in lines:
        text = ln.text.strip()
        is_heading = _larger(ln.size, body_size) and len(text.split()) <= 25
        gap = (prev.y - ln.y) if prev is not None else 0.0
        joins = (current is not None and prev is not None
                 and abs(prev.size - ln.size) < 0.6
                 and 0 < gap <= (1.6 * ln.size if is_heading else
                                 max(pitch, 1.05 * ln.size) * 1.25))
        marked = None if is_heading else split_marker(text)
        if marked:
            flush()
            marker, rest, ordered, number = marked
            current = {"kind": "item", "parts": [rest], "marker": marker, "ordered": ordered,
                       "number": number}
        elif joins and current is not None and (current["kind"] == "heading") == is_heading:
            current["parts"].append(text)
        else:
            flush()
            if is_heading:
                level = heading_sizes.index(round(ln.size)) + 1 if round(ln.size) in \
                    heading_sizes else 1
                current = {"kind": "heading", "parts": [text], "level": level}
            else:
                current = {"kind": "paragraph", "parts": [text]}
        prev = ln
    flush()
    return blocks


def _larger(size: float, body_size: float) -> bool:
    """A heading's font: at least 8% larger than the body's (LibreOffice's
    Heading 2 is 13 pt over a 12 pt body)."""
    return size >= 1.08 * body_size and size - body_size >= 0.9


def document_heading_sizes(pages: list[list[Line]], body_size: float) -> list[int]:
    """The font sizes of a document's headings, largest (level 1) first."""
    return sorted({round(ln.size) for lines in pages for ln in lines
                   if _larger(ln.size, body_size)}, reverse=True)[:6]


def document_body_size(pages: list[list[Line]]) -> float:
    """The font size that holds most of the characters."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            sizes[round(ln.size, 1)] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 12.0


def text_lines(blocks: list[Block]) -> list[str]:
    """The blocks' text, one line per paragraph, item and table row (cells
    joined by " | "), as the DOCX and PPTX extractors index it."""
    out: list[str] = []
    for b in blocks:
        if b["kind"] == "table":
            out.extend(" | ".join(c for c in row if c) for row in b["rows"])
        else:
            out.append(b["text"])
    return out


def dumps(pages: list[tuple[int, list[Block]]]) -> str | None:
    """The ``documents.structure`` value of extracted pages (None if no page
    has blocks)."""
    kept = [{"n": n, "blocks": b} for n, b in pages if b]
    if not kept:
        return None
    return json.dumps({"v": STRUCTURE_VERSION, "pages": kept}, ensure_ascii=False,
                      separators=(",", ":"))


def loads(raw: str | None) -> dict[int, list[Block]]:
    """Page number -> blocks of a stored structure ({} for none or an
    unknown version)."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("v") != STRUCTURE_VERSION:
        return {}
    return {int(p["n"]): list(p["blocks"]) for p in data.get("pages", [])}
