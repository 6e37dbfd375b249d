"""The lexical index: SQLite FTS5 (BM25) over normalised, stemmed terms;
on PostgreSQL, BM25 with FTS5's formula over a postings table per audience
(migration 0014), the same scores and order.

Chosen over bm25s and rank_bm25 (see README, "Lexical engine"): it lives in
the same database as the chunks, so a document's rows, its terms and their
deletion commit in one transaction; the access filter is a join evaluated
before ranking and LIMIT; and it needs no extra memory.  Terms are
produced by ``text.lexical_terms`` for documents and queries alike; the FTS5
tokenizer only splits on the spaces between them.  The terms' version
(``text.LEXICAL_VERSION``) is kept in the ``meta`` table; the Library rebuilds
the index from the chunks when it changes.

One table per audience (migration 0004): BM25's statistics (row count,
document frequencies, average length) are those of the table searched, so
each audience searches a table holding exactly the chunks it may see, and
nothing a visitor is shown (scores, order) depends on the words of
documents hidden from them.  Which table an audience searches and which
chunks each table holds are the audience room's (``audience.py``); here
every function takes the table it works on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from .. import audience
from ..text import lexical_terms

# every chunk's terms (the top audience's table); the others are copied from it
ALL = audience.ALL_TERMS


def tables() -> list[str]:
    """Every audience's table."""
    return list(audience.LEXICAL_TABLES.values())


def postgres(conn: Connection) -> bool:
    """Whether the lexical index is migration 0014's tables (PostgreSQL)
    rather than FTS5."""
    return bool(conn.dialect.name == "postgresql")


def add(conn: Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Index (chunk id, raw text) pairs.  The chunks' rows must exist: each
    goes into the tables of the audiences that may see its document."""
    items = [(int(cid), " ".join(lexical_terms(t))) for cid, t in rows]
    if not items:
        return
    if postgres(conn):  # one statement: its trigger writes the postings at once
        conn.execute(text(f"INSERT INTO {ALL}(rowid, terms) SELECT * FROM "
                          "unnest(CAST(:ids AS BIGINT[]), CAST(:terms AS TEXT[]))"),
                     {"ids": [c for c, _ in items], "terms": [t for _, t in items]})
    else:
        conn.execute(text(f"INSERT INTO {ALL}(rowid, terms) VALUES (:id, :terms)"),
                     [{"id": cid, "terms": terms} for cid, terms in items])
    audience.place_terms(conn, [cid for cid, _ in items])


def remove(conn: Connection, chunk_ids: Iterable[int]) -> None:
    params = [{"id": cid} for cid in chunk_ids]
    if params:
        for table in tables():
            conn.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), params)


def clear(conn: Connection) -> None:
    for table in tables():
        conn.execute(text(f"DELETE FROM {table}"))


def optimize(conn: Connection) -> None:
    """Merge each table's segments into one.  FTS5 deletes a row by adding
    a delete marker (which holds the row's terms) to a new segment; the
    row's terms stay in the older segments until the segments are merged,
    and 'optimize' merges them all, leaving out deleted rows and markers
    (a deleted document's terms must not stay in the file: ``erase.py``).
    On PostgreSQL a row's postings go with it; ``erase.py`` vacuums."""
    if postgres(conn):
        return
    for table in tables():
        conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('optimize')"))


def rebuild(conn: Connection) -> int:
    """Re-derive every chunk's terms from its text; returns the chunk count."""
    rows = conn.execute(text("SELECT id, text FROM chunks ORDER BY id")).all()
    clear(conn)
    add(conn, ((r[0], r[1]) for r in rows))
    return len(rows)


def count(conn: Connection, table: str = ALL) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _varint(b: bytes) -> int:
    """SQLite's varint (big-endian groups of 7 bits; a ninth byte has 8)."""
    v = 0
    for k in range(8):
        x = b[k]
        v = (v << 7) | (x & 0x7F)
        if not x & 0x80:
            return v
    return (v << 8) | b[8]


def row_count(conn: Connection, table: str = ALL) -> int:
    """The row count BM25 uses, read from FTS5's averages record (row 1 of
    the table's ``_data`` shadow table starts with it): ``count(*)`` on an
    FTS5 table scans it (19 ms at 50k rows; this: a lookup).  Falls back to
    ``count`` if the record is not there (and on PostgreSQL)."""
    if postgres(conn):  # kept by migration 0014's triggers
        return int(conn.execute(text("SELECT n_rows FROM lexical_totals WHERE tbl = :t"),
                                {"t": table}).scalar_one())
    try:
        blob = conn.execute(text(f"SELECT block FROM {table}_data WHERE id = 1")).scalar()
        if blob:
            return _varint(bytes(blob))
    except (IndexError, ValueError):
        pass
    return count(conn, table)


def match_expression(query: str, terms: Sequence[str] | None = None) -> tuple[str, list[str]]:
    """FTS5 MATCH string (OR of quoted terms) and the distinct query terms
    (``terms``: already made from the query)."""
    terms = list(dict.fromkeys(lexical_terms(query) if terms is None else terms))
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms), terms


# The visibility condition joins the matches to their documents.  It must not
# be a ``rowid IN (...)`` on the FTS5 table: FTS5 then runs one MATCH per
# allowed rowid (measured: 3 s per query at 50k chunks; this form: 8 ms).
SEARCH_SQL = (
    "WITH m AS MATERIALIZED (SELECT rowid AS id, bm25({table}) AS s FROM {table} "
    "WHERE {table} MATCH :expr{prefix}) "
    "SELECT m.id, -m.s FROM m JOIN chunks c ON c.id = m.id "
    "JOIN documents d ON d.id = c.document_id WHERE {condition} ORDER BY m.s, m.id LIMIT :k"
)

# With a prefix, when the condition passes nearly every match (the
# audience's table holds only chunks it may see; without filters the
# condition only drops chunks of documents that are not ready): the best
# ``prefix`` matches by BM25 first, in FTS5's order (score, then rowid),
# joined after.  If at least k of them pass, they are the k best that pass
# (any match outside the prefix scores lower or ties with a larger rowid);
# otherwise the full query runs.  Measured at 100k chunks: 35 ms instead of
# 80 (an Arabic question matches ~30k rows; the join then runs on the
# prefix only).
PREFIX = " ORDER BY s, id LIMIT :prefix"

# FTS5's bm25() constants (k1 = 1.2); a term can add at most idf * (k1 + 1)
BM25_K1 = 1.2


@dataclass(frozen=True)
class QueryStats:
    """A query's terms in an audience's table: (known, full) bounds of the
    BM25 score any chunk could get (``query_bounds``), and the terms worth
    matching (``matched``: those held by at most ``common`` of the
    table's chunks, see ``query_stats``)."""
    known: float
    full: float
    matched: tuple[str, ...]


def query_stats(conn: Connection, query: str, table: str = ALL,
                terms: Sequence[str] | None = None, common: float = 1.0) -> QueryStats:
    """The bounds of the BM25 score any chunk could get for ``query``: the
    sum over its distinct terms of idf * (k1 + 1), with FTS5's idf
    (log((N - n + 0.5) / (n + 0.5)), at least 1e-6); ``known`` over the
    terms the index holds (the most a chunk can score: a match's score over
    it is the share of the query's evidence it holds), ``full`` also over
    the terms no chunk holds (n = 0: the query asks for words the library
    does not have).  The statistics are those of the audience's table
    (``table``; ``terms``: already made from the query).

    ``matched``: the terms held by at most ``common`` (a share) of the
    table's chunks if at least ``MIN_MATCHED`` of them are held by some
    chunk, else every term (a short query is never cut).  A term in most chunks (an Arabic article's
    4-gram "0ال") adds almost nothing to any score but makes FTS5 score
    most of the table."""
    terms = list(dict.fromkeys(lexical_terms(query) if terms is None else terms))
    if not terms:
        return QueryStats(0.0, 0.0, ())
    rows = doc_counts(conn, table, terms)
    n_rows = row_count(conn, table)
    known = full = 0.0
    for term in terms:
        n = rows.get(term, 0)
        bound = max(math.log((n_rows - n + 0.5) / (n + 0.5)), 1e-6) * (BM25_K1 + 1) \
            if n_rows else 0.0
        full += bound
        known += bound if n else 0.0
    matched = [t for t in terms if rows.get(t, 0) <= common * n_rows]
    held = sum(1 for t in matched if rows.get(t, 0))  # terms no chunk holds match nothing
    return QueryStats(known, full, tuple(matched if held >= MIN_MATCHED else terms))


MIN_MATCHED = 3


def doc_counts(conn: Connection, table: str, terms: Sequence[str]) -> dict[str, int]:
    """The number of the audience table's chunks holding each term (the
    terms no chunk holds left out)."""
    marks = ",".join(f":t{i}" for i in range(len(terms)))
    found = conn.execute(text(f"SELECT term, doc FROM {table}_vocab WHERE term IN ({marks})"),
                         {f"t{i}": t for i, t in enumerate(terms)}).all()
    return {str(t): int(n) for t, n in found}


def query_bounds(conn: Connection, query: str, table: str = ALL,
                 terms: Sequence[str] | None = None) -> tuple[float, float]:
    """(known, full) bounds of ``query_stats``."""
    stats = query_stats(conn, query, table, terms)
    return stats.known, stats.full


def query_bound(conn: Connection, query: str, table: str = ALL) -> float:
    """The most BM25 score any chunk could get for ``query`` (the known
    bound of ``query_bounds``)."""
    return query_bounds(conn, query, table)[0]


def search(conn: Connection, query: str, k: int, condition: str,
           params: dict[str, object], table: str = ALL,
           terms: Sequence[str] | None = None, prefix: int = 0) -> list[tuple[int, float]]:
    """Top-k (chunk id, BM25 score; higher is better) among chunks whose
    document (alias ``d``) satisfies ``condition`` (SQL with ``params``), in
    the audience's ``table`` (its statistics are the audience's).

    The condition is applied before ranking and LIMIT, so hidden chunks never
    take a place and the caller still gets k visible hits.  With ``prefix``
    (for a condition that passes nearly every match), the best ``prefix``
    matches are tried first (``PREFIX``): the same answer, faster.
    """
    expr, found = match_expression(query, terms)
    if not found:
        return []
    if postgres(conn):
        return _search_postgres(conn, found, k, condition, params, table, prefix)
    return _run(conn, SEARCH_SQL, {**params, "expr": expr, "k": k}, condition, table, prefix)


def _run(conn: Connection, sql: str, values: dict[str, Any], condition: str, table: str,
         prefix: int) -> list[tuple[int, float]]:
    """``sql`` (SEARCH_SQL or PG_SEARCH_SQL): the prefix first when it may
    answer (``PREFIX``), the full query when it did not give k rows."""
    rows: Sequence[Any] = []
    if prefix > values["k"]:
        rows = conn.execute(text(sql.format(table=table, condition=condition, prefix=PREFIX)),
                            {**values, "prefix": prefix}).all()
    if len(rows) < values["k"]:
        rows = conn.execute(text(sql.format(table=table, condition=condition, prefix="")),
                            values).all()
    return [(int(r[0]), float(r[1])) for r in rows]


# PostgreSQL: FTS5's bm25() over the audience's postings (migration 0014):
# per term idf * ((tf * (k1 + 1)) / (tf + k1 * (1 - b + b * length / avgdl))),
# idf = log((N - n + 0.5) / (n + 0.5)) and at least 1e-6, N and avgdl the
# audience table's, summed in the query's term order as FTS5 sums its
# phrases (the same doubles: equal chunks tie, and ties go by chunk id);
# the score negated as FTS5's is, the same order after.
BM25_B = 0.75
PG_SEARCH_SQL = (
    "WITH q AS MATERIALIZED (SELECT * FROM unnest(CAST(:terms AS TEXT[]), "
    "CAST(:idfs AS DOUBLE PRECISION[])) WITH ORDINALITY AS q(term, idf, ord)), "
    "m AS MATERIALIZED (SELECT p.rowid AS id, -sum(q.idf * ((p.tf * (:k1 + 1.0)) / "
    "(p.tf + :k1 * (1.0 - :b + :b * p.length / :avgdl))) ORDER BY q.ord) AS s "
    "FROM {table}_postings p JOIN q ON q.term = p.term GROUP BY p.rowid{prefix}) "
    "SELECT m.id, -m.s FROM m JOIN chunks c ON c.id = m.id "
    "JOIN documents d ON d.id = c.document_id WHERE {condition} ORDER BY m.s, m.id LIMIT :k"
)


def _search_postgres(conn: Connection, terms: list[str], k: int, condition: str,
                     params: dict[str, object], table: str, prefix: int) -> list[tuple[int, float]]:
    n_rows, tokens = conn.execute(text(
        "SELECT n_rows, tokens FROM lexical_totals WHERE tbl = :t"), {"t": table}).one()
    if not n_rows:
        return []
    held = doc_counts(conn, table, terms)
    found = [t for t in terms if held.get(t)]
    if not found:
        return []
    idfs = [max(math.log((n_rows - held[t] + 0.5) / (held[t] + 0.5)), 1e-6) for t in found]
    values = {**params, "terms": found, "idfs": idfs, "k1": BM25_K1, "b": BM25_B,
              "avgdl": float(tokens) / float(n_rows), "k": k}
    return _run(conn, PG_SEARCH_SQL, values, condition, table, prefix)
