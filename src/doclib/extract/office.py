"""DOCX text with python-docx: body paragraphs and tables in document order,
nested tables, headers and footers, text boxes."""

from __future__ import annotations

from typing import Any

from ..models import Extracted, Page
from ..text import clean_display

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _paragraph_text(p_el: Any) -> str:
    return "".join(t.text or "" for t in p_el.iter(f"{_W}t"))


def _walk_block(el: Any, out: list[str]) -> None:
    """Paragraphs and tables in order; text boxes (w:txbxContent) included."""
    for child in el.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            text = _paragraph_text(child)
            if text.strip():
                out.append(text)
        elif tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                cells = []
                for cell in row.iterchildren(f"{_W}tc"):
                    parts: list[str] = []
                    _walk_block(cell, parts)
                    cells.append(" ".join(parts))
                if any(c.strip() for c in cells):
                    out.append(" | ".join(c for c in cells if c.strip()))
        elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins"):
            _walk_block(child, out)


def extract_docx(path: str) -> Extracted:
    import docx

    d = docx.Document(path)
    result = Extracted(kind="docx")
    body: list[str] = []
    _walk_block(d.element.body, body)
    seen: set[str] = set()
    margins: list[str] = []
    for section in d.sections:
        for part in (section.header, section.footer, section.first_page_header,
                     section.first_page_footer, section.even_page_header,
                     section.even_page_footer):
            try:
                texts: list[str] = []
                _walk_block(part._element, texts)
            except Exception:
                continue
            for t in texts:
                if t not in seen:
                    seen.add(t)
                    margins.append(t)
    try:
        result.title = clean_display(d.core_properties.title or "")[:300]
    except Exception:
        result.title = ""
    text = "\n".join(body + margins)
    result.pages.append(Page(number=1, text=clean_display(text)))
    return result
