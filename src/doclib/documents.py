"""Reading documents as the web, the API and the command line see them: one
access-checked lookup, detail, the reading view, downloads, listings and a
document's previous versions.  A hidden document answers exactly like a
missing one (NotFound with the same message).  Changing them is
``curation``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from . import audience, audit, events, notes, store, versions
from .auth import Principal, can
from .errors import N_, BadRequest, Forbidden, NotFound
from .extract.blocks import loads as blocks_of
from .library import Library
from .summaries import DOC_COLUMNS, DOC_FROM, Filters, document_summary, visible_documents
from .text import script_counts

NOT_FOUND = N_("document not found")
CURATORS_ONLY = N_("curators only")


def _row(conn: Any, doc_id: int) -> Any:
    return conn.execute(text(f"SELECT {DOC_COLUMNS}, d.error, d.warnings, d.stored_name, "
                             f"d.ocr_pages, d.created_at, d.updated_at, d.size, "
                             f"d.speaker_notes, d.structure "
                             f"FROM {DOC_FROM} WHERE d.id = :id"), {"id": doc_id}).first()


def get_visible(lib: Library, who: Principal, doc_id: int) -> Any:
    """The document row if ``who`` may read it; NotFound otherwise (never Forbidden)."""
    with lib.db.connect() as conn:
        row = _row(conn, doc_id)
    if row is None or not can(who, "read") or \
            not who.audience.may_read(row.access, row.status):
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
    structure = blocks_of(row.structure)
    out = document_summary(row)
    out.update({"status": row.status, "kind": row.kind, "size": row.size,
                "ocr_pages": row.ocr_pages, "created_at": row.created_at,
                "updated_at": row.updated_at,
                "pages_text": [{"page": p, "passages": pages.get(p, []),
                                "blocks": structure.get(p, [])}
                               for p in sorted(set(pages) | set(structure))]})
    if can(who, "edit"):
        out["error"] = row.error
        out["warnings"] = json.loads(row.warnings or "[]")
        out["notes"] = notes.choice_name(row.speaker_notes)
    return out


# ------------------------------------------------------------- reading
def text_direction(text: str) -> str:
    """'rtl' or 'ltr' by the script of most of a text's letters ('auto'
    without letters): an English sentence in an Arabic document keeps its
    direction, and an Arabic one that starts with a Latin name keeps its own."""
    ar, la = script_counts(text)
    if ar == la == 0:
        return "auto"
    return "rtl" if ar > la else "ltr"


def _lang(direction: str) -> str:
    return {"rtl": "ar", "ltr": "en"}.get(direction, "")


def _majority(directions: list[str]) -> str:
    rtl, ltr = directions.count("rtl"), directions.count("ltr")
    return "auto" if rtl == ltr == 0 else ("rtl" if rtl > ltr else "ltr")


def reading(page_blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page's blocks as the document page shows them: each with its
    direction and language; consecutive list items grouped into lists,
    nested by level; table cells each with its direction."""
    nodes: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []  # open lists, outermost first
    for b in page_blocks:
        kind = b.get("kind")
        if kind != "item":
            stack = []
        if kind in ("heading", "paragraph"):
            d = text_direction(b.get("text", ""))
            nodes.append({**b, "dir": d, "lang": _lang(d)})
        elif kind == "table":
            rows = [[{"text": c, "dir": text_direction(c)} for c in row]
                    for row in b.get("rows", [])]
            d = _majority([c["dir"] for row in rows for c in row])
            width = max((len(r) for r in rows), default=0)
            rows = [r + [{"text": "", "dir": "auto"}] * (width - len(r)) for r in rows]
            nodes.append({"kind": "table", "rows": rows, "header": bool(b.get("header")),
                          "dir": d})
        elif kind == "item":
            level = int(b.get("level", 0))
            d = text_direction(b.get("text", ""))
            entry = {"text": b.get("text", ""), "marker": b.get("marker", ""),
                     "number": b.get("number"), "dir": d, "lang": _lang(d), "children": []}
            while stack and stack[-1]["level"] > level:
                stack.pop()
            if stack and stack[-1]["level"] == level and \
                    stack[-1]["ordered"] == bool(b.get("ordered")):
                stack[-1]["entries"].append(entry)
                continue
            if stack and stack[-1]["level"] == level:
                stack.pop()  # a bulleted list after a numbered one: a new list
            new = {"kind": "list", "ordered": bool(b.get("ordered")), "level": level,
                   "entries": [entry], "dir": "auto"}
            if stack and stack[-1]["entries"]:
                stack[-1]["entries"][-1]["children"].append(new)
            else:
                nodes.append(new)
            stack.append(new)
    for node in nodes:
        if node["kind"] == "list":
            _list_direction(node)
    return nodes


def _list_direction(lst: dict[str, Any]) -> None:
    for entry in lst["entries"]:
        for child in entry["children"]:
            _list_direction(child)
    lst["dir"] = _majority([e["dir"] for e in lst["entries"]])


def file_for_download(lib: Library, who: Principal, doc_id: int,
                      via: str = "") -> tuple[Path, str, str]:
    """(path of the original, original filename, kind) for a visible
    document; the download of one that is not public is audited."""
    row = get_visible(lib, who, doc_id)
    if not row.stored_name:
        raise NotFound(NOT_FOUND)
    path = lib.files.path(row.stored_name)
    if not path.exists():
        raise NotFound(NOT_FOUND)
    if not audience.is_public(row.access):
        with lib.db.begin() as conn:
            audit.record(conn, who.user_id, "document.download", str(doc_id),
                         document_id=doc_id, via=via)
    return path, row.original_filename, row.kind


def listing(lib: Library, who: Principal, filters: Filters | None = None,
            limit: int = 50, offset: int = 0, recent: bool = False) -> dict[str, Any]:
    """Visible documents, newest first (API listing, event and workshop
    pages): by year, or (``recent``) by the date they were added."""
    with lib.db.connect() as conn:
        rows = list(visible_documents(conn, who, filters, sets=lib.visible_sets).values())
    if recent:
        rows.sort(key=lambda r: (r.created_at or "", r.id), reverse=True)
    else:
        rows.sort(key=lambda r: (-(r.year or 0), -r.id))
    return {"total": len(rows), "documents": [document_summary(r)
                                              for r in rows[offset: offset + limit]]}


# the documents an event's or a workshop's page lists (HTML and JSON alike)
EVENT_DOCUMENTS = 500


def event_view(lib: Library, who: Principal, slug: str) -> dict[str, Any]:
    """An event's page, the one data dict the HTML page renders and the
    API returns: the event, its workshops and the documents of it the
    caller may see (``total`` of them; the first ``EVENT_DOCUMENTS``)."""
    with lib.db.connect() as conn:
        row = events.get_event(conn, slug)
        workshops = events.list_workshops(conn, row.id)
    listed = listing(lib, who, Filters(event=slug), limit=EVENT_DOCUMENTS)
    return {"event": events.event_dict(row), "workshops": workshops,
            "documents": listed["documents"], "total": listed["total"]}


def workshop_view(lib: Library, who: Principal, workshop_id: int) -> dict[str, Any]:
    """A workshop's page (HTML and JSON): the workshop, its event and the
    documents of it the caller may see."""
    with lib.db.connect() as conn:
        workshop = events.get_workshop(conn, workshop_id)
        event = events.event_dict(events.get_event(conn, workshop["event"]))
    listed = listing(lib, who, Filters(workshop=workshop_id), limit=EVENT_DOCUMENTS)
    return {"workshop": workshop, "event": event, "documents": listed["documents"],
            "total": listed["total"]}


# the curation table's columns that sort, and the SQL each sorts by
CURATION_SORTS = {
    "title": "lower(coalesce(d.title, d.original_filename))", "filename": "d.original_filename",
    "language": "d.language", "added": "d.created_at", "uploader": "u.email",
    "status": "d.status", "access": "d.access", "type": "d.doc_type",
}


def all_for_curators(lib: Library, who: Principal, sort: str = "added",
                     descending: bool = True) -> list[dict[str, Any]]:
    """Every document in any status (curation page), with its file name,
    language, date added and uploader, sorted by one of ``CURATION_SORTS``."""
    if not can(who, "edit"):
        raise Forbidden(CURATORS_ONLY)
    if sort not in CURATION_SORTS:
        raise BadRequest(N_("sort must be one of %(choices)s"),
                         choices=", ".join(CURATION_SORTS))
    order = "DESC" if descending else "ASC"
    with lib.db.connect() as conn:
        rows = conn.execute(text(
            f"SELECT {DOC_COLUMNS}, d.error, d.updated_at, u.email AS uploader FROM {DOC_FROM} "
            f"LEFT JOIN users u ON u.id = d.uploader_id WHERE {who.audience.readable_sql()} "
            f"AND d.status != '{versions.TRASHED}' "  # the trash has its own list
            f"ORDER BY {CURATION_SORTS[sort]} {order}, d.id {order}")).all()
    out = []
    for r in rows:
        s = document_summary(r)
        s.update({"status": r.status, "error": r.error, "updated_at": r.updated_at,
                  "uploader": r.uploader})
        out.append(s)
    return out


# ---------------------------------------------------------------- versions
VERSION_NOT_FOUND = N_("version not found")


def curated(lib: Library, who: Principal, doc_id: int) -> Any:
    """The row of a document ``who`` may curate; anyone else (members,
    visitors) gets NotFound, as for a missing document."""
    if not can(who, "edit"):
        raise NotFound(NOT_FOUND)
    return get_visible(lib, who, doc_id)


def versions_of(lib: Library, who: Principal, doc_id: int) -> dict[str, Any]:
    """The document's present file and previous versions (curators)."""
    curated(lib, who, doc_id)
    with lib.db.connect() as conn:
        d = store.documents
        return versions.listing(conn, conn.execute(select(d).where(d.c.id == doc_id)).one())


def version_file(lib: Library, who: Principal, doc_id: int, version_id: int,
                 via: str = "") -> tuple[Path, str, str]:
    """(path, original filename, kind) of a previous version (curators; audited)."""
    curated(lib, who, doc_id)
    with lib.db.begin() as conn:
        v = versions.get(conn, doc_id, version_id)
        if v is None:
            raise NotFound(VERSION_NOT_FOUND)
        path = lib.files.path(v.stored_name)
        if not path.exists():
            raise NotFound(VERSION_NOT_FOUND)
        audit.record(conn, who.user_id, "version.download", str(doc_id),
                     f"version {version_id}", document_id=doc_id, via=via)
    return path, v.original_filename, v.kind
