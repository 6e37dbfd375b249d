"""Fusion of the dense and lexical legs, and grouping by document.  Pure.

Two strategies:
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

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass
class ChunkScore:
    chunk_id: int
    document_id: int
    score: float
    dense: float | None
    lexical: float | None


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
                      ) -> list[tuple[int, float, list[ChunkScore]]]:
    """[(document id, document score, its best chunks)] best first; a
    document's score is that of its best chunk."""
    best: dict[int, list[ChunkScore]] = defaultdict(list)
    for cs in scored:
        if len(best[cs.document_id]) < passages:
            best[cs.document_id].append(cs)
    docs = [(doc, chs[0].score, chs) for doc, chs in best.items()]
    docs.sort(key=lambda x: (-x[1], x[0]))
    return docs


def merge_echoes(ranked: Sequence[tuple[int, float, list[ChunkScore]]],
                 echoes: Mapping[int, ChunkScore], passages: int
                 ) -> list[tuple[int, float, list[ChunkScore]]]:
    """Raise each echoed document to its echo score when that is higher (the
    echoing passage then comes first); add echoed documents not yet ranked."""
    out = []
    seen = set()
    for doc, score, chunks in ranked:
        seen.add(doc)
        e = echoes.get(doc)
        if e is not None and e.score > score:
            rest = [c for c in chunks if c.chunk_id != e.chunk_id]
            out.append((doc, e.score, [e, *rest][:passages]))
        else:
            out.append((doc, score, list(chunks)))
    for doc, e in echoes.items():
        if doc not in seen:
            out.append((doc, e.score, [e]))
    out.sort(key=lambda x: (-x[1], x[0]))
    return out
