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
from .audience import Visible
from .auth import Principal
from .documents import get_visible
from .errors import N_, BadRequest
from .events import profile_texts, profile_vectors, stored_profile_vectors, workshop_dict
from .library import Library
from .summaries import document_summary, visible_documents
from .text import highlight, stem_terms
from .topics import TopicVectors, softmax


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
        visible = visible_documents(conn, who, sets=lib.visible_sets)
    if not any(d != doc_id for d in visible):
        return []
    vi = lib.vectors
    # the caller's whole allow-list (made once per visible set), the
    # document's own passages asked for on top and left out below
    own = set(visible.chunks(vi, [doc_id]).ids.tolist())
    scores, ids = vi.search(_document_vector(lib, doc_id), 200 + len(own), visible.chunks(vi))
    keep = np.array([int(c) not in own for c in ids], bool)
    scores, ids = scores[keep][:200], ids[keep][:200]
    rows = _chunk_rows(lib, [int(i) for i in ids])
    best: dict[int, tuple[float, Any]] = {}
    for s, cid in zip(scores, ids, strict=True):
        r = rows.get(int(cid))
        if r is not None and r.document_id in visible and r.document_id not in best:
            best[r.document_id] = (float(s), r)
    ranked = sorted(best.items(), key=lambda x: -x[1][0])[:k]
    return [{"document": document_summary(visible[d]), "score": round(s, 4),
             "passage": {"text": r.text, "page": r.page_start}} for d, (s, r) in ranked]


def _display_text(texts: list[str], i: int) -> str:
    """The fullest text of the language of profile text i (the description
    when there is one)."""
    chosen = texts[i]
    for t in texts:
        if t.startswith(chosen) and len(t) > len(chosen):
            return t
    return chosen


# profile vectors computed for workshops that had none stored (created
# since the service started), by model and texts: kept in this process,
# never written by a read
_computed: dict[tuple[str, int, tuple[str, ...]], np.ndarray] = {}
_COMPUTED_MAX = 10_000


def _workshop_vectors(lib: Library) -> list[tuple[Any, np.ndarray, list[str]]]:
    """Each workshop with its profile vectors (title and description per
    language): those stored (``events.embed_workshops``), else computed
    here once per process.  A read never writes them."""
    w, e = store.workshops, store.events
    with lib.db.connect() as conn:
        rows = conn.execute(select(w, e.c.slug).join(e, e.c.id == w.c.event_id)
                            .order_by(w.c.id)).all()
    out = []
    for r in rows:
        texts = profile_texts(r)
        vecs = stored_profile_vectors(r, lib.embedder.dim)
        if vecs is None:
            key = (lib.embedder.id, lib.embedder.dim, tuple(texts))
            vecs = _computed.get(key)
            if vecs is None:
                if len(_computed) >= _COMPUTED_MAX:
                    _computed.clear()
                vecs = _computed[key] = profile_vectors(r, lib.embedder)
        out.append((r, vecs, texts))
    return out


def related_workshops(lib: Library, who: Principal, query: str | None = None,
                      doc_id: int | None = None, k: int = 5) -> list[dict[str, Any]]:
    """Workshops that fit a practitioner's problem (or a document), with the
    reason: the matching passages of their visible documents, or their own
    description, and the topic of the thesaurus they share with the question.

    A workshop's score is the chance that it is the one asked for, a mixture
    (``related.topic_weight``) of two probabilities over the workshops: that
    it shares the question's topic in the thesaurus (``topics.py``), and a
    softmax of its own evidence (its best title/description cosine, or its
    best visible passage's).  A question that nothing (no workshop, passage
    or sentence of the thesaurus) comes as close to as ``related.floor`` has
    no close match: no results."""
    qv, terms = _question(lib, who, query, doc_id)
    workshops = _workshop_vectors(lib)
    if not workshops:
        return []
    with lib.db.connect() as conn:
        visible = visible_documents(conn, who, sets=lib.visible_sets)
    evidence = _document_evidence(lib, qv, visible, doc_id)
    own = [(vecs @ qv) if len(vecs) else np.zeros(0) for _, vecs, _ in workshops]
    own_best = np.array([float(o.max()) if len(o) else -1.0 for o in own])
    doc_best = np.array([evidence[r.id][0][0] if evidence.get(r.id) else -1.0
                         for r, _, _ in workshops])
    scored = _workshop_scores(lib, qv, workshops, np.maximum(own_best, doc_best))
    if scored is None:
        return []
    score, shared = scored
    topics = lib.topics
    results: list[dict[str, Any]] = []
    for i, (row, _, texts) in enumerate(workshops):
        reason = [{"text": r.text, "page": r.page_start, "score": round(s, 4),
                   "document": document_summary(visible[r.document_id]),
                   "highlighted": highlight(r.text, terms)}
                  for s, r in evidence.get(row.id, [])[:2]]
        if len(own[i]) and (not reason or own_best[i] >= doc_best[i]):
            shown = _display_text(texts, int(np.argmax(own[i])))
            reason.insert(0, {"text": shown, "page": None, "document": None,
                              "score": round(float(own_best[i]), 4),
                              "highlighted": highlight(shown, terms)})
        topic = None
        if shared is not None and topics is not None and shared[i].max() > 0:
            j = int(np.argmax(shared[i]))
            topic = {**topics.describe(j), "situation": topics.closest_situation(qv, j)}
        results.append({"workshop": workshop_dict(row, row.slug),
                        "score": round(float(score[i]), 4), "reason": reason[:2],
                        "topic": topic})
    results.sort(key=lambda x: -x["score"])
    return results[:k]


def _question(lib: Library, who: Principal, query: str | None, doc_id: int | None
              ) -> tuple[np.ndarray, set[str]]:
    """The vector asked with (the question's, or the visible document's)
    and the stems its reasons' highlights mark (none for a document)."""
    if (query is None or not query.strip()) and doc_id is None:
        raise BadRequest(N_("give a question (q) or a document"))
    if doc_id is not None:
        get_visible(lib, who, doc_id)
        return _document_vector(lib, doc_id), set()
    assert query is not None
    if len(query) > validate.MAX_QUERY_CHARS:
        raise BadRequest(N_("the question (q) is longer than %(max)s characters"),
                         max=validate.MAX_QUERY_CHARS)
    return lib.embedder.embed_queries([query])[0], set(stem_terms(query))


def _workshop_scores(lib: Library, qv: np.ndarray, workshops: list[Any], direct: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Each workshop's score (see ``related_workshops``) and, with a
    thesaurus, the topics it shares with the question (workshops x topics);
    None when nothing comes as close to the question as ``related.floor``."""
    cfg = lib.config.related
    topics = lib.topics
    shared: np.ndarray | None = None
    closest = float(direct.max())
    if topics is not None and len(topics):
        q_topics = topics.distribution(qv, 3, cfg.topic_temperature)[0]
        closest = max(closest, float(topics.affinity(qv, 1).max()))
        w_topics = np.stack([topics.memo(
            (int(r.id), vecs.tobytes()),
            lambda vecs=vecs: _workshop_topics(topics, vecs, cfg.topic_temperature))
            for r, vecs, _ in workshops])
        shared = w_topics * q_topics[None, :]
        p_topic = shared.sum(axis=1)
        p_topic = p_topic / p_topic.sum() if p_topic.sum() > 0 else p_topic
        p_own = softmax(direct[None, :], cfg.title_temperature)[0]
        score = cfg.topic_weight * p_topic + (1 - cfg.topic_weight) * p_own
    else:
        score = softmax(direct[None, :], cfg.title_temperature)[0]
    if topics is not None and closest < cfg.floor:
        return None
    return score, shared


def _workshop_topics(topics: TopicVectors, vecs: np.ndarray, temperature: float
                     ) -> np.ndarray:
    """A workshop's probability over the thesaurus's topics, from its closest
    profile text (title or description); zero for a workshop without one."""
    if not len(vecs):
        return np.zeros(len(topics))
    return softmax(topics.affinity(vecs, 2).max(axis=0)[None, :], temperature)[0]


def _document_evidence(lib: Library, qv: np.ndarray, visible: Visible,
                       doc_id: int | None) -> dict[int, list[tuple[float, Any]]]:
    """Per workshop, its visible documents' passages closest to ``qv`` (one
    filtered search over the visible documents of workshops, with the
    set's allow-list of them, made once), best first; ``doc_id``'s own
    passages left out."""
    docs = visible.in_workshops()
    evidence: dict[int, list[tuple[float, Any]]] = {}
    if not docs or docs == [doc_id]:
        return evidence
    vi = lib.vectors
    # the document's own passages take no place among the 100
    own = visible.chunks(vi, [doc_id]).size if doc_id is not None and doc_id in visible \
        and visible[doc_id].workshop_id else 0
    scores, ids = vi.search(qv, 100 + own, visible.chunks(vi, docs, name="workshops"))
    rows = _chunk_rows(lib, [int(i) for i in ids])
    for s, cid in zip(scores, ids, strict=True):
        r = rows.get(int(cid))
        if r is None or r.document_id not in visible or r.document_id == doc_id:
            continue
        evidence.setdefault(visible[r.document_id].workshop_id, []).append((float(s), r))
    return evidence
