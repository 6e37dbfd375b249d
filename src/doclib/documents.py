"""Documents as the web and API see them: one access-checked lookup, detail,
listings, metadata edits.  A hidden document answers exactly like a missing
one (NotFound with the same message)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from . import audience, audit, notes, store, trash, validate, versions
from .auth import Principal, can
from .errors import N_, BadRequest, Conflict, Forbidden, NotFound
from .extract.blocks import loads as blocks_of
from .ingest import IngestOptions, reprocess, resolve_metadata, update_document
from .library import Library
from .search import DOC_COLUMNS, DOC_FROM, Filters, document_summary, visible_documents
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
        rows = list(visible_documents(conn, who, filters).values())
    if recent:
        rows.sort(key=lambda r: (r.created_at or "", r.id), reverse=True)
    else:
        rows.sort(key=lambda r: (-(r.year or 0), -r.id))
    return {"total": len(rows), "documents": [document_summary(r)
                                              for r in rows[offset: offset + limit]]}


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


# field -> the JSON types it takes; null (or "") clears the event, the
# workshop and the date, and leaves the language and the notes option as they are
EDITABLE: dict[str, tuple[type, ...]] = {
    "title": (str,), "type": (str,), "access": (str,), "event": (str, type(None)),
    "workshop": (int, type(None)), "language": (str, type(None)),
    "date": (str, type(None)), "notes": (str, type(None))}
_OPTIONAL = ("event", "workshop", "date", "language", "notes")


def update(lib: Library, who: Principal, doc_id: int, changes: dict[str, Any],
           via: str = "") -> None:
    """Edit metadata (curators) from JSON values.  Unknown fields and values
    of the wrong type are refused by name, before anything changes.  A null
    or empty event, workshop or date clears it (a document without a date
    of its own takes its event's year).  A change of access (or of the
    ``notes`` option: include, exclude, default) removes or adds the
    speaker-notes passages with it.  Audited in the change's transaction
    (``document.access`` when the access changes, else ``document.edit``)."""
    if not can(who, "edit"):
        raise Forbidden(CURATORS_ONLY)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise BadRequest(N_("unknown field(s): %(fields)s"), fields=", ".join(sorted(unknown)))
    for name, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, EDITABLE[name]):
            number, null = name == "workshop", type(None) in EDITABLE[name]
            template = (N_("%(field)s must be a whole number or null, got %(got)s") if number
                        else N_("%(field)s must be text or null, got %(got)s") if null
                        else N_("%(field)s must be text, got %(got)s"))
            raise BadRequest(template, field=name, got=type(value).__name__)
    row = get_visible(lib, who, doc_id)
    if row.status == versions.TRASHED:
        raise Conflict(versions.IN_TRASH)
    unset = {k for k, v in changes.items() if v in (None, "") and k in _OPTIONAL}
    given = {k: v for k, v in changes.items() if k not in unset}
    opts = IngestOptions(
        title=given.get("title"), doc_type=given.get("type"), access=given.get("access"),
        event=given.get("event"), workshop=given.get("workshop"),
        language=given.get("language", "auto"), date=given.get("date"),
        notes=given.get("notes"))
    with lib.db.connect() as conn:
        values = resolve_metadata(conn, opts)
        if "event" in unset:
            values.update(event_id=None, workshop_id=None)
        if "workshop" in unset:
            values["workshop_id"] = None
        elif "workshop_id" not in values and values.get("event_id") and row.workshop_id:
            # moved to another event without naming a workshop: the old
            # event's workshop does not follow it there
            w = store.workshops
            if conn.execute(select(w.c.event_id).where(w.c.id == row.workshop_id)
                            ).scalar() != values["event_id"]:
                values["workshop_id"] = None
        if "date" in unset:
            e = store.events
            event = None if "event" in unset else (
                e.c.id == values["event_id"] if "event_id" in values else
                e.c.slug == row.event_slug if row.event_slug else None)
            start = conn.execute(select(e.c.start_date).where(event)).scalar() \
                if event is not None else None
            values.update(date=None, year=int(start[:4]) if start else None)
        if opts.language in ("ar", "en"):
            values["language"] = opts.language
    if values:
        action = "document.access" if audience.changes(row.access, values) \
            else "document.edit"
        # the speaker notes follow the access in the same transaction
        update_document(lib, doc_id, values, also=versions.Commit(who.user_id, via, action))


def bulk_ids(raw: Any, *, form: bool = False) -> list[int]:
    """The document ids of a bulk action: a non-empty list of distinct ids,
    JSON integers (``true`` is not document 1; ``1.0`` and ``"1"`` are not
    ids) or, from a form, strings of ASCII digits.  Anything else is a 400
    naming ``ids``, before any document is looked up."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest(N_("ids: choose documents (a non-empty list of document ids)"))
    if len(raw) > validate.MAX_IDS:
        raise BadRequest(N_("ids: at most %(n)s documents at a time"), n=validate.MAX_IDS)
    ids = []
    for i, value in enumerate(raw):
        try:
            ids.append(validate.ident(value, f"ids[{i}]", text=form))
        except BadRequest as e:
            raise BadRequest(N_("%(error)s (ids are document ids)"), error=e) from None
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise BadRequest(N_("ids: document %(ids)s is listed twice"),
                         ids=", ".join(map(str, twice)))
    return ids


def check_all(lib: Library, who: Principal, ids: list[int]) -> list[Any]:
    """The rows of documents ``who`` may read, every id checked: one that is
    missing or hidden is NotFound for the whole action."""
    return [get_visible(lib, who, doc_id) for doc_id in ids]


def delete_many(lib: Library, who: Principal, ids: list[int], via: str = "") -> list[int]:
    """Move documents to the trash (curators; ids from ``bulk_ids``): every
    id is checked first, then all go in one transaction, audited.  The
    API's single and bulk deletes, the curation form and ``doclib delete``
    all come here; ``trash.empty`` deletes for good."""
    if not can(who, "delete"):
        raise Forbidden(CURATORS_ONLY)
    check_all(lib, who, ids)
    return trash.move(lib, who, ids, via)


# ---------------------------------------------------------------- versions
VERSION_NOT_FOUND = N_("version not found")


def _curated(lib: Library, who: Principal, doc_id: int) -> Any:
    """The row of a document ``who`` may curate; anyone else (members,
    visitors) gets NotFound, as for a missing document."""
    if not can(who, "edit"):
        raise NotFound(NOT_FOUND)
    return get_visible(lib, who, doc_id)


def versions_of(lib: Library, who: Principal, doc_id: int) -> dict[str, Any]:
    """The document's present file and previous versions (curators)."""
    _curated(lib, who, doc_id)
    with lib.db.connect() as conn:
        d = store.documents
        return versions.listing(conn, conn.execute(select(d).where(d.c.id == doc_id)).one())


def version_file(lib: Library, who: Principal, doc_id: int, version_id: int,
                 via: str = "") -> tuple[Path, str, str]:
    """(path, original filename, kind) of a previous version (curators; audited)."""
    _curated(lib, who, doc_id)
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


def restore_version(lib: Library, who: Principal, doc_id: int, version_id: int,
                    via: str = "") -> dict[str, Any]:
    """Make a previous version the document's file again, through the
    replacement path (extracted, embedded, swapped in one transaction); the
    file it replaces becomes a previous version.  Only the content changes:
    the access, title, type, event, language ... stay.  Its report (a
    failure leaves the document as it was)."""
    row = _curated(lib, who, doc_id)
    if row.status == versions.TRASHED:
        raise Conflict(versions.IN_TRASH)
    if row.status != "ready":
        raise Conflict(N_("the document is %(status)s: only a ready document's version "
                          "can be restored"), status=row.status)
    with lib.db.connect() as conn:
        v = versions.get(conn, doc_id, version_id)
    if v is None:
        raise NotFound(VERSION_NOT_FOUND)
    file = {"stored_name": v.stored_name, "kind": v.kind, "sha256": v.sha256,
            "original_filename": v.original_filename, "size": v.size}
    report = reprocess(lib, row, file, versions.Commit(
        who.user_id, via, "version.restore", keep_previous=True, restoring=version_id),
        user_id=who.user_id, record=True)
    return report.to_json()



def attach(lib: Library, who: Principal, ids: list[int], event: str,
           workshop: int | None = None) -> list[int]:
    """Put documents (ids from ``bulk_ids``) in an event and, with
    ``workshop`` (its number), in that workshop of it: every id is checked
    first, then each goes through ``update``.  A document that leaves
    another event leaves that event's workshop too; one already in the
    event keeps its workshop unless one is named.  Audited."""
    if not can(who, "edit"):
        raise Forbidden(CURATORS_ONLY)
    with lib.db.connect() as conn:
        resolve_metadata(conn, IngestOptions(event=event, workshop=workshop))  # 400 first
    rows = check_all(lib, who, ids)
    for row in rows:
        changes: dict[str, Any] = {"event": event}
        if workshop is not None:
            changes["workshop"] = workshop
        elif row.event_slug != event:
            changes["workshop"] = None
        update(lib, who, row.id, changes)
    with lib.db.begin() as conn:
        audit.record(conn, who.user_id, "event.attach",
                     event + (f"/{workshop}" if workshop is not None else ""),
                     ",".join(map(str, ids)))
    return ids


def detach(lib: Library, who: Principal, ids: list[int], event: str,
           workshop: int | None = None) -> list[int]:
    """Take documents out of an event (and so out of its workshops) or,
    with ``workshop``, out of that workshop only (they stay in the event).
    A document that is not there is a 400 naming it, before any change.
    Audited."""
    if not can(who, "edit"):
        raise Forbidden(CURATORS_ONLY)
    rows = check_all(lib, who, ids)
    for row in rows:
        there = row.event_slug == event and (workshop is None or row.workshop_number == workshop)
        if not there:
            raise BadRequest(N_("ids: document %(id)s is not there"), id=row.id)
    for row in rows:
        update(lib, who, row.id, {"workshop": None} if workshop is not None else {"event": None})
    with lib.db.begin() as conn:
        audit.record(conn, who.user_id, "event.detach",
                     event + (f"/{workshop}" if workshop is not None else ""),
                     ",".join(map(str, ids)))
    return ids
