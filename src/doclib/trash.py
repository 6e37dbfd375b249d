"""The trash: deleting a document moves it here; curators restore it or
empty the trash, which deletes for good.

Moving to the trash is one transaction under the write lock: the
document's passages leave both indexes (lexical tables, FAISS, the chunks
table) and its status becomes ``deleted``, so from that commit no search,
related item, facet, count, listing or download finds it, for anyone
(every surface reads only ``ready`` documents).  Curators still list it
(``listing``), with when and by whom it was deleted.  Its original and its
previous versions stay on disk, its metadata (access, title ...) in its row.

Restoring extracts and embeds its original again and commits its passages
into the indexes of its own access, like a replacement (all or nothing); an
original that can no longer be read brings it back as failed, with the
reason, for curators only.

Emptying (all, or some documents) deletes for good as ``ingest.delete_documents``
does: rows, files, versions, both indexes, the traces ``erase`` removes.
Documents deleted more than ``storage.trash_days`` days ago are emptied by
``purge_expired`` (at start-up of the web service, by ``doclib compact`` and
``doclib check --repair``); 0 keeps them until emptied by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from . import audit, store
from .audience import Access
from .auth import Principal, can
from .errors import N_, Conflict, Forbidden, NotFound
from .ingest import IngestReport, delete_documents, reprocess, withdraw_documents
from .library import Library
from .versions import TRASHED, Commit

_NOT_FOUND = N_("document not found")
NOT_IN_TRASH = N_("not in the trash")


def move(lib: Library, who: Principal, doc_ids: list[int], via: str = "") -> list[int]:
    """Move documents to the trash (all or none: a missing, hidden or
    already trashed one is NotFound; one being ingested is a Conflict)."""
    if not can(who, "delete"):
        raise Forbidden(N_("curators only"))
    d = store.documents

    def check(conn: Any) -> None:
        rows = conn.execute(select(d.c.id, d.c.status, d.c.access)
                            .where(d.c.id.in_(doc_ids))).all()
        found = {r.id: r for r in rows if r.status != TRASHED and can(who, "read")
                 and who.audience.may_read(r.access, r.status)}
        if any(i not in found for i in doc_ids):
            raise NotFound(_NOT_FOUND)
        busy = [i for i in doc_ids if found[i].status in ("queued", "processing")]
        if busy:
            raise Conflict(N_("document %(ids)s is being ingested: cancel its job or wait "
                              "for it to finish"), ids=", ".join(map(str, busy)))

    def log(conn: Any) -> None:
        check(conn)  # under the write lock, in the transaction that moves them
        audit.record_documents(conn, who.user_id, "document.delete", doc_ids, via=via)

    withdraw_documents(lib, doc_ids, {"status": TRASHED, "deleted_at": store.now(),
                                      "deleted_by": who.user_id, "updated_at": store.now()},
                       also=log)
    return doc_ids


def listing(lib: Library, who: Principal) -> list[dict[str, Any]]:
    """The documents in the trash, last deleted first (curators)."""
    if not can(who, "delete"):
        raise Forbidden(N_("curators only"))
    d, u = store.documents, store.users
    with lib.db.connect() as conn:
        rows = conn.execute(
            select(d.c.id, d.c.title, d.c.original_filename, d.c.size, d.c.access,
                   d.c.doc_type, d.c.language, d.c.deleted_at, u.c.email)
            .select_from(d.outerjoin(u, u.c.id == d.c.deleted_by))
            .where(d.c.status == TRASHED).order_by(d.c.deleted_at.desc(), d.c.id.desc())).all()
    days = lib.config.storage.trash_days
    return [{"id": r.id, "title": r.title or r.original_filename, "filename": r.original_filename,
             "size": r.size, "access": _access_name(r.access), "type": r.doc_type,
             "language": r.language, "deleted_at": r.deleted_at, "deleted_by": r.email,
             "purge_after": _purge_after(r.deleted_at, days)} for r in rows]


def _access_name(level: int) -> str:
    return Access(level).name


def _purge_after(deleted_at: str | None, days: int) -> str | None:
    if days <= 0 or not deleted_at:
        return None
    return (datetime.fromisoformat(deleted_at) + timedelta(days=days)).isoformat(
        timespec="seconds")


def _trashed(lib: Library, doc_ids: list[int]) -> list[Any]:
    d = store.documents
    with lib.db.connect() as conn:
        rows = conn.execute(select(d).where(d.c.id.in_(doc_ids), d.c.status == TRASHED)).all()
    if len(rows) != len(set(doc_ids)):
        raise NotFound(NOT_IN_TRASH)
    return list(rows)


def restore(lib: Library, who: Principal, doc_id: int, via: str = "") -> dict[str, Any]:
    """Bring a document back from the trash, into the indexes of its own
    access (its metadata is as it was); its report."""
    if not can(who, "delete"):
        raise Forbidden(N_("curators only"))
    (doc,) = _trashed(lib, [doc_id])
    back = {"deleted_at": None, "deleted_by": None}
    if doc.stored_name:
        report = reprocess(lib, doc, {"stored_name": doc.stored_name, "kind": doc.kind, **back},
                           Commit(who.user_id, via, "document.restore", untrash=True))
    else:
        report = IngestReport(path=f"document {doc_id}", document_id=doc_id,
                              error="no original is stored")
    if report.status != "ready":
        # out of the trash all the same, failed (curators only see it), with the reason
        d = store.documents
        with lib.index.write_lock(), lib.db.begin() as conn:
            done = conn.execute(d.update().where(d.c.id == doc_id, d.c.status == TRASHED)
                                .values(status="failed", error=report.error,
                                        updated_at=store.now(), **back)).rowcount
            if done:
                audit.record(conn, who.user_id, "document.restore", str(doc_id),
                             f"failed: {report.error}"[:500], document_id=doc_id, via=via)
    return report.to_json()


def empty(lib: Library, who: Principal, doc_ids: list[int] | None = None,
          via: str = "") -> list[int]:
    """Delete for good the documents in the trash (``doc_ids``: only those,
    each of which must be in it); the ids deleted."""
    if not can(who, "delete"):
        raise Forbidden(N_("curators only"))
    if doc_ids is None:
        doc_ids = [r["id"] for r in listing(lib, who)]
    else:
        _trashed(lib, doc_ids)
    if not doc_ids:
        return []
    _delete(lib, doc_ids, who.user_id, "trash.empty", via)
    return doc_ids


def _delete(lib: Library, doc_ids: list[int], user_id: int | None, action: str,
            via: str) -> None:
    def log(conn: Any) -> None:
        audit.record_documents(conn, user_id, action, doc_ids, via=via)

    delete_documents(lib, doc_ids, also=log)


def expired(lib: Library, now: datetime | None = None) -> list[int]:
    """Documents in the trash for longer than ``storage.trash_days``."""
    days = lib.config.storage.trash_days
    if days <= 0:
        return []
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=days)).isoformat(timespec="seconds")
    d = store.documents
    with lib.db.connect() as conn:
        return [r[0] for r in conn.execute(select(d.c.id).where(
            d.c.status == TRASHED, d.c.deleted_at < cutoff).order_by(d.c.id))]


def purge_expired(lib: Library, via: str = "") -> int:
    """Empty the documents past the retention (``storage.trash_days``); the count."""
    for _ in range(3):  # another process (a web worker starting) may purge them meanwhile
        ids = expired(lib)
        if not ids:
            return 0
        try:
            _delete(lib, ids, None, "document.purge", via)
            return len(ids)
        except NotFound:
            continue
    return 0
