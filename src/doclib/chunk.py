"""Pages -> chunks with provenance.  Pure: no I/O.

A chunk never crosses a page (or slide) boundary, so every passage links to
one page.  Chunks are built from whole sentences up to ``max_words``; a
sentence longer than that is cut at word boundaries.  The last sentence of a
chunk is repeated at the start of the next (``overlap_sentences``) so an answer
that straddles two chunks is whole in one of them.  A short tail is merged
into the chunk before it.  A slide's speaker notes, when asked for, are
chunked apart from its text (never mixed into one passage).
"""

from __future__ import annotations

from .config import ChunkConfig
from .models import ChunkDraft, Page
from .text import detect_language, sentences


def _units(text: str, max_words: int) -> list[str]:
    """Sentences of a page, paragraph by paragraph, none longer than max_words."""
    out: list[str] = []
    for para in text.split("\n"):
        for sent in sentences(para):
            words = sent.split()
            while len(words) > max_words:
                out.append(" ".join(words[:max_words]))
                words = words[max_words:]
            if words:
                out.append(" ".join(words))
    return out


def chunk_page(page: Page, cfg: ChunkConfig) -> list[list[str]]:
    units = _units(page.text, cfg.max_words)
    groups: list[list[str]] = []
    current: list[str] = []
    count = 0
    fresh = 0  # sentences in current that are not overlap
    for unit in units:
        n = len(unit.split())
        if current and count + n > cfg.max_words and fresh:
            groups.append(current)
            keep = current[-cfg.overlap_sentences:] if cfg.overlap_sentences else []
            keep = [u for u in keep if len(u.split()) + n <= cfg.max_words]
            current, count, fresh = list(keep), sum(len(u.split()) for u in keep), 0
        current.append(unit)
        count += n
        fresh += 1
    if current and fresh:
        tail_words = sum(len(u.split()) for u in current[-fresh:])
        if groups and tail_words < cfg.min_words:
            groups[-1].extend(current[-fresh:])
        else:
            groups.append(current)
    return groups


def chunk_pages(pages: list[Page], cfg: ChunkConfig, notes: bool = False) -> list[ChunkDraft]:
    """Chunks of every page, in order.  With ``notes``, a page's speaker notes
    (``Page.notes``) become chunks of their own after the page's text
    (``source = "notes"``, same page number), chunked the same way."""
    drafts: list[ChunkDraft] = []
    for page in pages:
        parts = [page]
        if notes and page.notes.strip():
            parts.append(Page(number=page.number, text=page.notes, source="notes"))
        for part in parts:
            for group in chunk_page(part, cfg):
                text = " ".join(group).strip()
                if not text:
                    continue
                drafts.append(ChunkDraft(
                    ordinal=len(drafts),
                    page_start=part.number,
                    page_end=part.number,
                    text=text,
                    language=detect_language(text),
                    source=part.source,
                ))
    return drafts
