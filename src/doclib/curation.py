"""Changing documents (curators): metadata edits (``update``), bulk
actions (``bulk_ids``, ``delete_many``, ``attach``, ``detach``) and
restoring a previous version.  Each use-case checks the caller, owns its
transactions and writes its audit rows; the API, the curation pages and the
command line call one function each.  Reading a document is ``documents``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from . import audience, audit, store, trash, validate, versions
from .auth import Principal, can
from .documents import CURATORS_ONLY, VERSION_NOT_FOUND, curated, get_visible
from .errors import N_, BadRequest, Conflict, Forbidden, NotFound
from .ingest import IngestOptions, reprocess, resolve_metadata, update_document
from .library import Library

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


def restore_version(lib: Library, who: Principal, doc_id: int, version_id: int,
                    via: str = "") -> dict[str, Any]:
    """Make a previous version the document's file again, through the
    replacement path (extracted, embedded, swapped in one transaction); the
    file it replaces becomes a previous version.  Only the content changes:
    the access, title, type, event, language ... stay.  Its report (a
    failure leaves the document as it was)."""
    row = curated(lib, who, doc_id)
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
