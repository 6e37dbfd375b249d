"""Documents as the web and API see them: one access-checked lookup, detail,
listings, metadata edits.  A hidden document answers exactly like a missing
one (NotFound with the same message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from . import notes, store
from .auth import Principal, can
from .errors import BadRequest, Forbidden, NotFound
from .ingest import IngestOptions, resolve_metadata, update_document
from .library import Library
from .search import DOC_COLUMNS, DOC_FROM, Filters, document_summary, visible_documents

NOT_FOUND = "document not found"


def _row(conn: Any, doc_id: int) -> Any:
    return conn.execute(text(f"SELECT {DOC_COLUMNS}, d.error, d.warnings, d.stored_name, "
                             f"d.ocr_pages, d.created_at, d.updated_at, d.size, "
                             f"d.speaker_notes "
                             f"FROM {DOC_FROM} WHERE d.id = :id"), {"id": doc_id}).first()


def get_visible(lib: Library, who: Principal, doc_id: int) -> Any:
    """The document row if ``who`` may read it; NotFound otherwise (never Forbidden)."""
    with lib.db.connect() as conn:
        row = _row(conn, doc_id)
    if row is None or not can(who, "read", {"access": row.access, "status": row.status}):
        raise NotFound(NOT_FOUND)
    return row


def detail(lib: Library, who: Principal, doc_id: int) -> dict[str, Any]:
    row = get_visible(lib, who, doc_id)
    c = store.chunks
    with lib.db.connect() as conn:
        chunks = conn.execute(select(c.c.id, c.c.page_start, c.c.text, c.c.language, c.c.source)
                              .where(c.c.document_id == doc_id).order_by(c.c.ordinal)).all()
    pages: dict[int, list[dict[str, Any]]] = {}
    for ch in chunks:
        pages.setdefault(ch.page_start, []).append(
            {"text": ch.text, "language": ch.language, "ocr": ch.source == "ocr",
             "notes": ch.source == "notes"})
    out = document_summary(row)
    out.update({"status": row.status, "kind": row.kind, "size": row.size,
                "ocr_pages": row.ocr_pages, "created_at": row.created_at,
                "updated_at": row.updated_at,
                "pages_text": [{"page": p, "passages": v} for p, v in sorted(pages.items())]})
    if can(who, "edit"):
        out["error"] = row.error
        out["warnings"] = json.loads(row.warnings or "[]")
        out["notes"] = notes.choice_name(row.speaker_notes)
    return out


def file_for_download(lib: Library, who: Principal, doc_id: int) -> tuple[Path, str, str]:
    """(path of the original, original filename, kind) for a visible document."""
    row = get_visible(lib, who, doc_id)
    if not row.stored_name:
        raise NotFound(NOT_FOUND)
    path = lib.files.path(row.stored_name)
    if not path.exists():
        raise NotFound(NOT_FOUND)
    return path, row.original_filename, row.kind


def listing(lib: Library, who: Principal, filters: Filters | None = None,
            limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Visible documents, newest first (API listing, event and workshop pages)."""
    with lib.db.connect() as conn:
        rows = sorted(visible_documents(conn, who, filters).values(),
                      key=lambda r: (-(r.year or 0), -r.id))
    return {"total": len(rows), "documents": [document_summary(r)
                                              for r in rows[offset: offset + limit]]}


def all_for_curators(lib: Library, who: Principal) -> list[dict[str, Any]]:
    """Every document in any status (curation page)."""
    if not can(who, "edit"):
        raise Forbidden("curators only")
    with lib.db.connect() as conn:
        rows = conn.execute(text(f"SELECT {DOC_COLUMNS}, d.error, d.updated_at FROM {DOC_FROM} "
                                 "ORDER BY d.updated_at DESC, d.id DESC")).all()
    out = []
    for r in rows:
        s = document_summary(r)
        s.update({"status": r.status, "error": r.error, "updated_at": r.updated_at})
        out.append(s)
    return out


EDITABLE = {"title", "type", "access", "event", "workshop", "language", "date", "notes"}


def update(lib: Library, who: Principal, doc_id: int, changes: dict[str, Any]) -> None:
    """Edit metadata (curators).  Unknown fields are refused by name.  A
    change of access (or of the ``notes`` option: include, exclude,
    default) removes or adds the speaker-notes passages with it."""
    if not can(who, "edit"):
        raise Forbidden("curators only")
    unknown = set(changes) - EDITABLE
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    get_visible(lib, who, doc_id)
    opts = IngestOptions(
        title=changes.get("title"), doc_type=changes.get("type"), access=changes.get("access"),
        event=changes.get("event") or None,
        workshop=int(changes["workshop"]) if changes.get("workshop") not in (None, "") else None,
        language=changes.get("language") or "auto",
        date=str(changes["date"]) if changes.get("date") else None,
        notes=str(changes["notes"]) if changes.get("notes") not in (None, "") else None)
    with lib.db.connect() as conn:
        values = resolve_metadata(conn, opts)
        if "event" in changes and not changes["event"]:
            values.update(event_id=None, workshop_id=None)
        if "workshop" in changes and changes["workshop"] in (None, ""):
            values["workshop_id"] = None
        if opts.language in ("ar", "en"):
            values["language"] = opts.language
    if values:
        # the speaker notes follow the access in the same transaction
        update_document(lib, doc_id, values)

