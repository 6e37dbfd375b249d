"""Fusion of the dense and lexical legs, and grouping by document.  Pure.

Three strategies (``mixture``, the default, is described with its code
below; it orders the query language's documents by ``calibrated``):
- ``rrf``: reciprocal-rank fusion of chunk ranks (k = 60), the reference.
- ``calibrated``: the dense cosine (comparable across languages) plus a
  lexical bonus, the BM25 score divided by the best BM25 score of the query
  (in [0, 1]) times ``lexical_weight``.  The bonus lifts the passages that
  contain the words asked for without letting lexical evidence, which only
  exists in the query's own language, outrank everything in the other one.
  When even the best lexical match holds little of the query's evidence
  (its BM25 over the query's bound, ``lexical.query_bound``, is under
  ``coverage_floor``), the bonus shrinks in proportion: a match on one or two
  common words of a long question is weak evidence, however it ranks.

With calibrated fusion, a second embedding model (``second``: chunk id -> its cosine with the query)
re-scores the chunks it has vectors for: each loses ``second_weight`` times
its distance to the best of them, so the best stays where it is and the
others fall; documents without such vectors (other languages) keep their
scores, and a language-agnostic ranking keeps its balance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass
class ChunkScore:
    chunk_id: int
    document_id: int
    score: float
    dense: float | None
    lexical: float | None


class Hit(NamedTuple):
    """One ranked document: its id, its score, its best passages (best
    first).  A tuple, so ``for doc, score, passages in ranked`` reads it."""
    document_id: int
    score: float
    passages: list[ChunkScore]


def fuse(dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]],
         owner: Mapping[int, int], strategy: str = "calibrated", rrf_k: int = 60,
         lexical_weight: float = 0.35, lexical_bound: float = 0.0,
         coverage_floor: float = 0.0, second: Mapping[int, float] | None = None,
         second_weight: float = 0.0) -> list[ChunkScore]:
    """Fused chunk scores, best first.  ``owner`` maps chunk id -> document id."""
    dmap = dict(dense)
    lmap = dict(lexical)
    ids = list(dict.fromkeys([c for c, _ in dense] + [c for c, _ in lexical]))
    out: list[ChunkScore] = []
    if strategy == "rrf":
        drank = {c: r for r, (c, _) in enumerate(dense)}
        lrank = {c: r for r, (c, _) in enumerate(lexical)}
        for c in ids:
            s = 0.0
            if c in drank:
                s += 1.0 / (rrf_k + drank[c] + 1)
            if c in lrank:
                s += 1.0 / (rrf_k + lrank[c] + 1)
            out.append(ChunkScore(c, owner[c], s, dmap.get(c), lmap.get(c)))
    elif strategy == "calibrated":
        lmax = max((s for _, s in lexical), default=0.0)
        weight = lexical_weight
        if coverage_floor > 0 and lexical_bound > 0 and lmax > 0:
            weight *= min(1.0, lmax / lexical_bound / coverage_floor)
        # a chunk found only lexically gets the weakest dense score seen
        dfloor = min((s for _, s in dense), default=0.0)
        for c in ids:
            d = dmap.get(c, dfloor)
            bonus = weight * (lmap[c] / lmax) if c in lmap and lmax > 0 else 0.0
            out.append(ChunkScore(c, owner[c], d + bonus, dmap.get(c), lmap.get(c)))
        if second and second_weight > 0:
            best = max(second.values())
            for cs in out:
                if cs.chunk_id in second:
                    cs.score -= second_weight * (best - second[cs.chunk_id])
    else:
        raise ValueError(f"unknown fusion strategy {strategy!r}")
    out.sort(key=lambda x: (-x.score, x.chunk_id))
    return out


def group_by_document(scored: Sequence[ChunkScore], passages: int
                      ) -> list[Hit]:
    """[(document id, document score, its best chunks)] best first; a
    document's score is that of its best chunk."""
    best: dict[int, list[ChunkScore]] = defaultdict(list)
    for cs in scored:
        if len(best[cs.document_id]) < passages:
            best[cs.document_id].append(cs)
    docs = [Hit(doc, chs[0].score, chs) for doc, chs in best.items()]
    docs.sort(key=lambda x: (-x[1], x[0]))
    return docs


def merge_echoes(ranked: Sequence[Hit],
                 echoes: Mapping[int, ChunkScore], passages: int
                 ) -> list[Hit]:
    """Raise each echoed document to its echo score when that is higher (the
    echoing passage then comes first); add echoed documents not yet ranked.
    An echo never passes a document of the same score that earned its own."""
    out = []
    seen = set()
    for doc, score, chunks in ranked:
        seen.add(doc)
        e = echoes.get(doc)
        if e is not None and e.score > score:
            rest = [c for c in chunks if c.chunk_id != e.chunk_id]
            out.append((doc, e.score, [e, *rest][:passages], 1))
        else:
            out.append((doc, score, list(chunks), 0))
    for doc, e in echoes.items():
        if doc not in seen:
            out.append((doc, e.score, [e], 1))
    out.sort(key=lambda x: (-x[1], x[3], x[0]))
    return [Hit(doc, score, chunks) for doc, score, chunks, _ in out]


# ------------------------------------------------------------ mixture fusion
# The lexical leg only sees the query's own language, so its evidence cannot
# be added to a score shared with the other language: a same-language
# document with a few common words then outranks the only answer, written in
# the other language (measured: cross-language MRR@10 0.38 with the
# calibrated sum, 0.72 with the dense leg alone).  The mixture ranks each
# language group on its own scale and weighs the two groups by the
# probability that the answer is in the query's language:
#
#   P(doc) = P(group of doc) * softmax over the group's documents (score)
#
# with a score per group (same language: dense cosine, lexical share of the
# best match, coverage of the query's evidence; other language: dense
# cosine, lexical share: names and numbers cross scripts) and P(same
# language) a logistic function of the query's evidence in its own language
# (best coverage, dense gap between the languages, best dense cosine, share
# of the query's terms the index knows).  Fitted by ``bench/fit_fusion.py``
# on the realistic pool (4-fold cross-validation by article; figures in the
# README); the scores are probabilities, so a document's score reads the
# same for every query.

@dataclass(frozen=True)
class Mixture:
    """Coefficients of the mixture fusion (``bench/fit_fusion.py`` fits them)."""
    # per query language: dense, lexical share, coverage, second model's
    # cosine below its best, the calibrated sum's score (the first entry
    # also serves other languages)
    same: tuple[tuple[str, tuple[float, float, float, float, float]], ...] = (
        ("en", (0.0, 0.0, 0.0, 0.0, 14.364)),     # --same-columns 4
        ("ar", (7.957, 8.113, 1.649, 0.0, 6.126)),  # --same-columns 0,1,2,3,4
    )
    other: tuple[float, float] = (35.391, 3.48)
    # per query language: intercept, coverage, dense gap, best dense, known share
    prior: tuple[tuple[str, tuple[float, float, float, float, float]], ...] = (
        ("en", (-5.129, 11.98, -10.011, 0.492, 0.363)),
        ("ar", (-7.493, 13.621, -8.208, -1.537, 5.174)),
    )
    coverage_ref: float = 0.3   # lexical share counts fully from this coverage up

    def prior_for(self, lang: str) -> tuple[float, ...] | None:
        return dict(self.prior).get(lang)

    def same_for(self, lang: str) -> tuple[float, ...]:
        return dict(self.same).get(lang, self.same[0][1])


@dataclass
class Evidence:
    """One candidate document's evidence for a query."""
    document_id: int
    same: bool                      # in the query's language
    dense: float                    # best passage cosine (the leg's floor if none)
    lexical: float                  # best passage BM25 (0: no match)
    chunks: list[ChunkScore]
    second: float | None = None     # best passage cosine by the second model
    calibrated: float = 0.0         # best passage score of the calibrated sum


def collect_evidence(dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]],
                     owner: Mapping[int, int], doc_language: Mapping[int, str],
                     query_language: str, second: Mapping[int, float] | None = None,
                     calibrated: Mapping[int, float] | None = None) -> list[Evidence]:
    """Per candidate document: its best dense cosine and BM25 (and second
    model's cosine, where it has vectors), its passages."""
    dmap, lmap = dict(dense), dict(lexical)
    dfloor = min(dmap.values(), default=0.0)
    docs: dict[int, Evidence] = {}
    for c in dict.fromkeys([c for c, _ in dense] + [c for c, _ in lexical]):
        d = owner[c]
        ev = docs.get(d)
        if ev is None:
            ev = docs[d] = Evidence(d, doc_language.get(d) == query_language, -2.0, 0.0, [])
        if c in dmap:
            ev.dense = max(ev.dense, dmap[c])
        ev.lexical = max(ev.lexical, lmap.get(c, 0.0))
        if second and c in second:
            ev.second = max(ev.second if ev.second is not None else -2.0, second[c])
        if calibrated and c in calibrated:
            ev.calibrated = calibrated[c] if not ev.chunks else max(ev.calibrated, calibrated[c])
        ev.chunks.append(ChunkScore(c, d, 0.0, dmap.get(c), lmap.get(c)))
    for ev in docs.values():
        if ev.dense == -2.0:
            ev.dense = dfloor
    return list(docs.values())


def mixture_features(evidence: Sequence[Evidence], full_bound: float, known_bound: float,
                     coverage_ref: float = 0.3):
    """(same-group features [n x 5], other-group features [n x 2], the
    prior's features [4], which rows are in the query's language) of a
    query's candidates; rows follow ``evidence``."""
    lmax = max((e.lexical for e in evidence), default=0.0) or 1.0
    fb = full_bound or 1.0
    qcov = lmax / fb
    lex = np.array([e.lexical for e in evidence], np.float64)
    den = np.array([e.dense for e in evidence], np.float64)
    same = np.array([e.same for e in evidence], bool)
    share = lex / lmax
    best2 = max((e.second for e in evidence if e.second is not None), default=0.0)
    sec = np.array([e.second - best2 if e.second is not None else 0.0 for e in evidence])
    cal = np.array([e.calibrated for e in evidence], np.float64)
    s_feats = np.stack([den, share * min(1.0, qcov / coverage_ref), lex / fb, sec, cal], axis=1)
    o_feats = np.stack([den, share], axis=1)
    ds = float(den[same].max()) if same.any() else 0.0
    do = float(den[~same].max()) if (~same).any() else 0.0
    cov1 = float((lex[same] / fb).max()) if same.any() else 0.0
    known = known_bound / full_bound if full_bound else 1.0
    return s_feats, o_feats, np.array([cov1, do - ds, ds, known]), same


def _log_softmax(x):
    if x.size == 0:
        return x
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


def mixture_log_probs(s_feats, o_feats, prior_feats, same, model: Mixture,
                      query_language: str, bias: float = 0.0):
    """log P(document) for each candidate (see the section's comment)."""
    ss = s_feats @ np.asarray(model.same_for(query_language))
    so = o_feats @ np.asarray(model.other)
    out = np.empty(len(same))
    coef = model.prior_for(query_language)
    if coef is None or same.all() or not same.any():
        # one group only (a language filter, an undetermined language)
        out[same] = _log_softmax(ss[same])
        out[~same] = _log_softmax(so[~same])
        return out
    logit = coef[0] + float(np.dot(coef[1:], prior_feats)) + bias
    out[same] = -np.logaddexp(0.0, -logit) + _log_softmax(ss[same])
    out[~same] = -np.logaddexp(0.0, logit) + _log_softmax(so[~same])
    return out


def fuse_mixture(dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]],
                 owner: Mapping[int, int], doc_language: Mapping[int, str],
                 query_language: str, full_bound: float, known_bound: float,
                 passages: int, model: Mixture | None = None, bias: float = 0.0,
                 second: Mapping[int, float] | None = None,
                 calibrated: Mapping[int, float] | None = None,
                 names: Mapping[int, float] | None = None, name_weight: float = 0.0
                 ) -> list[Hit]:
    """Ranked (document id, probability, its best passages), best first.  A
    document's passages are ordered by the calibrated sum (``calibrated``:
    chunk id -> score, from ``fuse``) in the query's language, by the
    other group's score in the other.  ``names``: document id -> the share
    of the query's names (``text.name_keys``) its passages hold, for
    documents in another script; each gains ``name_weight`` times it in
    log-probability, and the probabilities are normalised again."""
    model = model or Mixture()
    evidence = collect_evidence(dense, lexical, owner, doc_language, query_language, second,
                                calibrated)
    if not evidence:
        return []
    s_feats, o_feats, prior, same = mixture_features(evidence, full_bound, known_bound,
                                                     model.coverage_ref)
    logp = mixture_log_probs(s_feats, o_feats, prior, same, model, query_language, bias)
    if names and name_weight > 0:
        gain = np.array([names.get(e.document_id, 0.0) for e in evidence]) * name_weight
        logp = _log_softmax(logp + gain)
    lmax = max((e.lexical for e in evidence), default=0.0) or 1.0
    qscale = min(1.0, lmax / (full_bound or 1.0) / model.coverage_ref)
    best2 = max((v for v in (second or {}).values()), default=0.0)
    out = []
    for ev, lp in zip(evidence, logp, strict=True):
        p = math.exp(float(lp))
        for cs in ev.chunks:   # passage order within the document
            d = cs.dense if cs.dense is not None else ev.dense
            lx = cs.lexical or 0.0
            if ev.same and calibrated:
                cs.score = calibrated.get(cs.chunk_id, 0.0)
            elif ev.same:
                a = model.same_for(query_language)
                cs.score = a[0] * d + a[1] * lx / lmax * qscale + a[2] * lx / (full_bound or 1.0) \
                    + (a[3] * (second[cs.chunk_id] - best2) if second and cs.chunk_id in second
                       else 0.0)
            else:
                b = model.other
                cs.score = b[0] * d + b[1] * lx / lmax
        ev.chunks.sort(key=lambda x: (-x.score, x.chunk_id))
        for cs in ev.chunks:
            cs.score = p
        out.append(Hit(ev.document_id, p, ev.chunks[:passages]))
    out.sort(key=lambda x: (-x[1], x[0]))
    return out
