"""PPTX text with python-pptx: one page per slide; title, body (text frames,
tables, group shapes, recursively) and speaker notes kept apart: a slide's
``text`` is its title and body only, its notes go to ``Page.notes`` (they
become passages of their own only where the document's readers may see
them, see ``doclib.notes``).  The slide's blocks: its title, then its
body's paragraphs, bullet items (with their levels and numbers) and tables;
never its notes."""

from __future__ import annotations

from typing import Any

from ..models import Extracted, Page
from ..text import clean_display
from . import blocks as blk

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
# buAutoNum schemes: the number's style and the text around it
_AUTONUM = {"ParenBoth": "({})", "ParenR": "{})", "Period": "{}.", "Plain": "{}",
            "Minus": "{}-", "DbPeriod": "{}.", "DbPlain": "{}"}


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


def _autonum(scheme: str, n: int) -> str:
    from .office import _format_number

    fmt = "decimal"
    if scheme.startswith("alphaLc"):
        fmt = "lowerLetter"
    elif scheme.startswith("alphaUc"):
        fmt = "upperLetter"
    elif scheme.startswith("romanLc"):
        fmt = "lowerRoman"
    elif scheme.startswith("romanUc"):
        fmt = "upperRoman"
    elif scheme.startswith(("hindiNum", "arabic1", "arabic2")) or scheme == "arabicDbPeriod":
        fmt = "hindiNumbers" if scheme.startswith(("hindiNum", "arabic1", "arabic2")) \
            else "decimal"
    pattern = next((p for suffix, p in _AUTONUM.items() if scheme.endswith(suffix)), "{}.")
    return pattern.format(_format_number(n, fmt))


def _frame_blocks(frame: Any, bulleted: bool, out: list[blk.Block]) -> None:
    """A text frame's paragraphs: list items where they have bullets (a body
    placeholder's paragraphs have them unless ``buNone``; a text box's only
    with ``buChar`` or ``buAutoNum``), paragraphs otherwise."""
    counters: dict[int, int] = {}
    for para in frame.paragraphs:
        text = "".join(r.text for r in para.runs) or para.text
        if not text.strip():
            continue
        level = int(para.level or 0)
        ppr = para._p.find(f"{_A}pPr")
        bu_none = ppr is not None and ppr.find(f"{_A}buNone") is not None
        bu_char = ppr.find(f"{_A}buChar") if ppr is not None else None
        bu_auto = ppr.find(f"{_A}buAutoNum") if ppr is not None else None
        for deeper in [k for k in counters if k > level]:
            del counters[deeper]
        if bu_auto is not None:
            start = bu_auto.get("startAt")
            counters[level] = counters.get(level, (int(start) if start and start.isdigit()
                                                   else 1) - 1) + 1
            n = counters[level]
            blk.add(out, blk.item(text, level, _autonum(bu_auto.get("type", ""), n), True, n))
            continue
        counters.pop(level, None)
        if bu_char is not None or (bulleted and not bu_none):
            char = clean_display(bu_char.get("char", "")) if bu_char is not None else ""
            char = char.replace("\u2022", "").strip()
            blk.add(out, blk.item(text, level, char if len(char) == 1 and char.isprintable()
                                  and not char.isalnum() else blk.BULLET))
        else:
            blk.add(out, blk.paragraph(text))


def _shape_blocks(shape: Any, out: list[blk.Block]) -> None:
    from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for s in shape.shapes:
            _shape_blocks(s, out)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        blk.add(out, blk.table([[c.text_frame.text for c in row.cells]
                                for row in shape.table.rows], header=True))
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        bulleted = False
        if shape.is_placeholder:
            try:
                kind = shape.placeholder_format.type
            except (ValueError, AttributeError):
                kind = None
            bulleted = kind in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)
        _frame_blocks(shape.text_frame, bulleted, out)


def extract_pptx(path: str) -> Extracted:
    from pptx import Presentation

    prs = Presentation(path)
    result = Extracted(kind="pptx")
    for i, slide in enumerate(prs.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        body: list[str] = []
        blocks: list[blk.Block] = []
        blk.add(blocks, blk.heading(title, 1))
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            _shape_texts(shape, body)
            _shape_blocks(shape, blocks)
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
            blocks=blocks,
        ))
    try:
        result.title = clean_display(prs.core_properties.title or "")[:300]
    except MemoryError:  # over the child's limit: never an empty page
        raise
    except Exception:
        result.title = ""
    if not result.title and result.pages:
        result.title = result.pages[0].title
    return result
