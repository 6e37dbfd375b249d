"""PDF text: pypdf with line-segment reordering for Arabic, a guard, a fallback.

pypdf's plain ``extract_text`` concatenates a line's text segments left to
right; LibreOffice starts a new segment wherever glyph positioning changes,
so right-to-left lines come out scrambled (EXTRACTION.md, failure mode 1).
We collect every segment with its position, rebuild lines, and order the
segments of right-to-left lines by descending x (numbers and Latin words
inside them keep their left-to-right order).  The lines, with their font
size and position, also give the page's blocks (headings, paragraphs, list
items: ``blocks.from_lines``).  If the result still looks
visually ordered (the reversal guard), the page set is re-extracted from the
character stream with pdfplumber, converting visual to logical order.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..errors import Encrypted, TooManyPages, Unreadable
from ..models import Extracted, Page
from ..text import clean_display, reversal_guard, script_counts
from . import blocks as blk
from .blocks import Line

_LINE_TOLERANCE = 3.2
_ARABIC_CHAR = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
# what pypdf orders right to left (its RTL ranges minus its neutral ones:
# it takes Arabic-Indic digits for neutral characters)
_PYPDF_RTL = re.compile("[\u0590-\u065f\u066e-\u06ef\u06fa-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_PYPDF_LTR = re.compile("[0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
# runs that are laid out left to right inside right-to-left text
_LTR_RUN = re.compile("[0-9A-Za-z\u00c0-\u024f\u0660-\u0669\u06f0-\u06f9]")
_INDIC_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]"
                           "(?:[\u0660-\u0669\u06f0-\u06f9\u066b\u066c.,:/]*"
                           "[\u0660-\u0669\u06f0-\u06f9])?")


@dataclass
class _Segment:
    x: float
    y: float
    text: str
    size: float
    rtl: bool  # pypdf's direction when it gave the text (it reversed it if True)


def _kind(text: str) -> str:
    """'rtl' (Arabic letters), 'ltr' (Latin letters or digits of either
    script) or 'neutral' (spaces and punctuation only)."""
    if _ARABIC_CHAR.search(_INDIC_DIGITS.sub("", text)):
        return "rtl"
    return "ltr" if _LTR_RUN.search(text) else "neutral"


def _logical(seg: _Segment, line_rtl: bool) -> str:
    """A segment's text in logical order.  pypdf reverses the characters of
    a right-to-left run; it takes Arabic-Indic digits and punctuation for
    neutral characters and reverses them too when its current direction is
    right to left: '١٠' came out as '٠١' (EXTRACTION.md; a PDF lays digits
    out left to right)."""
    text = seg.text
    if seg.rtl:
        text = _INDIC_DIGITS.sub(lambda m: m.group(0)[::-1], text)
    if _kind(text) == "neutral" and seg.rtl != line_rtl:
        # spaces and punctuation alone: visual order, turned for the line
        text = text[::-1]
    return text


def _order_line(line: list[_Segment]) -> str:
    """The text of one line in logical order.  Segments are ordered by x:
    descending on a right-to-left line, but a run of left-to-right
    segments (Latin words, numbers) inside it keeps its own order; the
    reverse on a left-to-right line."""
    joined = "".join(s.text for s in line)
    ar, la = script_counts(clean_display(joined))
    rtl = ar > la
    # stable sort keeps pypdf's order for segments at the same x
    ordered = sorted(line, key=lambda s: -s.x if rtl else s.x)
    texts = [_logical(s, rtl) for s in ordered]
    kinds = [_kind(t) for t in texts]
    inner = "ltr" if rtl else "rtl"  # the runs that go the other way
    out: list[str] = []
    i = 0
    while i < len(texts):
        if kinds[i] != inner:
            out.append(texts[i])
            i += 1
            continue
        j = i + 1  # the run: inner segments and the neutral ones between them
        end = i + 1
        while j < len(texts) and kinds[j] in (inner, "neutral"):
            if kinds[j] == inner:
                end = j + 1
            j += 1
        out.extend(reversed(texts[i:end]))
        i = end
    return "".join(out).strip()


def _segments_to_lines(segments: list[_Segment]) -> list[Line]:
    """Group positioned segments into lines, each in logical order."""
    groups: list[list[_Segment]] = []
    for seg in segments:
        if groups and abs(groups[-1][0].y - seg.y) < _LINE_TOLERANCE:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    lines = []
    for group in groups:
        sizes = Counter({round(s.size, 1): 0 for s in group})
        for s in group:
            sizes[round(s.size, 1)] += len(s.text.strip())
        lines.append(Line(text=_order_line(group), y=group[0].y,
                          size=sizes.most_common(1)[0][0], x=min(s.x for s in group)))
    return lines


def _page_lines(page: Any) -> list[Line]:
    segments: list[_Segment] = []
    state = {"rtl": False}  # pypdf's direction, as it starts every page

    def visit(text: str, cm: list[float], tm: list[float], _fd: Any, fs: Any) -> None:
        if not text or text == "\n":
            return
        # a run holds characters of one direction: it is pypdf's direction then
        if _PYPDF_RTL.search(text):
            state["rtl"] = True
        elif _PYPDF_LTR.search(text):
            state["rtl"] = False
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = math.hypot(tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3])
        size = float(fs or 0) * (scale or 1.0)
        segments.append(_Segment(x, y, text, size, state["rtl"]))

    page.extract_text(visitor_text=visit)
    return _segments_to_lines(segments)


def _reverse_visual_line(line: str) -> str:
    """Visual -> logical order for a right-to-left line without python-bidi:
    reverse the line, then restore runs of Latin letters and digits (of
    either script: numbers are laid out left to right)."""
    rev = line[::-1]
    return re.sub(r"[A-Za-z0-9\u00c0-\u024f\u0660-\u0669\u06f0-\u06f9]"
                  r"[A-Za-z0-9\u00c0-\u024f\u0660-\u0669\u06f0-\u06f9\u066b\u066c.,:%/\-' ]*"
                  r"[A-Za-z0-9\u00c0-\u024f\u0660-\u0669\u06f0-\u06f9]"
                  r"|[A-Za-z0-9\u0660-\u0669\u06f0-\u06f9]",
                  lambda m: m.group(0)[::-1], rev)


def _plumber_pages(path: str) -> list[list[Line]]:
    """Fallback: visual-order characters from pdfplumber, turned logical."""
    import pdfplumber

    pages = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            chars = []
            for c in page.chars:
                t = c["text"]
                # zero-width combining marks split words in position-based tools
                if c.get("width", 1) < 0.01 and all(0x064B <= ord(ch) <= 0x065F for ch in t):
                    continue
                if len(t) > 1 and _ARABIC_CHAR.search(t):
                    t = t[::-1]  # ligature glyphs hold their letters in logical order
                chars.append({**c, "text": t})
            rows: dict[int, list[dict[str, Any]]] = {}
            for c in chars:
                rows.setdefault(round(c["top"] / 3), []).append(c)
            out = []
            for key in sorted(rows):
                row = sorted(rows[key], key=lambda c: c["x0"])
                buf = ""
                prev = None
                for c in row:
                    if prev is not None:
                        gap = c["x0"] - prev["x1"]
                        if gap > 0.15 * max(c["size"], 1):
                            buf += " "
                    buf += c["text"]
                    prev = c
                ar, la = script_counts(buf)
                sizes = Counter(round(float(c["size"]), 1) for c in row)
                # y grows upwards in Line, as in PDF
                out.append(Line(text=_reverse_visual_line(buf) if ar > la else buf,
                                y=-float(row[0]["bottom"]), size=sizes.most_common(1)[0][0],
                                x=float(row[0]["x0"])))
            pages.append(out)
    return pages


def extract_pdf(path: str, max_pages: int) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
    except PdfReadError as e:
        raise Unreadable(f"not a readable PDF: {e}") from None
    if reader.is_encrypted:
        try:
            # an empty user password is common ("owner-password only" PDFs)
            opened = bool(reader.decrypt(""))
        except (FileNotDecryptedError, NotImplementedError, PdfReadError, ValueError):
            opened = False
        if not opened:
            raise Encrypted("encrypted")
    n = len(reader.pages)
    if n > max_pages:
        raise TooManyPages(f"too many pages ({n} > {max_pages})")
    result = Extracted(kind="pdf")
    try:
        meta_title = (reader.metadata.title or "") if reader.metadata else ""
    except MemoryError:  # over the child's limit: never an empty page
        raise
    except Exception:
        meta_title = ""
    result.title = clean_display(str(meta_title))[:300]
    raw: list[list[Line]] = []
    for i, page in enumerate(reader.pages):
        try:
            raw.append(_page_lines(page))
        except MemoryError:  # over the child's limit: never an empty page
            raise
        except Exception as e:  # one broken page must not lose the others
            result.warnings.append(f"page {i + 1}: text could not be read ({type(e).__name__})")
            raw.append([])
    whole = "\n".join(ln.text for lines in raw for ln in lines)
    if not reversal_guard(whole):
        result.warnings.append("text layer is in visual order; re-extracted with pdfplumber")
        try:
            raw = _plumber_pages(path)
        except MemoryError:  # over the child's limit: never an empty page
            raise
        except Exception as e:
            result.warnings.append(f"fallback extractor failed ({type(e).__name__})")
    body = blk.document_body_size(raw)
    headings = blk.document_heading_sizes(raw, body)
    for i, lines in enumerate(raw):
        result.pages.append(Page(number=i + 1,
                                 text=clean_display("\n".join(ln.text for ln in lines)),
                                 blocks=blk.from_lines(lines, body, headings)))
    return result


def page_has_images(path: str, page_number: int) -> bool:
    from pypdf import PdfReader

    try:
        page = PdfReader(path).pages[page_number - 1]
        return bool(page.images)
    except MemoryError:  # over the child's limit: never an empty page
        raise
    except Exception:
        return True
