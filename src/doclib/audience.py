"""Who may see what: the one room that decides access.

Access is hierarchical.  Each document has an access level (``Access``); a
role reads every level up to its own: a visitor sees ``public``, a member
also ``members``, curators and admins everything.  An ``Audience`` (built
once per request from the caller: ``Principal.audience``) owns, for its
readers:

- the level (``level``) and whether it manages documents (``drafts``:
  curators see the documents that are not ready, one by one);
- the visible documents (``documents``: a ``Visible`` set) and the SQL
  condition on the documents table (``sql``) that both retrieval legs, the
  echo, listings, facets and related items apply; documents that are not
  ready are in no one's visible set;
- whether one document may be read (``may_read``; ``readable_sql`` for the
  curation list): the pages, downloads and API of a single document;
- its lexical table (``lexical_table``): BM25's statistics are those of the
  table searched, so each audience searches a table holding exactly the
  chunks it may see (migration 0004); which chunks each table holds
  (``place_terms``) and moving a document's chunks between them when its
  access changes (``update_row``, in the caller's transaction);
- the allowed chunk set given to FAISS (``Visible.chunks``).

Nothing else compares an access level or builds the visible set (a test
reads the sources for it).  Adding an access level is a change here (and a
migration creating its lexical table); per-group access would be too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from . import store
from .index.vector import Allowed
from .models import ROLES


class Access(IntEnum):
    """Document access levels, ordered: a caller sees every level <= theirs."""

    public = 0
    members = 1
    curators = 2

    @classmethod
    def parse(cls, value: str) -> Access:
        try:
            return cls[value]
        except KeyError:
            raise ValueError(f"access must be one of {', '.join(a.name for a in cls)}; "
                             f"got {value!r}") from None


# a new document whose access is not given
DEFAULT_ACCESS = Access.members

# role -> (the highest level it reads, whether it reads documents not ready)
_ROLES: dict[str, tuple[Access, bool]] = {
    "visitor": (Access.public, False), "member": (Access.members, False),
    "curator": (Access.curators, True), "admin": (Access.curators, True)}
assert set(_ROLES) == set(ROLES)

# each audience's lexical table: exactly the chunks of documents it may see.
# The top one holds every chunk; the terms are written there first and
# copied into the others (``place_terms``).
LEXICAL_TABLES: dict[Access, str] = {
    Access.public: "chunk_terms_l0", Access.members: "chunk_terms_l1",
    Access.curators: "chunk_terms"}
ALL_TERMS = LEXICAL_TABLES[max(Access)]
# the tables that hold a part of the chunks, with the level they hold
PARTIAL_TABLES: dict[str, Access] = {t: lv for lv, t in LEXICAL_TABLES.items()
                                     if t != ALL_TERMS}


def _holds(level: int, alias: str = "d") -> str:
    """SQL condition: a document (``alias``) that readers of ``level`` see
    by its access (the status aside)."""
    return f"{alias}.access <= {int(level)}"


def is_public(access: int) -> bool:
    """Whether a document of this access level is shown to everyone."""
    return int(access) <= Access.public


def changes(old: int, values: dict[str, Any]) -> bool:
    """Whether column ``values`` move a document of access ``old`` to
    another audience (an audited access change)."""
    return "access" in values and int(values["access"]) != int(old)


def widens(old: int, new: int) -> bool:
    """Whether changing a document's access from ``old`` to ``new`` lets
    more people read it."""
    return int(new) < int(old)


def public_sql(alias: str = "d") -> str:
    """SQL condition: the document (``alias``) is shown to everyone."""
    return _holds(Access.public, alias)


class _Owners(Protocol):
    version: int

    def allowed_chunks(self, doc_ids: np.ndarray | list[int]) -> np.ndarray: ...


class Visible(dict[int, Any]):
    """An audience's visible documents (with filters): document id -> row."""

    def __init__(self, audience: Audience, rows: Iterable[tuple[int, Any]] = ()) -> None:
        super().__init__(rows)
        self.audience = audience
        # allow-lists made from this set, by index version and name
        self._allowed: dict[tuple[int, int, str], Allowed] = {}
        self._languages: dict[int, str] | None = None
        self._others: dict[str, list[int]] = {}
        self._in_workshops: list[int] | None = None

    def languages(self) -> dict[int, str]:
        """Document id -> its language (made once per set)."""
        if self._languages is None:
            self._languages = {d: row.language for d, row in self.items()}
        return self._languages

    def not_in(self, language: str) -> list[int]:
        """The documents whose language is not ``language`` (made once per
        set and language)."""
        kept = self._others.get(language)
        if kept is None:
            kept = [d for d, lang in self.languages().items() if lang != language]
            self._others[language] = kept
        return kept

    def in_workshops(self) -> list[int]:
        """The documents of a workshop (made once per set)."""
        if self._in_workshops is None:
            self._in_workshops = [d for d, row in self.items() if row.workshop_id]
        return self._in_workshops

    def chunks(self, vectors: _Owners, among: Iterable[int] | None = None,
               name: str | None = None) -> Allowed:
        """The chunk ids FAISS may return (its allow-list): those of these
        documents, or of the ones in ``among`` that are among them.  The
        list of all of them, or of a subset the caller ``name``s (always
        the same subset for a name), is made once per index version."""
        key = (id(vectors), vectors.version, "" if among is None else (name or ""))
        if among is None or name:
            kept = self._allowed.get(key)
            if kept is not None:
                return kept
        docs = self.keys() if among is None else [d for d in among if d in self]
        allowed = Allowed(vectors.allowed_chunks(np.fromiter(docs, dtype=np.int64)))
        if among is None or name:
            if len(self._allowed) > 8:
                self._allowed.clear()
            self._allowed[key] = allowed
        return allowed


@dataclass(frozen=True)
class Audience:
    """The readers of one access level."""

    level: Access = Access.public
    drafts: bool = False

    @classmethod
    def of_role(cls, role: str) -> Audience:
        level, drafts = _ROLES[role]
        return cls(level, drafts)

    # ------------------------------------------------------- the visible set
    def sql(self, alias: str = "d") -> tuple[str, dict[str, Any]]:
        """SQL condition on the documents table (``alias``) for the visible
        set: the ready documents of the audience's levels."""
        return (f"{alias}.access <= :max_access AND {alias}.status = 'ready'",
                {"max_access": int(self.level)})

    def documents(self, conn: Connection, columns: str, source: str,
                  where: tuple[str, dict[str, Any]] = ("", {}),
                  ids: Iterable[int] | None = None) -> Visible:
        """The visible documents' rows (``columns`` of ``source``, whose
        documents table is ``d``), narrowed by ``where`` (SQL starting with
        AND, and its parameters) and to ``ids`` if given."""
        cond, params = self.sql()
        extra, extra_params = where
        sql = f"SELECT {columns} FROM {source} WHERE {cond}{extra}"
        if ids is not None:
            wanted = [int(i) for i in ids]
            if not wanted:
                return Visible(self)
            sql += f" AND d.id IN ({','.join(map(str, wanted))})"
        rows = conn.execute(text(sql), {**params, **extra_params}).all()
        return Visible(self, ((r.id, r) for r in rows))

    # -------------------------------------------------------- one document
    def may_read(self, access: int, status: str | None) -> bool:
        """Whether one document may be read (its page, file, API object):
        one of the audience's levels, and ready unless the audience
        manages documents."""
        return int(access) <= self.level and (status == "ready" or self.drafts)

    def readable_sql(self, alias: str = "d") -> str:
        """``may_read`` as SQL (the curation list)."""
        cond = _holds(self.level, alias)
        return cond if self.drafts else f"{cond} AND {alias}.status = 'ready'"

    # ------------------------------------------------------------ lexical
    @property
    def lexical_table(self) -> str:
        """The lexical table holding exactly the chunks this audience may see."""
        return LEXICAL_TABLES[self.level]


# ------------------------------------------------- visible sets, reused
GENERATION_KEY = "documents_generation"


def generation(conn: Connection) -> str | None:
    """The documents' generation (migration 0013): a counter bumped in the
    transaction of every change to a document, an event or a workshop."""
    value = conn.execute(text("SELECT value FROM meta WHERE key = :k"),
                         {"k": GENERATION_KEY}).scalar()
    return None if value is None else str(value)


class VisibleSets:
    """The visible sets one process built, by audience and query, reused
    while the documents' generation is the one they were built at (so a
    change made by any process, or by hand in SQL, is in the next set
    asked for).  At most ``size`` sets are kept, the least recently used
    dropped first.  A set is shared: its users must not change it."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._sets: OrderedDict[Any, tuple[str, Visible]] = OrderedDict()

    def documents(self, conn: Connection, audience: Audience, columns: str, source: str,
                  where: tuple[str, dict[str, Any]] = ("", {})) -> Visible:
        """``audience.documents(conn, columns, source, where)``, reused if
        nothing changed since it was built."""
        gen = generation(conn)
        if gen is None:  # a database without the counter: nothing is reused
            return audience.documents(conn, columns, source, where)
        key = (audience, columns, source, where[0], tuple(sorted(where[1].items())))
        with self._lock:
            kept = self._sets.get(key)
            if kept is not None and kept[0] == gen:
                self._sets.move_to_end(key)
                return kept[1]
        visible = audience.documents(conn, columns, source, where)
        with self._lock:
            self._sets[key] = (gen, visible)
            self._sets.move_to_end(key)
            while len(self._sets) > self._size:
                self._sets.popitem(last=False)
        return visible


# ------------------------------------------- the chunks of each audience table
def place_terms(conn: Connection, chunk_ids: Iterable[int]) -> None:
    """Copy the terms of chunks (already in ``ALL_TERMS``) into the tables
    of the audiences that may see their documents."""
    ids = ",".join(str(int(i)) for i in chunk_ids)
    if not ids:
        return
    for table, level in PARTIAL_TABLES.items():
        conn.execute(text(
            f"INSERT INTO {table}(rowid, terms) SELECT t.rowid, t.terms "
            f"FROM {ALL_TERMS} t JOIN chunks c ON c.id = t.rowid "
            f"JOIN documents d ON d.id = c.document_id WHERE t.rowid IN ({ids}) "
            f"AND {_holds(level)}"))


def expected_count(conn: Connection, table: str) -> int:
    """The number of chunks the lexical table ``table`` must hold."""
    level = {t: lv for lv, t in LEXICAL_TABLES.items()}[table]
    return int(conn.execute(text(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
        f"WHERE {_holds(level)}")).scalar_one())


def _move(conn: Connection, doc_id: int) -> None:
    """Put a document's chunks into the partial tables of its access now."""
    ids = [r[0] for r in conn.execute(select(store.chunks.c.id)
                                      .where(store.chunks.c.document_id == doc_id))]
    if not ids:
        return
    marks = ",".join(map(str, ids))
    for table in PARTIAL_TABLES:
        conn.execute(text(f"DELETE FROM {table} WHERE rowid IN ({marks})"))
    place_terms(conn, ids)


def update_row(conn: Connection, doc_id: int, values: dict[str, Any]) -> None:
    """Set a document's column values (``values``).  When its access
    changes, its chunks move between the audiences' lexical tables in the
    same transaction (migration 0004's trigger did it before 0009)."""
    d = store.documents
    old = conn.execute(select(d.c.access).where(d.c.id == doc_id)).scalar()
    conn.execute(d.update().where(d.c.id == doc_id).values(**values))
    if "access" in values and old is not None and int(values["access"]) != int(old):
        _move(conn, doc_id)
