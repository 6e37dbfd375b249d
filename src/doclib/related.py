"""Related documents and related workshops, across languages.

Both work in the multilingual embedding space, so an English question finds
a workshop that only has an Arabic title and the reverse.  Evidence from
documents is always restricted to the caller's visible set; a request seeded
with a hidden document is NotFound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from . import store, validate
from .auth import Principal
from .documents import get_visible
from .errors import BadRequest
from .events import workshop_dict
from .library import Library
from .search import document_summary, highlight, visible_documents
from .text import stem_terms


def _document_vector(lib: Library, doc_id: int) -> np.ndarray:
    c = store.chunks
    with lib.db.connect() as conn:
        blobs = [r[0] for r in conn.execute(select(c.c.embedding)
                                            .where(c.c.document_id == doc_id))]
    if not blobs:
        return np.zeros(lib.embedder.dim, np.float32)
    v = np.frombuffer(b"".join(blobs), np.float32).reshape(len(blobs), -1).mean(axis=0)
    n = np.linalg.norm(v)
    return (v / n if n else v).astype(np.float32)


def _chunk_rows(lib: Library, ids: list[int]) -> dict[int, Any]:
    c = store.chunks
    if not ids:
        return {}
    with lib.db.connect() as conn:
        return {r.id: r for r in conn.execute(
            select(c.c.id, c.c.document_id, c.c.text, c.c.page_start).where(c.c.id.in_(ids)))}


def related_documents(lib: Library, who: Principal, doc_id: int, k: int = 5
                      ) -> list[dict[str, Any]]:
    get_visible(lib, who, doc_id)
    with lib.db.connect() as conn:
        visible = visible_documents(conn, who)
    others = [d for d in visible if d != doc_id]
    if not others:
        return []
    vi = lib.vectors
    scores, ids = vi.search(_document_vector(lib, doc_id), 200, vi.allowed_chunks(others))
    rows = _chunk_rows(lib, [int(i) for i in ids])
    best: dict[int, tuple[float, Any]] = {}
    for s, cid in zip(scores, ids, strict=True):
        r = rows.get(int(cid))
        if r is not None and r.document_id in visible and r.document_id not in best:
            best[r.document_id] = (float(s), r)
    ranked = sorted(best.items(), key=lambda x: -x[1][0])[:k]
    return [{"document": document_summary(visible[d]), "score": round(s, 4),
             "passage": {"text": r.text, "page": r.page_start}} for d, (s, r) in ranked]


def _profile_texts(r: Any) -> list[str]:
    """Title alone and title with description, per language present."""
    out = []
    for title, desc in ((r.title_en, r.description_en), (r.title_ar, r.description_ar)):
        if title:
            out.append(title)
        if desc:
            out.append(f"{title}. {desc}" if title else desc)
    return out


def _display_text(texts: list[str], i: int) -> str:
    """The fullest text of the language of profile text i (the description
    when there is one)."""
    chosen = texts[i]
    for t in texts:
        if t.startswith(chosen) and len(t) > len(chosen):
            return t
    return chosen


def _workshop_vectors(lib: Library) -> list[tuple[Any, np.ndarray, list[str]]]:
    """Each workshop with its profile vectors (title and description per
    language), computed once and cached in the database."""
    w, e = store.workshops, store.events
    with lib.db.connect() as conn:
        rows = conn.execute(select(w, e.c.slug).join(e, e.c.id == w.c.event_id)
                            .order_by(w.c.id)).all()
    dim = lib.embedder.dim
    out = []
    for r in rows:
        texts = _profile_texts(r)
        vecs = None
        if r.embedding is not None and len(r.embedding) == len(texts) * dim * 4:
            vecs = np.frombuffer(r.embedding, np.float32).reshape(len(texts), dim)
        if vecs is None:
            vecs = lib.embedder.embed_passages(texts) if texts else np.zeros((0, dim), np.float32)
            with lib.db.begin() as conn:
                conn.execute(w.update().where(w.c.id == r.id)
                             .values(embedding=np.asarray(vecs, np.float32).tobytes()))
        out.append((r, vecs, texts))
    return out


def related_workshops(lib: Library, who: Principal, query: str | None = None,
                      doc_id: int | None = None, k: int = 5) -> list[dict[str, Any]]:
    """Workshops that fit a practitioner's problem (or a document), with the
    reason: the matching passages of their visible documents, or their own
    description."""
    if (query is None or not query.strip()) and doc_id is None:
        raise BadRequest("give a question (q) or a document")
    if doc_id is not None:
        get_visible(lib, who, doc_id)
        qv = _document_vector(lib, doc_id)
        terms: set[str] = set()
    else:
        assert query is not None
        if len(query) > validate.MAX_QUERY_CHARS:
            raise BadRequest(f"the question (q) is longer than {validate.MAX_QUERY_CHARS} "
                             "characters")
        qv = lib.embedder.embed_queries([query])[0]
        terms = set(stem_terms(query))
    workshops = _workshop_vectors(lib)
    if not workshops:
        return []
    with lib.db.connect() as conn:
        visible = visible_documents(conn, who)
    by_workshop: dict[int, list[int]] = {}
    for d, row in visible.items():
        if row.workshop_id and d != doc_id:
            by_workshop.setdefault(row.workshop_id, []).append(d)
    # document evidence: one filtered search over the visible documents of workshops
    evidence: dict[int, list[tuple[float, Any]]] = {}
    docs = [d for ds in by_workshop.values() for d in ds]
    if docs:
        vi = lib.vectors
        scores, ids = vi.search(qv, 100, vi.allowed_chunks(docs))
        rows = _chunk_rows(lib, [int(i) for i in ids])
        for s, cid in zip(scores, ids, strict=True):
            r = rows.get(int(cid))
            if r is None or r.document_id not in visible:
                continue
            wid = visible[r.document_id].workshop_id
            evidence.setdefault(wid, []).append((float(s), r))
    results = []
    for row, vecs, texts in workshops:
        own = (vecs @ qv) if len(vecs) else np.zeros(0)
        own_best = float(own.max()) if len(own) else 0.0
        ev = evidence.get(row.id, [])
        doc_best = ev[0][0] if ev else 0.0
        score = max(own_best, doc_best)
        reason = []
        for s, r in ev[:2]:
            reason.append({"text": r.text, "page": r.page_start, "score": round(s, 4),
                           "document": document_summary(visible[r.document_id]),
                           "highlighted": highlight(r.text, terms)})
        if not reason or own_best >= doc_best:
            i = int(np.argmax(own)) if len(own) else None
            if i is not None:
                shown = _display_text(texts, i)
                reason.insert(0, {"text": shown, "page": None, "document": None,
                                  "score": round(own_best, 4),
                                  "highlighted": highlight(shown, terms)})
        results.append({"workshop": workshop_dict(row, row.slug), "score": round(score, 4),
                        "reason": reason[:2]})
    results.sort(key=lambda x: -x["score"])
    return results[:k]
