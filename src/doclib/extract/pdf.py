"""PDF text: pypdf with line-segment reordering for Arabic, a guard, a fallback.

pypdf's plain ``extract_text`` concatenates a line's text segments left to
right; LibreOffice starts a new segment wherever glyph positioning changes,
so right-to-left lines come out scrambled (EXTRACTION.md, failure mode 1).
We collect every segment with its position, rebuild lines, and order the
segments of right-to-left lines by descending x.  If the result still looks
visually ordered (the reversal guard), the page set is re-extracted from the
character stream with pdfplumber, converting visual to logical order.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ExtractError
from ..models import Extracted, Page
from ..text import clean_display, reversal_guard, script_counts

_LINE_TOLERANCE = 3.2
_ARABIC_CHAR = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


def _segments_to_text(segments: list[tuple[float, float, str]]) -> str:
    """Group positioned segments into lines and order each line by direction."""
    lines: list[list[tuple[float, float, str]]] = []
    for seg in segments:
        x, y, text = seg
        if lines and abs(lines[-1][0][1] - y) < _LINE_TOLERANCE:
            lines[-1].append(seg)
        else:
            lines.append([seg])
    out_lines = []
    for line in lines:
        joined = "".join(s[2] for s in line)
        ar, la = script_counts(clean_display(joined))
        if ar > la:
            # stable sort keeps pypdf's order for segments at the same x
            ordered = sorted(line, key=lambda s: -s[0])
        else:
            ordered = sorted(line, key=lambda s: s[0])
        out_lines.append("".join(s[2] for s in ordered).strip())
    return "\n".join(out_lines)


def _page_text_reordered(page: Any) -> str:
    segments: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], _fd: Any, _fs: Any) -> None:
        if not text or text == "\n":
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        segments.append((x, y, text))

    page.extract_text(visitor_text=visit)
    return _segments_to_text(segments)


def _reverse_visual_line(line: str) -> str:
    """Visual -> logical order for a right-to-left line without python-bidi:
    reverse the line, then restore runs of Latin letters and digits."""
    rev = line[::-1]
    return re.sub(r"[A-Za-z0-9\u00c0-\u024f][A-Za-z0-9\u00c0-\u024f.,:%/\-' ]*"
                  r"[A-Za-z0-9\u00c0-\u024f]|[A-Za-z0-9]",
                  lambda m: m.group(0)[::-1], rev)


def _plumber_pages(path: str) -> list[str]:
    """Fallback: visual-order characters from pdfplumber, turned logical."""
    import pdfplumber

    texts = []
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
            lines: dict[int, list[dict[str, Any]]] = {}
            for c in chars:
                lines.setdefault(round(c["top"] / 3), []).append(c)
            out = []
            for key in sorted(lines):
                row = sorted(lines[key], key=lambda c: c["x0"])
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
                out.append(_reverse_visual_line(buf) if ar > la else buf)
            texts.append("\n".join(out))
    return texts


def extract_pdf(path: str, max_pages: int) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(path)
    except PdfReadError as e:
        raise ExtractError(f"not a readable PDF: {e}") from None
    if reader.is_encrypted:
        try:
            # an empty user password is common ("owner-password only" PDFs)
            opened = bool(reader.decrypt(""))
        except (FileNotDecryptedError, NotImplementedError, PdfReadError, ValueError):
            opened = False
        if not opened:
            raise ExtractError("encrypted")
    n = len(reader.pages)
    if n > max_pages:
        raise ExtractError(f"too many pages ({n} > {max_pages})")
    result = Extracted(kind="pdf")
    try:
        meta_title = (reader.metadata.title or "") if reader.metadata else ""
    except Exception:
        meta_title = ""
    result.title = clean_display(str(meta_title))[:300]
    raw: list[str] = []
    for i, page in enumerate(reader.pages):
        try:
            raw.append(_page_text_reordered(page))
        except Exception as e:  # one broken page must not lose the others
            result.warnings.append(f"page {i + 1}: text could not be read ({type(e).__name__})")
            raw.append("")
    whole = "\n".join(raw)
    if not reversal_guard(whole):
        result.warnings.append("text layer is in visual order; re-extracted with pdfplumber")
        try:
            raw = _plumber_pages(path)
        except Exception as e:
            result.warnings.append(f"fallback extractor failed ({type(e).__name__})")
    for i, t in enumerate(raw):
        result.pages.append(Page(number=i + 1, text=clean_display(t)))
    return result


def page_has_images(path: str, page_number: int) -> bool:
    from pypdf import PdfReader

    try:
        page = PdfReader(path).pages[page_number - 1]
        return bool(page.images)
    except Exception:
        return True
