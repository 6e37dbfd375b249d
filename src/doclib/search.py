"""The read path: query, analysed once (``Query``: language, lexical
terms, highlight stems, vectors) -> visible set -> dense + lexical legs
(both restricted to the visible chunks before top-k) and the echo ->
fusion -> documents with their best passages, highlights and facets.

``search`` returns the one data dict that the API serialises and the HTML
page renders.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select

from . import store, validate
from .audience import Visible
from .auth import Principal
from .errors import N_, BadRequest
from .index import lexical
from .library import Library
from .models import LANGUAGES
from .rank import ChunkScore, Hit, fuse, fuse_mixture, group_by_document, merge_echoes
from .summaries import Filters, document_summary, visible_documents
from .text import (
    NAME_SURE_CONSONANTS,
    arabic_name_keys,
    detect_language,
    highlight,
    latin_name_keys,
    lexical_terms,
    name_stems,
    normalise,
    question_names,
    snippet,
    stem_terms,
)

MAX_QUERY_CHARS = validate.MAX_QUERY_CHARS
MAX_K = validate.MAX_K


# ------------------------------------------------------------------ search
@dataclass(frozen=True)
class Query:
    """A query analysed once: its text, language, distinct lexical terms
    (the lexical leg and its bounds), the stems its passages' highlights
    mark, its vector and (when the second model reads its language and the
    strategy uses it) the second model's vector; its names, each as the
    skeletons that write it (``text.question_names``)."""
    text: str
    language: str
    terms: tuple[str, ...]
    stems: frozenset[str]
    vector: np.ndarray
    second: np.ndarray | None = None
    names: tuple[frozenset[str], ...] = ()


def analyse(lib: Library, text: str, strategy: str | None = None,
            language: str | None = None) -> Query:
    """Analyse a query (``language``, if known already, is not detected
    again); ``strategy`` "rrf" needs no second-model vector."""
    language = language or detect_language(text)
    return Query(text=text, language=language,
                 terms=tuple(dict.fromkeys(lexical_terms(text))),
                 stems=frozenset(stem_terms(text)),
                 vector=lib.embedder.embed_queries([text])[0],
                 second=_second_query(lib, text, language) if strategy != "rrf" else None,
                 names=question_names(text, language))


@dataclass
class Candidates:
    """Both legs' candidates for a query over the caller's visible documents
    (with filters): the input of every fusion strategy."""
    visible: Visible
    dense: list[tuple[int, float]]
    lexical: list[tuple[int, float]]
    owner: dict[int, int]
    second: dict[int, float]
    known_bound: float = 0.0
    full_bound: float = 0.0


def candidates(lib: Library, who: Principal, q: Query, filters: Filters, n: int
               ) -> Candidates:
    """Both legs, each restricted to the visible chunks before its top-n."""
    audience = who.audience
    with lib.db.connect() as conn:
        visible = visible_documents(conn, who, filters, sets=lib.visible_sets)
        if not visible:
            return Candidates(visible, [], [], {}, {})
        # lexical leg: the visibility condition is inside the FTS query
        cond, params = audience.sql()
        fsql, fparams = filters.sql()
        table = audience.lexical_table
        stats = lexical.query_stats(conn, q.text, table, terms=q.terms,
                                    common=lib.config.search.lexical_common_share)
        # without filters, the condition drops only the chunks of documents
        # that are not ready: the best matches are tried first
        lex = lexical.search(conn, q.text, n, cond + fsql, {**params, **fparams}, table,
                             terms=stats.matched, prefix=0 if fsql else 2 * n)
        known, full = stats.known, stats.full
    # dense leg: FAISS with an allow-list bitmap of visible chunk ids
    vi = lib.vectors
    scores, ids = vi.search(q.vector, n, visible.chunks(vi))
    dense = [(int(c), float(s)) for c, s in zip(ids, scores, strict=True)]
    owner, second = _candidates(lib, [c for c, _ in dense] + [c for c, _ in lex], q.second)
    # belt and braces: anything whose owner is not visible is dropped
    dense = [(c, s) for c, s in dense if owner.get(c) in visible]
    lex = [(c, s) for c, s in lex if owner.get(c) in visible]
    second = {c: s for c, s in second.items() if owner.get(c) in visible}
    return Candidates(visible, dense, lex, owner, second, known, full)


def _ranked(lib: Library, who: Principal, q: Query, filters: Filters, n: int, strategy: str,
            evidence: dict[str, float] | None = None
            ) -> tuple[list[Hit], Visible]:
    """Ranked (document id, score, best passages) by ``strategy``; fills
    ``evidence`` (if given) with the query's best dense cosine and best
    lexical coverage over the candidates."""
    cfg = lib.config.search
    cand = candidates(lib, who, q, filters, n)
    if evidence is not None:
        evidence["dense"] = max((s for _, s in cand.dense), default=0.0)
        evidence["coverage"] = max((s for _, s in cand.lexical), default=0.0) / \
            cand.full_bound if cand.full_bound else 0.0
    if not cand.visible:
        return [], cand.visible
    if strategy == "mixture":
        qlang = q.language
        doc_lang = cand.visible.languages()
        bias = {"en": cfg.language_bias_en, "ar": cfg.language_bias_ar}.get(qlang, 0.0)
        calibrated = {c.chunk_id: c.score for c in calibrated_sum(cfg, cand)}
        weight = cfg.name_weight
        names = _names_held(lib, q, cand, doc_lang) if weight > 0 else None
        return fuse_mixture(cand.dense, cand.lexical, cand.owner, doc_lang, qlang,
                            cand.full_bound, cand.known_bound, cfg.passages_per_document,
                            bias=bias, second=cand.second, calibrated=calibrated,
                            names=names, name_weight=weight), cand.visible
    fused = calibrated_sum(cfg, cand) if strategy == "calibrated" else \
        fuse(cand.dense, cand.lexical, cand.owner, strategy, cfg.rrf_k)
    return group_by_document(fused, cfg.passages_per_document), cand.visible


def _names_held(lib: Library, q: Query, cand: Candidates, doc_lang: dict[int, str]
                ) -> dict[int, float] | None:
    """Per candidate document in the other script, the share of the query's
    names (``text.question_names``) its candidate passages hold: an English
    query's in Arabic letters, an Arabic query's among an English passage's
    capitalised words."""
    if not q.names:
        return None
    script, keys_of = ("ar", arabic_name_keys) if q.language == "en" else \
        ("en", latin_name_keys)
    # a shorter skeleton (Zarqa's SRK) also meets common words (شارك): half weight
    words = [(keys, 1.0 if min(map(len, keys)) >= NAME_SURE_CONSONANTS else 0.5)
             for keys in q.names]
    ids = {c for c, _ in [*cand.dense, *cand.lexical] if doc_lang.get(cand.owner[c]) == script}
    if not ids:
        return None
    c = store.chunks
    held: dict[int, set[str]] = {}
    with lib.db.connect() as conn:
        # candidates only: chunks of the caller's visible documents
        for doc, body in conn.execute(select(c.c.document_id, c.c.text)
                                      .where(c.c.id.in_(ids))):
            held.setdefault(int(doc), set()).update(keys_of(body))
    total = sum(w for _, w in words)
    shares = {d: sum(w for keys, w in words if keys & found) / total
              for d, found in held.items()}
    return {d: v for d, v in shares.items() if v > 0}


def calibrated_sum(cfg: Any, cand: Candidates) -> list[ChunkScore]:
    """The calibrated sum's chunk scores (``rank.fuse``) of the candidates."""
    return fuse(cand.dense, cand.lexical, cand.owner, "calibrated", cfg.rrf_k,
                cfg.lexical_weight,
                lexical_bound=cand.known_bound if cfg.lexical_coverage > 0 else 0.0,
                coverage_floor=cfg.lexical_coverage, second=cand.second,
                second_weight=cfg.second_weight)


def _second_query(lib: Library, query: str, language: str | None = None) -> np.ndarray | None:
    """The query's vector by the second model, when it reads the query's
    language (``language``: detected if not given)."""
    if lib.config.search.second_weight <= 0 or \
            (language or detect_language(query)) not in lib.config.embed.second_language_list:
        return None
    second = lib.second_ready()
    return None if second is None else second.embed_queries([query])[0]


def _candidates(lib: Library, chunk_ids: list[int], second_q: np.ndarray | None
                ) -> tuple[dict[int, int], dict[int, float]]:
    """Owners (chunk id -> document id) of the candidate chunks and, with a
    second-model query vector, the candidates' cosines with it (chunks in
    the model's languages).  If one of those lacks a vector of the
    configured second model (a library being filled after an upgrade or a
    change of model), the re-scoring is skipped for this query: an
    incomplete set of vectors would favour the chunks without one."""
    if not chunk_ids:
        return {}, {}
    c = store.chunks
    cols = [c.c.id, c.c.document_id]
    if second_q is not None:
        cols += [c.c.language, c.c.embedding2, c.c.embedding2_model]
    with lib.db.connect() as conn:
        rows = conn.execute(select(*cols).where(c.c.id.in_(set(chunk_ids)))).all()
    owner = {int(r[0]): int(r[1]) for r in rows}
    if second_q is None:
        return owner, {}
    langs, sid = lib.config.embed.second_language_list, lib.second_id
    dim = second_q.shape[0]
    second: dict[int, float] = {}
    for r in rows:
        if r.language not in langs:
            continue
        if r.embedding2_model != sid or r.embedding2 is None or len(r.embedding2) != dim * 4:
            return owner, {}
        second[int(r.id)] = float(np.frombuffer(r.embedding2, np.float32) @ second_q)
    return owner, second


def retrieve(lib: Library, who: Principal, q: Query | str, filters: Filters,
             candidates: int | None = None, strategy: str | None = None,
             evidence: dict[str, float] | None = None,
             ) -> tuple[list[Hit], Visible]:
    """Ranked (document id, score, best chunk scores) over the visible set
    (``evidence``: see ``_ranked``)."""
    cfg = lib.config.search
    n = candidates or cfg.candidates
    strategy = strategy or cfg.fusion
    if isinstance(q, str):
        q = analyse(lib, q, strategy)
    qlang = q.language
    wanted = filters.language
    if strategy == "mixture" and wanted is not None:
        # a language filter keeps the documents of that language from the
        # ranking of all languages: the mixture's probabilities (and the
        # echoes from the query's language) are only comparable there
        filters = replace(filters, language=None)
    ranked, visible = _ranked(lib, who, q, filters, n, strategy, evidence)
    if cfg.echo_weight > 0 and qlang in LANGUAGES and filters.language != qlang and visible:
        ranked = _echo(lib, who, q, filters, ranked, visible, n, strategy)
    if filters.language != wanted:
        visible = Visible(visible.audience, (
            (d, row) for d, row in visible.items()
            if wanted in (row.languages or row.language or "").split(",")))
        ranked = _renormalised([r for r in ranked if r[0] in visible])
    return ranked, visible


def _renormalised(ranked: list[Hit]
                  ) -> list[Hit]:
    """Probabilities over a subset of the candidates (a language filter's),
    scaled to sum to one there: the chance of each being the answer, given
    that the answer is among them."""
    total = sum(score for _, score, _ in ranked)
    if total <= 0:
        return ranked
    out = []
    for doc, score, chunks in ranked:
        out.append(Hit(doc, score / total, [replace(c, score=c.score / total) for c in chunks]))
    return out


def _echo_scores(lib: Library, feedback: list[Hit],
                 targets: list[int], visible: Visible, weight: float,
                 strategy: str, target_name: str | None = None) -> dict[int, ChunkScore]:
    """For each target document, the best (feedback score x similarity x
    weight) between a feedback document's best passage and the target's
    passages, found with the passage vector as the query (FAISS, restricted
    to the targets' chunks).  With the mixture, whose scores are
    probabilities, the similarity is read as the chance that the passage
    says the same: none up to ``echo_min_similarity``, all from
    ``echo_full_similarity`` (a translation), linear between."""
    cfg = lib.config.search
    lo, hi = cfg.echo_min_similarity, cfg.echo_full_similarity
    vi = lib.vectors
    allowed = visible.chunks(vi, targets, name=target_name)
    echoes: dict[int, ChunkScore] = {}
    if allowed.size == 0:
        return echoes
    sources = []
    for _doc, score, chunk_scores in feedback[: cfg.echo_documents]:
        v = vi.vector(chunk_scores[0].chunk_id)
        if v is not None:
            sources.append((score, v))
    if not sources:
        return echoes
    # one pass over the index for every feedback passage
    all_sims, all_ids = vi.search_many(np.stack([v for _, v in sources]), cfg.echo_candidates,
                                       allowed)
    for (score, _v), sims, ids in zip(sources, all_sims, all_ids, strict=True):
        owner = vi.owners(ids)
        for sim, cid in zip(sims, ids, strict=True):
            d = owner.get(int(cid))
            if d is None or d not in visible:
                continue
            same = float(sim) if strategy != "mixture" else \
                min(1.0, max(0.0, (float(sim) - lo) / max(hi - lo, 1e-6)))
            e = score * weight * same
            if d not in echoes or e > echoes[d].score:
                echoes[d] = ChunkScore(int(cid), d, e, float(sim), None)
    return echoes


def _echo(lib: Library, who: Principal, q: Query, filters: Filters,
          ranked: list[Hit], visible: Visible, n: int,
          strategy: str) -> list[Hit]:
    """Cross-language echo: the best passages of the best documents in the
    query's language (found with both legs) look for their counterparts in
    the other language, which inherit their score times the similarity.

    The feedback documents come from the caller's visible set only (the same
    filters, with the language set to the query's)."""
    cfg = lib.config.search
    qlang = q.language
    others = visible.not_in(qlang)
    if not others:
        return ranked
    if filters.language is None:
        feedback = [r for r in ranked if visible[r[0]].language == qlang]
    else:
        fb_ranked, fb_visible = _ranked(lib, who, q, replace(filters, language=qlang), n,
                                        strategy)
        feedback = [r for r in fb_ranked if fb_visible[r[0]].language == qlang]
    # the targets are the visible documents not in the query's language: the
    # same list while the visible set holds, named so it is made once
    echoes = _echo_scores(lib, feedback, others, visible, cfg.echo_weight, strategy,
                          target_name=f"language!={qlang}")
    return merge_echoes(ranked, echoes, cfg.passages_per_document)


def _chunk_rows(lib: Library, chunk_ids: list[int]) -> dict[int, Any]:
    """The shown chunks of a result page, in one query."""
    c = store.chunks
    with lib.db.connect() as conn:
        return {r.id: r for r in conn.execute(select(c.c.id, c.c.text, c.c.page_start,
                                                     c.c.page_end, c.c.language, c.c.source)
                                              .where(c.c.id.in_(chunk_ids)))}


def _passages(rows: dict[int, Any], chunk_scores: list[Any], terms: set[str],
              size: int, names: frozenset[str] = frozenset(),
              query_language: str | None = None) -> list[dict[str, Any]]:
    """The shown passages, their highlights and snippets marking ``terms``
    (and, in a passage in the other language, the words that write one of
    the query's ``names``: the skeletons of ``text.question_names``)."""
    out = []
    for cs in chunk_scores:
        r = rows.get(cs.chunk_id)
        if r is None:
            continue
        marked = terms
        if names and r.language != query_language:
            marked = terms | name_stems(r.text, r.language, names)
        out.append({"text": r.text, "page": r.page_start, "page_end": r.page_end,
                    "language": r.language, "ocr": r.source == "ocr",
                    "highlighted": highlight(r.text, marked),
                    "snippet": highlight(snippet(r.text, marked, size), marked),
                    "score": round(cs.score, 4)})
    return out


def facets(rows: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Counts per filter value over the documents of a result (all visible)."""
    lang: Counter[str] = Counter()
    typ: Counter[str] = Counter()
    event: Counter[str] = Counter()
    event_titles: dict[str, dict[str, str]] = {}
    year: Counter[int] = Counter()
    workshop: Counter[tuple[int, int, str, str, str]] = Counter()
    for r in rows:
        for x in (r.languages or r.language or "").split(","):
            if x:
                lang[x] += 1
        typ[r.doc_type] += 1
        if r.event_slug:
            event[r.event_slug] += 1
            event_titles[r.event_slug] = {"en": r.event_title_en or "",
                                          "ar": r.event_title_ar or ""}
        if r.year:
            year[r.year] += 1
        if r.workshop_id:
            workshop[(r.workshop_id, r.workshop_number, r.workshop_title_en or "",
                      r.workshop_title_ar or "", r.event_slug or "")] += 1
    return {
        "language": [{"value": k, "count": v} for k, v in lang.most_common()],
        "type": [{"value": k, "count": v} for k, v in typ.most_common()],
        "event": [{"value": k, "title": event_titles[k], "count": v}
                  for k, v in event.most_common()],
        "year": [{"value": k, "count": v} for k, v in sorted(year.items(), reverse=True)],
        "workshop": [{"value": k[0], "number": k[1], "title": {"en": k[2], "ar": k[3]},
                      "event": k[4], "count": v} for k, v in workshop.most_common()],
    }


def search(lib: Library, who: Principal, query: str, k: int = 10, page: int = 1,
           filters: Filters | None = None, strategy: str | None = None) -> dict[str, Any]:
    """Search as ``who``.  Returns the API's search object."""
    filters = filters or Filters()
    query = (query or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(N_("the query is longer than %(max)s characters"), max=MAX_QUERY_CHARS)
    if not 1 <= k <= MAX_K:
        raise BadRequest(validate.BETWEEN, field="k", lo=1, hi=MAX_K)
    if not 1 <= page <= validate.MAX_PAGE:
        raise BadRequest(validate.BETWEEN, field="page", lo=1, hi=validate.MAX_PAGE)
    qlang = detect_language(query) if query else None
    base = {"ok": True, "query": query, "query_language": qlang,
            "filters": filters.as_dict(), "k": k, "page": page}
    if not normalise(query):
        return {**base, "total": 0, "results": [], "facets": facets([])}
    strategy = strategy or lib.config.search.fusion
    q = analyse(lib, query, strategy, language=qlang)
    evidence: dict[str, float] = {}
    ranked, visible = retrieve(lib, who, q, filters, strategy=strategy, evidence=evidence)
    matches, below = split_at_floor(lib.config.search, ranked, evidence, strategy, q.language)
    terms = set(q.stems)
    names = frozenset().union(*q.names) if lib.config.search.name_weight > 0 else frozenset()
    shown = matches[(page - 1) * k: page * k]
    # the documents under the floor, where the matches end (on their last page)
    near = below[:k] if len(shown) < k else []
    rows = _chunk_rows(lib, [cs.chunk_id for _, _, chunk_scores in shown + near
                             for cs in chunk_scores])
    size = lib.config.search.snippet_chars

    def result(doc_id: int, score: float, chunk_scores: list[Any]) -> dict[str, Any]:
        summary = document_summary(visible[doc_id])
        return {
            "document": summary,
            "score": round(score, 4),
            "other_language": bool(qlang in LANGUAGES and summary["language"] != qlang
                                   and qlang not in summary["languages"]),
            "passages": _passages(rows, chunk_scores, terms, size, names, qlang),
        }

    return {**base, "total": len(matches), "results": [result(*x) for x in shown],
            "close_match": bool(matches), "nearest": [result(*x) for x in near],
            "facets": facets([visible[d] for d, _, _ in matches])}


def split_at_floor(cfg: Any, ranked: list[Hit], evidence: dict[str, float], strategy: str,
                   language: str | None = None) -> tuple[list[Hit], list[Hit]]:
    """(matches, documents below the relevance floor).  A query none of
    whose candidates is as similar as ``floor_dense`` nor holds
    ``floor_coverage`` (an Arabic query: ``floor_coverage_ar``) of its
    lexical evidence has no close match; otherwise (with the mixture, whose
    scores are probabilities) the documents under ``floor_probability`` are
    not counted as matches."""
    coverage = cfg.floor_coverage_ar if language == "ar" else cfg.floor_coverage
    if evidence.get("dense", 0.0) < cfg.floor_dense and \
            evidence.get("coverage", 0.0) < coverage:
        return [], list(ranked)
    if strategy != "mixture" or cfg.floor_probability <= 0:
        return list(ranked), []
    cut = next((i for i, r in enumerate(ranked) if r[1] < cfg.floor_probability), len(ranked))
    return list(ranked[:cut]), list(ranked[cut:])
