"""the lexical index on PostgreSQL: BM25 over a postings table per audience

On SQLite the lexical index is FTS5 (migrations 0001, 0003, 0004); this
revision changes nothing there.  On PostgreSQL each audience's table
(``chunk_terms``, ``chunk_terms_l1``, ``chunk_terms_l0``) is a plain table
with the same columns doclib writes (``rowid`` = chunk id, ``terms`` = the
space-separated terms of ``text.lexical_terms``) and the number of terms
(``length``, generated).  Triggers keep ``<table>_postings`` (term, chunk,
term frequency, chunk length) in step in the same statement, so the code
that copies and removes rows between audiences is the same on both
engines; ``<table>_vocab`` gives each term's chunk count, like FTS5's
fts5vocab table.  BM25 is computed from them with FTS5's formula
(``index/lexical.py``), over the audience's own statistics.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from doclib.migrations import dialect, drop_trigger, pg_trigger

revision = "0014"
down_revision = "0013"

TABLES = ("chunk_terms", "chunk_terms_l1", "chunk_terms_l0")


def upgrade() -> None:
    if dialect() != "postgresql":
        return
    # each table's row and term counts (BM25's N and average length), kept by
    # the same triggers: a lookup per search, not a scan of the table
    op.execute("CREATE TABLE lexical_totals (tbl TEXT PRIMARY KEY, n_rows BIGINT NOT NULL, "
               "tokens BIGINT NOT NULL)")
    for table in TABLES:
        op.execute(f"INSERT INTO lexical_totals VALUES ('{table}', 0, 0)")
        op.execute(f"CREATE TABLE {table} (rowid BIGINT PRIMARY KEY, terms TEXT NOT NULL, "
                   "length INTEGER GENERATED ALWAYS AS "
                   "(cardinality(string_to_array(terms, ' '))) STORED)")
        op.execute(f"CREATE TABLE {table}_postings (term TEXT NOT NULL, rowid BIGINT NOT NULL, "
                   "tf INTEGER NOT NULL, length INTEGER NOT NULL, PRIMARY KEY (term, rowid))")
        op.execute(f"CREATE INDEX ix_{table}_postings_rowid ON {table}_postings (rowid)")
        op.execute(f"CREATE VIEW {table}_vocab AS SELECT term, count(*) AS doc "
                   f"FROM {table}_postings GROUP BY term")
        pg_trigger(f"{table}_added", table, "AFTER INSERT",
                   f"INSERT INTO {table}_postings(term, rowid, tf, length) "
                   "SELECT w, a.rowid, count(*), a.length FROM added a, "
                   "unnest(string_to_array(a.terms, ' ')) AS w WHERE w <> '' "
                   "GROUP BY w, a.rowid, a.length; "
                   "UPDATE lexical_totals SET n_rows = n_rows + (SELECT count(*) FROM added), "
                   "tokens = tokens + (SELECT coalesce(sum(length), 0) FROM added) "
                   f"WHERE tbl = '{table}';",
                   each="STATEMENT", referencing="REFERENCING NEW TABLE AS added")
        pg_trigger(f"{table}_removed", table, "AFTER DELETE",
                   f"DELETE FROM {table}_postings p USING removed r WHERE p.rowid = r.rowid; "
                   "UPDATE lexical_totals SET n_rows = n_rows - (SELECT count(*) FROM removed), "
                   "tokens = tokens - (SELECT coalesce(sum(length), 0) FROM removed) "
                   f"WHERE tbl = '{table}';",
                   each="STATEMENT", referencing="REFERENCING OLD TABLE AS removed")
        # a row's terms are replaced (deleted, then added), never updated
        pg_trigger(f"{table}_changed", table, "BEFORE UPDATE",
                   "RAISE EXCEPTION 'lexical rows are replaced, not updated';")


def downgrade() -> None:
    if dialect() != "postgresql":
        return
    for table in TABLES:
        for trigger in ("added", "removed", "changed"):
            drop_trigger(f"{table}_{trigger}", table)
        op.execute(f"DROP VIEW IF EXISTS {table}_vocab")
        op.execute(f"DROP TABLE IF EXISTS {table}_postings")
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP TABLE IF EXISTS lexical_totals")
