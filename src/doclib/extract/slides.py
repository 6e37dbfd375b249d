"""PPTX text with python-pptx: one page per slide; title, body (text frames,
tables, group shapes, recursively) and speaker notes kept apart: a slide's
``text`` is its title and body only, its notes go to ``Page.notes`` (they
become passages of their own only where the document's readers may see
them, see ``doclib.notes``)."""

from __future__ import annotations

from typing import Any

from ..models import Extracted, Page
from ..text import clean_display


def _shape_texts(shape: Any, out: list[str]) -> None:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for s in shape.shapes:
            _shape_texts(s, out)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [c.text_frame.text.strip() for c in row.cells if c.text_frame.text.strip()]
            if cells:
                out.append(" | ".join(cells))
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for para in shape.text_frame.paragraphs:
            text = "".join(r.text for r in para.runs) or para.text
            if text.strip():
                out.append(text)


def extract_pptx(path: str) -> Extracted:
    from pptx import Presentation

    prs = Presentation(path)
    result = Extracted(kind="pptx")
    for i, slide in enumerate(prs.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        body: list[str] = []
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            _shape_texts(shape, body)
        notes = ""
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text if \
                slide.notes_slide.notes_text_frame is not None else ""
        parts = [title] + body
        result.pages.append(Page(
            number=i,
            text=clean_display("\n".join(p for p in parts if p.strip())),
            title=clean_display(title),
            notes=clean_display(notes),
        ))
    try:
        result.title = clean_display(prs.core_properties.title or "")[:300]
    except Exception:
        result.title = ""
    if not result.title and result.pages:
        result.title = result.pages[0].title
    return result
