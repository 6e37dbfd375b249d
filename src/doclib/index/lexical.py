"""The lexical index: SQLite FTS5 (BM25) over normalised, stemmed terms.

Chosen over bm25s and rank_bm25 (see README, "Lexical engine"): it lives in
the same database as the chunks, so a document's rows, its terms and their
deletion commit in one transaction; the access filter is a join evaluated
before ranking and LIMIT; and it needs no extra memory.  Terms are
produced by ``text.lexical_terms`` for documents and queries alike; the FTS5
tokenizer only splits on the spaces between them.  The terms' version
(``text.LEXICAL_VERSION``) is kept in the ``meta`` table; the Library rebuilds
the index from the chunks when it changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from ..text import lexical_terms


def add(conn: Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Index (chunk id, raw text) pairs."""
    params = [{"id": cid, "terms": " ".join(lexical_terms(t))} for cid, t in rows]
    if params:
        conn.execute(text("INSERT INTO chunk_terms(rowid, terms) VALUES (:id, :terms)"), params)


def remove(conn: Connection, chunk_ids: Iterable[int]) -> None:
    params = [{"id": cid} for cid in chunk_ids]
    if params:
        conn.execute(text("DELETE FROM chunk_terms WHERE rowid = :id"), params)


def clear(conn: Connection) -> None:
    conn.execute(text("DELETE FROM chunk_terms"))


def rebuild(conn: Connection) -> int:
    """Re-derive every chunk's terms from its text; returns the chunk count."""
    rows = conn.execute(text("SELECT id, text FROM chunks ORDER BY id")).all()
    clear(conn)
    add(conn, ((r[0], r[1]) for r in rows))
    return len(rows)


def count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM chunk_terms")).scalar_one())


def match_expression(query: str) -> tuple[str, list[str]]:
    """FTS5 MATCH string (OR of quoted terms) and the distinct query terms."""
    terms = list(dict.fromkeys(lexical_terms(query)))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms), terms


# The visibility condition joins the matches to their documents.  It must not
# be a ``rowid IN (...)`` on the FTS5 table: FTS5 then runs one MATCH per
# allowed rowid (measured: 3 s per query at 50k chunks; this form: 8 ms).
SEARCH_SQL = (
    "WITH m AS MATERIALIZED (SELECT rowid AS id, bm25(chunk_terms) AS s FROM chunk_terms "
    "WHERE chunk_terms MATCH :expr) "
    "SELECT m.id, -m.s FROM m JOIN chunks c ON c.id = m.id "
    "JOIN documents d ON d.id = c.document_id WHERE {condition} ORDER BY m.s, m.id LIMIT :k"
)


# FTS5's bm25() constants (k1 = 1.2); a term can add at most idf * (k1 + 1)
BM25_K1 = 1.2


def query_bound(conn: Connection, query: str) -> float:
    """The most BM25 score any chunk could get for ``query``: the sum over its
    distinct indexed terms of idf * (k1 + 1), with FTS5's idf
    (log((N - n + 0.5) / (n + 0.5)), at least 1e-6).  A match's score over
    this bound is the share of the query's evidence it holds (its coverage)."""
    terms = list(dict.fromkeys(lexical_terms(query)))
    if not terms:
        return 0.0
    marks = ",".join(f":t{i}" for i in range(len(terms)))
    rows = conn.execute(text(f"SELECT term, doc FROM chunk_terms_vocab WHERE term IN ({marks})"),
                        {f"t{i}": t for i, t in enumerate(terms)}).all()
    if not rows:
        return 0.0
    n_rows = int(conn.execute(text("SELECT count(*) FROM chunks")).scalar_one())
    bound = 0.0
    for _term, n in rows:
        idf = math.log((n_rows - n + 0.5) / (n + 0.5))
        bound += max(idf, 1e-6) * (BM25_K1 + 1)
    return bound


def search(conn: Connection, query: str, k: int, condition: str,
           params: dict[str, object]) -> list[tuple[int, float]]:
    """Top-k (chunk id, BM25 score; higher is better) among chunks whose
    document (alias ``d``) satisfies ``condition`` (SQL with ``params``).

    The condition is applied before ranking and LIMIT, so hidden chunks never
    take a place and the caller still gets k visible hits.
    """
    expr, terms = match_expression(query)
    if not terms:
        return []
    sql = text(SEARCH_SQL.format(condition=condition))
    rows = conn.execute(sql, {**params, "expr": expr, "k": k}).all()
    return [(int(r[0]), float(r[1])) for r in rows]
