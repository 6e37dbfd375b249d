"""Lexical engine choice: SQLite FTS5 (what doclib uses) against bm25s, on the
same normalised, stemmed terms.

Corpus: synthetic chunks of 8 random sentences drawn from the dev-set
articles (both languages), so every chunk is different and common terms have
long postings as in a real library.  Measures build time, query latency
p50/p99 with an access filter (half the documents visible), and how often
the two engines agree on the best chunk.  FTS5 runs doclib's own query
(``doclib.index.lexical.SEARCH_SQL``) on the same schema shape.

Then doclib's own lexical module on the same chunks (raw text in, so term
extraction counts): one table against one table per audience (what doclib
does since migration 0004), a visitor's search on each, and the coverage
bound (``query_bound``: vocabulary lookups and the row count).

Usage: .venv/bin/python bench/lexical.py [--chunks 50000] [--queries 300]
Writes bench/results/lexical.json.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from doclib.index.lexical import SEARCH_SQL, match_expression  # noqa: E402
from doclib.text import lexical_terms  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "xquad-dev"


def audience_tables(texts: list[str], doc_of: list[int], visible_docs: set[int],
                    queries: list[str]) -> dict[str, dict[str, float]]:
    """doclib's lexical module: one table, then one table per audience."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import StaticPool

    from doclib import audience
    from doclib.index import lexical

    out: dict[str, dict[str, float]] = {}
    for label, per_audience in (("doclib, one table", False), ("doclib, per audience", True)):
        engine = create_engine("sqlite://", poolclass=StaticPool)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE documents(id INTEGER PRIMARY KEY, access INTEGER, "
                              "status TEXT)"))
            conn.execute(text("CREATE TABLE chunks(id INTEGER PRIMARY KEY, document_id INTEGER)"))
            for table in lexical.tables():
                conn.execute(text(f"CREATE VIRTUAL TABLE {table} USING fts5(terms, "
                                  "tokenize='unicode61 remove_diacritics 0')"))
                conn.execute(text(f"CREATE VIRTUAL TABLE {table}_vocab USING "
                                  f"fts5vocab({table}, 'row')"))
            conn.execute(text("INSERT INTO documents VALUES (:d, :a, 'ready')"),
                         [{"d": d, "a": 0 if d in visible_docs else 1}
                          for d in sorted(set(doc_of))])
            conn.execute(text("INSERT INTO chunks VALUES (:i, :d)"),
                         [{"i": i + 1, "d": d} for i, d in enumerate(doc_of)])
        saved = audience.PARTIAL_TABLES
        audience.PARTIAL_TABLES = saved if per_audience else {}
        try:
            t0 = time.perf_counter()
            with engine.begin() as conn:
                lexical.add(conn, ((i + 1, t) for i, t in enumerate(texts)))
            build = time.perf_counter() - t0
        finally:
            audience.PARTIAL_TABLES = saved
        # a visitor: their own table, or the shared one
        table = audience.LEXICAL_TABLES[audience.Access.public] if per_audience else lexical.ALL
        lat, bound_lat = [], []
        with engine.connect() as conn:
            for q in queries:
                t = time.perf_counter()
                lexical.search(conn, q, 200, "d.access <= 0 AND d.status = 'ready'", {}, table)
                lat.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                lexical.query_bound(conn, q, table)
                bound_lat.append((time.perf_counter() - t) * 1000)
        out[label] = {"build_s": build, "p50_ms": float(np.percentile(lat, 50)),
                      "p99_ms": float(np.percentile(lat, 99)),
                      "bound_p50_ms": float(np.percentile(bound_lat, 50))}
        engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    import random

    docs = [json.loads(x) for x in (DEV / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    sents = [s for d in docs for p in d["paragraphs"] for s in p.split(". ") if s]
    rng = random.Random(0)
    texts = [". ".join(rng.sample(sents, 8)) for _ in range(args.chunks)]
    corpus = [lexical_terms(t) for t in texts]
    queries = [json.loads(x)["question"] for x in
               (DEV / "queries.jsonl").read_text(encoding="utf-8").splitlines()][: args.queries]
    n = len(corpus)
    n_docs = max(1, n // 10)
    doc_of = [i % n_docs + 1 for i in range(n)]
    visible_docs = {d for d in range(1, n_docs + 1) if d % 2}
    out: dict[str, dict[str, float]] = {}

    # --- SQLite FTS5, as doclib uses it
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE documents(id INTEGER PRIMARY KEY, access INTEGER, status TEXT)")
    db.execute("CREATE TABLE chunks(id INTEGER PRIMARY KEY, document_id INTEGER)")
    db.execute("CREATE VIRTUAL TABLE chunk_terms USING fts5(terms, "
               "tokenize='unicode61 remove_diacritics 0')")
    t0 = time.perf_counter()
    db.executemany("INSERT INTO documents VALUES (?, ?, 'ready')",
                   [(d, 0 if d in visible_docs else 1) for d in range(1, n_docs + 1)])
    db.executemany("INSERT INTO chunks VALUES (?, ?)", [(i + 1, doc_of[i]) for i in range(n)])
    db.executemany("INSERT INTO chunk_terms(rowid, terms) VALUES (?, ?)",
                   [(i + 1, " ".join(c)) for i, c in enumerate(corpus)])
    db.commit()
    build = time.perf_counter() - t0
    sql = SEARCH_SQL.format(table="chunk_terms", condition="d.access <= 0 AND d.status = 'ready'")
    sql = sql.replace(":expr", "?").replace(":k", "200")
    lat = []
    fts_top: list[int | None] = []
    for q in queries:
        expr, terms = match_expression(q)
        t = time.perf_counter()
        rows = db.execute(sql, (expr,)).fetchall() if terms else []
        lat.append((time.perf_counter() - t) * 1000)
        fts_top.append(rows[0][0] if rows else None)
    out["fts5"] = {"build_s": build, "p50_ms": float(np.percentile(lat, 50)),
                   "p99_ms": float(np.percentile(lat, 99))}

    # --- bm25s: no filter inside the engine, so score all and mask (exact)
    import bm25s

    t0 = time.perf_counter()
    r = bm25s.BM25()
    r.index(corpus, show_progress=False)
    build = time.perf_counter() - t0
    mask = np.array([doc_of[i] in visible_docs for i in range(n)])
    lat = []
    bm_top: list[int | None] = []
    for q in queries:
        terms = lexical_terms(q)
        t = time.perf_counter()
        if terms:
            s = np.asarray(r.get_scores(terms))
            s[~mask] = -1
            top = np.argpartition(-s, 200)[:200]
            best = int(top[np.argmax(s[top])]) + 1
        else:
            best = None
        lat.append((time.perf_counter() - t) * 1000)
        bm_top.append(best)
    out["bm25s"] = {"build_s": build, "p50_ms": float(np.percentile(lat, 50)),
                    "p99_ms": float(np.percentile(lat, 99))}
    out.update(audience_tables(texts, doc_of, visible_docs, queries))
    agree = np.mean([a == b for a, b in zip(fts_top, bm_top, strict=True)])
    print(f"{n} chunks, {len(queries)} queries, half of the documents visible")
    print("| engine | build s | p50 ms | p99 ms |\n|---|---|---|---|")
    for k, v in out.items():
        print(f"| {k} | {v['build_s']:.1f} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} |")
    print("(doclib rows: build includes term extraction; p50/p99 of a visitor's search; "
          f"query_bound p50 {out['doclib, per audience']['bound_p50_ms']:.2f} ms)")
    print(f"same best chunk: {agree:.2f}")
    res = ROOT / "bench" / "results" / "lexical.json"
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps({"chunks": n, "engines": out, "same_best_chunk": float(agree)},
                              indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
