"""Previous versions of a document's file, and what an ingestion's commit
also does in its transaction.

A replacement (the Replace form, ``POST /api/v1/documents/<id>/file``, a
changed file at a known path in ``doclib ingest``) keeps the original it
replaces: its file stays under library/files and a ``document_versions`` row
names it, with its file name, size, when it became current and by whom, and
when it was replaced and by whom.  Restoring a version goes through the
same all-or-nothing replacement path (extract, embed, swap the chunks and
both indexes in one transaction); the version restored leaves the list and
the file it replaces joins it.  A version never carries metadata: a restore
changes the content only, never the access, title, type or event.

``Commit`` is what the committing transaction of an ingestion also does
(``ingest._commit`` calls it with the document's row as it was, under the
write lock): archive the previous file as a version, take the restored
version off the list, refuse a document moved to the trash meanwhile, and
write the audit row.  Versions are deleted with their document (``purge``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import audit, store
from .errors import N_, Conflict

TRASHED = "deleted"  # the status of a document in the trash (trash.py)
IN_TRASH = N_("the document is in the trash: restore it from the trash first")


@dataclass(frozen=True)
class Commit:
    """What an ingestion's committing transaction also does (see the module)."""

    user_id: int | None = None
    via: str = ""
    action: str = ""  # the audit row's action ("" writes none)
    keep_previous: bool = False  # archive the replaced file as a version
    restoring: int | None = None  # the version that becomes current again
    untrash: bool = False  # the document comes back from the trash

    def __call__(self, conn: Connection, old: Any) -> None:
        if old.status == TRASHED and not self.untrash:
            raise Conflict(N_("the document was moved to the trash meanwhile; its new "
                              "version was not kept"))
        v = store.document_versions
        if self.restoring is not None:
            gone = conn.execute(v.delete().where(v.c.id == self.restoring,
                                                 v.c.document_id == old.id)).rowcount
            if not gone:
                raise Conflict(N_("this version is no longer kept"))
        if self.keep_previous and old.stored_name and old.status == "ready":
            archive(conn, old, self.user_id)
        if self.action:
            audit.record(conn, self.user_id, self.action, str(old.id),
                         f"version {self.restoring}" if self.restoring else "",
                         document_id=old.id, via=self.via)


def _current_since(conn: Connection, doc: Any) -> tuple[str, int | None]:
    """When the document's present file became current, and who gave it."""
    v = store.document_versions
    last = conn.execute(select(v.c.replaced_at, v.c.replaced_by)
                        .where(v.c.document_id == doc.id).order_by(v.c.id.desc())).first()
    return (last.replaced_at, last.replaced_by) if last else (doc.created_at, doc.uploader_id)


def archive(conn: Connection, doc: Any, replaced_by: int | None) -> int:
    """Keep the document's present file as a previous version (its row as
    it was before the swap); the version's id."""
    added_at, added_by = _current_since(conn, doc)
    return store.inserted_id(conn.execute(store.document_versions.insert().values(
        document_id=doc.id, stored_name=doc.stored_name, sha256=doc.sha256,
        original_filename=doc.original_filename, size=doc.size, kind=doc.kind,
        added_at=added_at, added_by=added_by, replaced_at=store.now(),
        replaced_by=replaced_by)))


def listing(conn: Connection, doc: Any) -> dict[str, Any]:
    """The document's present file and its previous versions, newest first,
    each with its date, uploader (e-mail; None: the command line), file name
    and size."""
    v, u = store.document_versions, store.users
    added_by, replaced_by = u.alias("added_by_user"), u.alias("replaced_by_user")
    rows = conn.execute(
        select(v, added_by.c.email.label("added_email"),
               replaced_by.c.email.label("replaced_email"))
        .select_from(v.outerjoin(added_by, added_by.c.id == v.c.added_by)
                     .outerjoin(replaced_by, replaced_by.c.id == v.c.replaced_by))
        .where(v.c.document_id == doc.id).order_by(v.c.id.desc())).all()
    since, by = _current_since(conn, doc)
    email = conn.execute(select(u.c.email).where(u.c.id == by)).scalar() if by else None
    return {
        "current": {"filename": doc.original_filename, "size": doc.size, "kind": doc.kind,
                    "added_at": since, "uploader": email},
        "versions": [{"id": r.id, "filename": r.original_filename, "size": r.size,
                      "kind": r.kind, "added_at": r.added_at, "uploader": r.added_email,
                      "replaced_at": r.replaced_at, "replaced_by": r.replaced_email}
                     for r in rows]}


def get(conn: Connection, doc_id: int, version_id: int) -> Any:
    """The version row of that document, or None."""
    v = store.document_versions
    return conn.execute(select(v).where(v.c.id == version_id,
                                        v.c.document_id == doc_id)).first()


def stored_names(conn: Connection, doc_ids: list[int]) -> list[str]:
    """The files of the documents' previous versions."""
    v = store.document_versions
    return [r[0] for r in conn.execute(select(v.c.stored_name)
                                       .where(v.c.document_id.in_(doc_ids)))]


def purge(conn: Connection, doc_ids: list[int]) -> list[str]:
    """Delete the documents' version rows (in the deleting transaction);
    their files, for the caller to remove once it commits."""
    names = stored_names(conn, doc_ids)
    v = store.document_versions
    conn.execute(v.delete().where(v.c.document_id.in_(doc_ids)))
    return names
