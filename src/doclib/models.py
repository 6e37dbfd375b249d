"""Plain dataclasses that cross rooms (extraction -> chunking -> search -> web)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("visitor", "member", "curator", "admin")
DOC_TYPES = ("presentation", "report", "minutes", "other")
LANGUAGES = ("ar", "en")


@dataclass
class Page:
    """One extracted unit: a PDF page or a slide (number is 1-based).

    ``text`` is what is chunked and indexed; ``blocks`` is the page's
    structure for reading (``doclib.extract.blocks``: headings, paragraphs,
    list items, tables), the title and body only, never the notes."""

    number: int
    text: str
    source: str = "text"  # text | ocr
    title: str = ""  # slide title
    notes: str = ""  # speaker notes
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Extracted:
    kind: str  # sniffed type: pdf, docx, pptx, txt, md, html
    pages: list[Page] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    title: str = ""
    ocr_pages: int = 0
    unread_image_pages: int = 0  # image-only pages not read: no OCR here

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extracted:
        pages = [Page(**p) for p in data.pop("pages")]
        return cls(pages=pages, **data)


@dataclass
class ChunkDraft:
    """A chunk before it is stored."""

    ordinal: int
    page_start: int
    page_end: int
    text: str
    language: str
    source: str = "text"
