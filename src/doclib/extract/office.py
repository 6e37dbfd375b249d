"""DOCX text with python-docx: body paragraphs and tables in document order,
nested tables, headers and footers, text boxes.

The page's blocks (``blocks``) keep what Word knows: headings (heading
styles, outline levels), list items with their numbers as Word shows them
(the numbering definitions: "10.", "١٠-", "a)", bullets), tables as
tables, headers and footers apart."""

from __future__ import annotations

import re
from typing import Any

from ..models import Extracted, Page
from ..text import clean_display
from . import blocks as blk

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_NAME = re.compile(r"^(?:heading|titre|überschrift|título|kop|العنوان)\s*(\d)$", re.I)


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


def _val(el: Any, tag: str) -> str | None:
    """The w:val of the first child ``tag`` of ``el`` (None if absent)."""
    if el is None:
        return None
    child = el.find(f"{_W}{tag}")
    return None if child is None else child.get(f"{_W}val")


class _Styles:
    """Paragraph styles: heading level and numbering, through based-on styles."""

    def __init__(self, doc: Any) -> None:
        self.by_id: dict[str, Any] = {}
        try:
            for style in doc.styles.element.iterchildren(f"{_W}style"):
                sid = style.get(f"{_W}styleId")
                if sid:
                    self.by_id[sid] = style
        except MemoryError:  # over the child's limit: never an empty page
            raise
        except Exception:
            pass

    def _chain(self, sid: str | None) -> list[Any]:
        out: list[Any] = []
        while sid and sid in self.by_id and len(out) < 10:
            style = self.by_id[sid]
            out.append(style)
            sid = _val(style, "basedOn")
        return out

    def heading_level(self, sid: str | None) -> int:
        for style in self._chain(sid):
            name = _val(style, "name") or ""
            if name.lower() == "title":
                return 1
            m = _HEADING_NAME.match(name)
            if m:
                return int(m.group(1))
            outline = _val(style.find(f"{_W}pPr"), "outlineLvl")
            if outline is not None and outline.isdigit() and int(outline) < 9:
                return int(outline) + 1
        return 0

    def numbering(self, sid: str | None) -> tuple[str, int] | None:
        for style in self._chain(sid):
            ppr = style.find(f"{_W}pPr")
            num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
            if num_pr is not None:
                num_id = _val(num_pr, "numId")
                ilvl = _val(num_pr, "ilvl")
                if num_id:
                    return num_id, int(ilvl) if ilvl and ilvl.isdigit() else 0
        return None


_ALPHA_AR = "أبتثجحخدذرزسشصضطظعغفقكلمنهوي"
_ABJAD = "أبجدهوزحطيكلمنسعفصقرشتثخذضظغ"
_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_BULLET_CHARS = {"o": "◦", "§": "▪", "-": "–", "": "•"}


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"),
                       (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                       (4, "iv"), (1, "i")):
        while n >= value:
            out += sym
            n -= value
    return out


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        s = ""
        while n > 0:
            n, r = divmod(n - 1, 26)
            s = chr(ord("a") + r) + s
        return s.upper() if fmt == "upperLetter" else s
    if fmt in ("lowerRoman", "upperRoman"):
        return _roman(n).upper() if fmt == "upperRoman" else _roman(n)
    if fmt == "arabicAlpha":
        return _ALPHA_AR[(n - 1) % len(_ALPHA_AR)]
    if fmt == "arabicAbjad":
        return _ABJAD[(n - 1) % len(_ABJAD)]
    if fmt in ("hindiNumbers", "hindiCounting"):
        return str(n).translate(_INDIC)
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


class _Numbering:
    """Word's list numbering: each (list, level) counts its items; a marker
    is the level's text ("%1." ...) with the counters, or its bullet."""

    def __init__(self, doc: Any) -> None:
        self.levels: dict[str, dict[int, dict[str, Any]]] = {}
        self.abstract_of: dict[str, str] = {}
        self.counters: dict[str, dict[int, int]] = {}
        try:
            root = doc.part.numbering_part.element
        except MemoryError:  # over the child's limit: never an empty page
            raise
        except Exception:  # a document without lists
            return
        abstract: dict[str, dict[int, dict[str, Any]]] = {}
        for an in root.iterchildren(f"{_W}abstractNum"):
            lvls = {}
            for lvl in an.iterchildren(f"{_W}lvl"):
                ilvl = int(lvl.get(f"{_W}ilvl", "0"))
                start = _val(lvl, "start")
                lvls[ilvl] = {"fmt": _val(lvl, "numFmt") or "decimal",
                              "text": _val(lvl, "lvlText") or "",
                              "start": int(start) if start and start.isdigit() else 1}
            abstract[an.get(f"{_W}abstractNumId", "")] = lvls
        for num in root.iterchildren(f"{_W}num"):
            num_id = num.get(f"{_W}numId", "")
            aid = _val(num, "abstractNumId") or ""
            lvls = {k: dict(v) for k, v in abstract.get(aid, {}).items()}
            for override in num.iterchildren(f"{_W}lvlOverride"):
                ilvl = int(override.get(f"{_W}ilvl", "0"))
                start = _val(override, "startOverride")
                if start and start.isdigit() and ilvl in lvls:
                    lvls[ilvl]["start"] = int(start)
            self.levels[num_id] = lvls
            self.abstract_of[num_id] = aid

    def item(self, num_id: str, ilvl: int, text: str) -> dict[str, Any] | None:
        lvls = self.levels.get(num_id)
        if not lvls or num_id == "0":
            return None
        lvl = lvls.get(ilvl) or lvls.get(0)
        if lvl is None or lvl["fmt"] == "none":
            return None
        if lvl["fmt"] == "bullet":
            char = clean_display(lvl["text"]).replace("\u2022", "").strip()
            marker = _BULLET_CHARS.get(char, char if len(char) == 1 else "\u2022")
            return blk.item(text, ilvl, marker or "\u2022")
        # lists of one abstract definition count together (Word's behaviour
        # for paragraphs of one list style)
        counters = self.counters.setdefault(self.abstract_of.get(num_id, num_id), {})
        counters[ilvl] = counters.get(ilvl, lvl["start"] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]

        def level_number(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            spec = lvls.get(k, lvl)
            return _format_number(counters.get(k, spec["start"]), spec["fmt"])

        marker = re.sub(r"%(\d)", level_number, lvl["text"]) or f"{counters[ilvl]}."
        return blk.item(text, ilvl, marker, True, counters[ilvl])


def _cell_text(cell: Any) -> str:
    parts: list[str] = []
    _walk_block(cell, parts)
    return "\n".join(parts)


def _walk_blocks(el: Any, out: list[blk.Block], styles: _Styles, numbering: _Numbering,
                 role: str = "") -> None:
    """The blocks of a body, header or footer, in order (as ``_walk_block``)."""
    for child in el.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            text = _paragraph_text(child)
            if not text.strip():
                continue
            ppr = child.find(f"{_W}pPr")
            sid = _val(ppr, "pStyle")
            num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
            numbered = None
            if num_pr is not None:
                ilvl = _val(num_pr, "ilvl")
                numbered = (_val(num_pr, "numId") or "", int(ilvl) if ilvl and ilvl.isdigit()
                            else 0)
            else:
                numbered = styles.numbering(sid)
            level = styles.heading_level(sid)
            outline = _val(ppr, "outlineLvl")
            if not level and outline is not None and outline.isdigit() and int(outline) < 9:
                level = int(outline) + 1
            block = None
            if level and not role:
                block = blk.heading(text, level)
            elif numbered is not None:
                block = numbering.item(numbered[0], numbered[1], text)
            if block is None and not role:
                typed = blk.split_marker(clean_display(text))  # "١. ..." typed by hand
                if typed:
                    block = blk.item(typed[1], 0, typed[0], typed[2], typed[3])
            if block is None:
                block = blk.paragraph(text, role)
            blk.add(out, block)
        elif tag == f"{_W}tbl":
            rows = []
            header = False
            for i, row in enumerate(child.iter(f"{_W}tr")):
                if row.getparent() is not child:
                    continue  # a nested table's row: part of its cell's text
                trpr = row.find(f"{_W}trPr")
                if i == 0 and trpr is not None and trpr.find(f"{_W}tblHeader") is not None:
                    header = True
                rows.append([_cell_text(cell) for cell in row.iterchildren(f"{_W}tc")])
            blk.add(out, blk.table(rows, header))
        elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins"):
            _walk_blocks(child, out, styles, numbering, role)


def extract_docx(path: str) -> Extracted:
    import docx

    d = docx.Document(path)
    result = Extracted(kind="docx")
    body: list[str] = []
    _walk_block(d.element.body, body)
    styles, numbering = _Styles(d), _Numbering(d)
    blocks: list[blk.Block] = []
    _walk_blocks(d.element.body, blocks, styles, numbering)
    seen: set[str] = set()
    margins: list[str] = []
    for section in d.sections:
        for part in (section.header, section.footer, section.first_page_header,
                     section.first_page_footer, section.even_page_header,
                     section.even_page_footer):
            try:
                texts: list[str] = []
                _walk_block(part._element, texts)
            except MemoryError:  # over the child's limit: never an empty page
                raise
            except Exception:
                continue
            for t in texts:
                if t not in seen:
                    seen.add(t)
                    margins.append(t)
                    blk.add(blocks, blk.paragraph(t, "margin"))
    try:
        result.title = clean_display(d.core_properties.title or "")[:300]
    except MemoryError:  # over the child's limit: never an empty page
        raise
    except Exception:
        result.title = ""
    text = "\n".join(body + margins)
    result.pages.append(Page(number=1, text=clean_display(text), blocks=blocks))
    return result
