"""lexical index per audience

BM25 scores depend on the statistics of the whole FTS5 table (row count,
document frequencies, average length).  With one table for everything, a
visitor's scores and ranking would shift with the words of member-only
documents: a side channel.  Each audience now has its own table holding
exactly the chunks it may see, so its statistics are its own:

- ``chunk_terms``     every chunk (curators and admins)
- ``chunk_terms_l1``  chunks of public and member documents (members)
- ``chunk_terms_l0``  chunks of public documents (visitors)

``lexical.add``/``remove`` keep all three; a trigger moves a document's
chunks between them when its access level changes (the terms are copied
from ``chunk_terms``, so no Python is needed there).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

LEVELS = (0, 1)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for level in LEVELS:
        table = f"chunk_terms_l{level}"
        op.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(terms, "
                   "tokenize = 'unicode61 remove_diacritics 0')")
        op.execute(f"CREATE VIRTUAL TABLE {table}_vocab USING fts5vocab({table}, 'row')")
        op.execute(f"INSERT INTO {table}(rowid, terms) SELECT t.rowid, t.terms FROM chunk_terms t "
                   "JOIN chunks c ON c.id = t.rowid JOIN documents d ON d.id = c.document_id "
                   f"WHERE d.access <= {level}")
    moves = "\n".join(
        f"DELETE FROM chunk_terms_l{level} WHERE rowid IN "
        "(SELECT id FROM chunks WHERE document_id = NEW.id);\n"
        f"INSERT INTO chunk_terms_l{level}(rowid, terms) SELECT rowid, terms FROM chunk_terms "
        f"WHERE NEW.access <= {level} AND rowid IN "
        "(SELECT id FROM chunks WHERE document_id = NEW.id);"
        for level in LEVELS)
    op.execute("CREATE TRIGGER documents_access_terms AFTER UPDATE OF access ON documents "
               f"WHEN NEW.access IS NOT OLD.access BEGIN\n{moves}\nEND")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS documents_access_terms")
    for level in LEVELS:
        op.execute(f"DROP TABLE IF EXISTS chunk_terms_l{level}_vocab")
        op.execute(f"DROP TABLE IF EXISTS chunk_terms_l{level}")
