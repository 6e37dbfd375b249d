"""The write path: file -> validated, stored, extracted, chunked, embedded,
indexed -> a report.

Idempotent by content hash: an unchanged file costs one hash.  A file whose
content changed at the same source path replaces its document's chunks in
place.  The database rows (document, chunks, lexical terms) commit in one
transaction together with the vector-index save; if anything fails nothing
partial is left and the previous state stays searchable.
"""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from . import audience, erase, notes, store, validate, versions
from . import events as ev
from .chunk import chunk_pages
from .errors import (
    N_,
    BadRequest,
    Cancelled,
    DoclibError,
    ExtractError,
    NoText,
    NotFound,
    TooLong,
    UnsupportedFormat,
    storage_error,
)
from .extract import check_words, extract, sniff
from .extract.blocks import dumps as structure_json
from .index.indexes import chunk_ids
from .library import Library
from .models import DOC_TYPES
from .text import detect_language, document_languages, strip_bidi

log = logging.getLogger("doclib")

CATALOGUE_NAMES = ("catalogue.yaml", "catalogue.yml")
_META_KEYS = {"title", "type", "access", "event", "workshop", "language", "date", "notes"}


@dataclass
class IngestOptions:
    title: str | None = None
    doc_type: str | None = None
    access: str | None = None
    event: str | None = None
    workshop: int | None = None
    language: str = "auto"
    date: str | None = None
    # PPTX speaker notes: include, exclude, default (the setting
    # extract.speaker_notes decides); None: not given
    notes: str | None = None
    # change the metadata of documents the library already holds (the CLI's
    # --update-metadata); without it they keep theirs
    update_existing: bool = False

    def merged(self, entry: dict[str, Any]) -> IngestOptions:
        """Catalogue entry values override these (command-line) defaults."""
        unknown = set(entry) - _META_KEYS - {"file"}
        if unknown:
            raise BadRequest(f"unknown catalogue field(s): {', '.join(sorted(unknown))}")
        # a field left empty (YAML null) gives nothing: the option stands
        # (an empty access must not undo --access curators)
        entry = {k: v for k, v in entry.items() if v is not None}
        return IngestOptions(
            title=entry.get("title", self.title),
            doc_type=entry.get("type", self.doc_type),
            access=entry.get("access", self.access),
            event=entry.get("event", self.event),
            workshop=entry.get("workshop", self.workshop),
            language=entry.get("language", self.language),
            # a YAML year (2025) is a number; anything else is checked as it is
            date=(str(entry["date"]) if isinstance(entry["date"], int) else entry["date"])
            if entry.get("date") is not None else self.date,
            notes=entry.get("notes", self.notes),
            update_existing=self.update_existing,
        )


@dataclass
class IngestReport:
    path: str
    document_id: int | None = None
    status: str = "failed"
    pages: int = 0
    chunks: int = 0
    language: str | None = None
    ocr: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    title: str | None = None
    # the file went to a document the library already held (same content,
    # or a new version of it)
    existing: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_options(opts: IngestOptions) -> dict[str, Any]:
    """Validate options (their types, choices, lengths, numbers and dates:
    all that needs no database) into document column values, only those
    given, plus ``event`` (a slug) and ``workshop`` (a number) for
    ``resolve_metadata`` to look up.  The CLI checks its options with it
    before reading any file."""
    out: dict[str, Any] = {}
    if opts.doc_type is not None:
        if validate.string(opts.doc_type, "type", 20) not in DOC_TYPES:
            raise BadRequest(N_("type must be one of %(choices)s"), choices=", ".join(DOC_TYPES))
        out["doc_type"] = opts.doc_type
    if opts.access is not None:
        try:
            out["access"] = int(audience.Access.parse(
                validate.string(opts.access, "access", 20)))
        except ValueError:
            raise BadRequest(N_("access must be one of public, members, curators; got "
                                "%(value)s"), value=validate.show(opts.access)) from None
    if opts.language not in ("auto", "ar", "en", None):
        raise BadRequest(N_("language must be auto, ar or en"))
    if opts.notes is not None:
        out["speaker_notes"] = notes.parse_choice(validate.string(opts.notes, "notes", 20))
    if opts.title is not None:
        title = strip_bidi(validate.string(opts.title, "title", validate.MAX_TITLE_CHARS))
        if title.strip():
            out["title"] = title.strip()
    if opts.workshop is not None:
        out["workshop"] = validate.integer(opts.workshop, "workshop", 1,
                                           validate.MAX_WORKSHOP_NUMBER)
        if not opts.event:
            raise BadRequest(N_("workshop: a workshop number needs an event"))
    if opts.event:
        out["event"] = validate.slug(opts.event, "event")
    if opts.date:
        d = validate.date(opts.date, "date", partial=True)
        out["date"], out["year"] = d, int(d[:4])
    return out


def resolve_metadata(conn: Any, opts: IngestOptions) -> dict[str, Any]:
    """Validate options into document column values (only those given)."""
    out = check_options(opts)
    slug, number = out.pop("event", None), out.pop("workshop", None)
    if slug:
        try:
            event = ev.get_event(conn, slug)
            out["event_id"] = event.id
            if number is not None:
                out["workshop_id"] = ev.find_workshop(conn, slug, number).id
        except NotFound as e:  # a bad value in the request, not a missing page
            raise BadRequest(e.template, **e.params) from None
        if event.start_date and not opts.date:
            out["year"] = int(event.start_date[:4])
    return out


def _job(conn: Any, doc_id: int | None, report: IngestReport, user_id: int | None,
         job_id: int | None = None) -> None:
    """Record the report: in the given job row, or a new one."""
    values = dict(document_id=doc_id, status=report.status,
                  report=json.dumps(report.to_json(), ensure_ascii=False),
                  finished_at=store.now())
    if job_id is not None:
        conn.execute(store.jobs.update().where(store.jobs.c.id == job_id).values(**values))
    else:
        conn.execute(store.jobs.insert().values(kind="ingest", user_id=user_id,
                                                created_at=store.now(), **values))


def ingest_file(lib: Library, path: str | Path, opts: IngestOptions | None = None, *,
                original_name: str | None = None, uploader_id: int | None = None,
                source_path: str | None = None, report_path: str | None = None,
                replace_id: int | None = None, job_id: int | None = None,
                stop: Callable[[], None] | None = None,
                seen: dict[str, Any] | None = None, via: str = "") -> IngestReport:
    """Ingest one file.  Never raises for a bad file: the report says what happened.

    ``stop`` is called between the steps of the ingestion (from the
    extraction on) and between embedding batches; it raises Cancelled to
    stop it (a curator cancelled the job, or the worker is stopping):
    nothing of the file is indexed then, and its document (found or made
    first, so that none is left "processing") ends failed, or queued.  A
    file that cannot be stored (the disk is full) is a report too.

    ``replace_id`` replaces the content of an existing document (same id);
    only the metadata named in ``opts`` changes.  A file whose content the
    library already holds, or that replaces the document ingested from the
    same ``source_path``, never changes that document's metadata (title,
    type, access, event ...) unless ``opts.update_existing``: an upload form's
    or a command line's defaults must not publish or hide a document.

    A replacement is all-or-nothing: the previous version stays searchable
    and downloadable until the new one is extracted and embedded, and the
    swap (chunks, both indexes, metadata, access) commits in one transaction;
    if the new file fails, the document is left as it was.  ``seen``: the
    replaced document's access and speaker_notes when the replacement was
    asked for (an upload waits in the queue): an edit since then that lets
    fewer people read it wins over the replacement's access or notes.
    """
    opts = opts or IngestOptions()
    path = str(path)
    report = IngestReport(path=report_path or path)
    name = original_name or os.path.basename(path)
    try:
        kind = sniff(path, name)
        size = os.path.getsize(path)
        sha = store.sha256_file(path)
        with lib.db.begin() as conn:
            meta = resolve_metadata(conn, opts)
    except (UnsupportedFormat, BadRequest, NotFound) as e:
        report.error = e.message
        return _finish(lib, report, uploader_id, job_id)
    except OSError as e:
        report.error = f"cannot read the file ({e.strerror})"
        return _finish(lib, report, uploader_id, job_id)

    same, target = _existing(lib, sha, replace_id, source_path)
    # what the caller asked to change on an existing document
    explicit = replace_id is not None or opts.update_existing
    trashed = next((x for x in (target, same) if x is not None
                    and x.status == versions.TRASHED), None)
    if trashed is not None:  # it comes back only through the trash's restore
        report.error, report.document_id = f"document {trashed.id}: {versions.IN_TRASH}", \
            trashed.id
        return _finish(lib, report, uploader_id, job_id)
    if same is not None and (target is None or same.id == target.id) \
            and same.status == "ready":
        return _known_content(lib, same, meta, explicit, report, uploader_id, job_id, via)
    if same is not None and target is not None and same.id != target.id:
        report.error = f"this content is already document {same.id}"
        report.document_id = same.id
        _finish(lib, report, uploader_id, job_id)
        return report
    if target is None:
        target = same  # a failed earlier attempt of the same content: retry it
    # from the copy until the row names it (or it is removed again): see Library.storing
    with lib.storing():
        try:
            stored_name = lib.files.save(path, kind)
        except OSError as e:  # the disk is full: nothing was stored, the batch goes on
            report.error = storage_error("the file could not be stored", e).message
            return _finish(lib, report, uploader_id, job_id)
        values = dict(sha256=sha, original_filename=strip_bidi(name)[:500],
                      stored_name=stored_name, size=size, kind=kind,
                      source_path=source_path, **meta)
        with lib.db.begin() as conn:
            doc_id, staged, previous, replaced_file = _document_for(
                lib, conn, target, values, meta, explicit, report, uploader_id)
        # only once the row names the new file: a crash before the commit
        # leaves the row naming an original that is still there
        lib.files.delete(replaced_file)
        report.document_id = doc_id
        if staged is not None:
            report.existing = True
            # the replaced file is kept as a previous version (versions.py)
            _process(lib, doc_id, opts, report, uploader_id, job_id, staged=staged,
                     previous=previous, stop=stop, seen=seen, also=versions.Commit(
                         uploader_id, via, "document.replace", keep_previous=True))
        else:
            _process(lib, doc_id, opts, report, uploader_id, job_id, stop=stop,
                     also=versions.Commit(uploader_id, via, "document.upload"))
        return report


def _existing(lib: Library, sha: str, replace_id: int | None, source_path: str | None
              ) -> tuple[Any, Any]:
    """(the document holding this content, the document the file is for:
    ``replace_id``'s, or the one last ingested from ``source_path``)."""
    d = store.documents
    with lib.db.begin() as conn:
        same = conn.execute(select(d).where(d.c.sha256 == sha)).first()
        target = None
        if replace_id is not None:
            target = conn.execute(select(d).where(d.c.id == replace_id)).first()
            if target is None:
                raise NotFound("no such document")
        elif source_path:
            target = conn.execute(select(d).where(d.c.source_path == source_path)
                                  .order_by(d.c.id.desc())).first()
    return same, target


def _document_for(lib: Library, conn: Any, target: Any, values: dict[str, Any],
                  meta: dict[str, Any], explicit: bool, report: IngestReport,
                  uploader_id: int | None) -> tuple[int, dict[str, Any] | None, str | None,
                                                    str | None]:
    """The document a stored file goes to, in the caller's transaction:
    (its id, the values staged until a new version is ready, the file it
    replaces, the original of a failed earlier attempt to delete once the
    row no longer names it).  ``values``: the new file's and the options'
    columns; without ``explicit`` an existing document keeps its metadata
    (a ready one) or its narrower access (one that never became ready)."""
    d = store.documents
    if target is None:
        values.setdefault("title", "")
        values.setdefault("access", int(audience.DEFAULT_ACCESS))
        store.hold_new_ids(conn, d)
        doc_id = store.inserted_id(conn.execute(d.insert().values(
            id=store.new_id(d), created_at=store.now(), uploader_id=uploader_id,
            status="processing", error=None, updated_at=store.now(), **values)))
        return doc_id, None, None, None
    kept: dict[str, Any] = {} if explicit else \
        _changes(target, meta) if target.status == "ready" else _wider(lib, target, values)
    for k in kept:
        values.pop(k)
    if kept:
        report.warnings.append(_kept_note(kept))
    if target.status == "ready":
        # a new version of a published document: staged until it is ready
        return target.id, values, target.stored_name, None
    # a document that never became ready (failed, cancelled, or still being
    # ingested by another upload): its text is retried with this upload's
    # options, but those never widen who may read it (a command line's
    # --access public, a form's default) unless asked for
    audience.update_row(conn, target.id, dict(
        status="processing", error=None, updated_at=store.now(), **values))
    replaced = target.stored_name if target.stored_name != values["stored_name"] else None
    return target.id, None, None, replaced


def _known_content(lib: Library, same: Any, meta: dict[str, Any], explicit: bool,
                   report: IngestReport, uploader_id: int | None,
                   job_id: int | None, via: str = "") -> IngestReport:
    """A file whose content the library holds: nothing to extract; its
    metadata changes only if asked for (and its speaker notes follow)."""
    changes = _changes(same, meta)
    if changes and explicit:
        action = "document.access" if "access" in changes else "document.edit"
        update_document(lib, same.id, changes, also=versions.Commit(uploader_id, via, action))
    elif changes:
        report.warnings.append(_kept_note(changes))
    report.document_id = same.id
    report.status = "updated" if changes and explicit else "unchanged"
    report.pages, report.language, report.ocr = same.pages, same.language, same.ocr_pages
    report.title = changes.get("title", same.title) if explicit else same.title
    report.existing = True
    with lib.db.begin() as conn:
        report.chunks = len(chunk_ids(conn, same.id))
        if job_id is not None:
            _job(conn, same.id, report, uploader_id, job_id)
    return report


def _changes(row: Any, meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if getattr(row, k) != v}


def _wider(lib: Library, row: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The ``values`` (access, speaker notes) that would let more people
    read the document of ``row`` than it allows now: a lower access level,
    or speaker notes shown where they were not."""
    out = {}
    access = values.get("access", row.access)
    if audience.widens(row.access, access):
        out["access"], access = access, row.access
    setting = lib.config.extract.speaker_notes
    choice = values.get("speaker_notes", row.speaker_notes)
    if notes.included(choice, access, setting) and \
            not notes.included(row.speaker_notes, access, setting):
        out["speaker_notes"] = choice
    return out


def _kept_note(changes: dict[str, Any]) -> str:
    names = [{"doc_type": "type", "event_id": "event", "workshop_id": "workshop",
              "speaker_notes": "speaker notes"}.get(k, k)
             for k in changes if k != "year"] or ["date"]
    return (f"already in the library: its {', '.join(names)} did not change "
            "(edit the document to change them)")


def _stopped(report: IngestReport, e: Cancelled) -> IngestReport:
    """The report of an ingestion stopped by ``e``: queued again (the
    worker is stopping) or cancelled."""
    report.status, report.error = ("queued" if e.requeue else "cancelled"), e.message
    return report


def _finish(lib: Library, report: IngestReport, uploader_id: int | None,
            job_id: int | None) -> IngestReport:
    if job_id is not None:
        with lib.db.begin() as conn:
            _job(conn, report.document_id, report, uploader_id, job_id)
    return report


def _process(lib: Library, doc_id: int, opts: IngestOptions, report: IngestReport,
             uploader_id: int | None, job_id: int | None = None,
             staged: dict[str, Any] | None = None, previous: str | None = None,
             record: bool = True, stop: Callable[[], None] | None = None,
             seen: dict[str, Any] | None = None,
             also: versions.Commit | None = None) -> None:
    """Extract, chunk, embed and commit a document's file.  With ``staged``
    (the column values of a new version of a ready document), the new file
    is ``staged["stored_name"]`` and the document keeps its previous version
    (``previous``, a stored name) until the commit; a failure then changes
    nothing but the report.  ``record``: write the report to a job row.

    Speaker notes are chunked apart and embedded when the document (with
    ``staged``) includes them; ``_commit`` decides again under the write lock.

    Bounded: a text over ``extract.max_words`` words or ``chunk.max_chunks``
    passages is refused before anything is embedded; ``stop`` (see
    ``ingest_file``) is called between the steps and the embedding batches.
    ``also`` runs in the committing transaction (``versions.Commit``: it
    may keep ``previous`` as a version, or make a version current again,
    whose file then stays if this fails)."""

    def check() -> None:
        if stop is not None:
            stop()

    d = store.documents
    with lib.db.connect() as conn:
        doc = conn.execute(select(d).where(d.c.id == doc_id)).one()
    stored_name = staged["stored_name"] if staged else doc.stored_name
    kind = staged["kind"] if staged else doc.kind
    stopped: Cancelled | None = None
    try:
        _read_embed_commit(lib, doc, opts, report, stored_name, kind, check, stop,
                           staged=staged, seen=seen, also=also)
    except Cancelled as e:
        stopped = e
        status, message = "failed", e.message
    except ExtractError as e:
        status, message = e.outcome, e.message
    except DoclibError as e:
        status, message = "failed", e.message
    except IntegrityError:
        status, message = "failed", "this content was added as another document meanwhile"
    except (OSError, OperationalError) as e:  # the disk is full, the file was lost ...
        status, message = "failed", storage_error("the document could not be stored", e).message
    except Exception as e:  # a bug must not leave the document "processing"
        log.exception("ingestion of document %s failed", doc_id)
        status, message = "failed", f"internal error ({type(e).__name__})"
    else:
        if staged and previous and previous != stored_name and not (
                also is not None and also.keep_previous):
            lib.files.delete(previous)
        if record:
            _job_done(lib, doc_id, report, uploader_id, job_id)
        return
    if stopped is not None:
        _stopped(report, stopped)
    else:
        report.status, report.error = status, message
    if staged:
        # the previous version stays as it was; only the new file goes
        if stopped is None:
            report.error = f"{message}; the previous version was kept"
        if stored_name != previous and (also is None or also.restoring is None):
            lib.files.delete(stored_name)
    else:
        # a document stopped because the worker stops waits, queued, for the next start
        _fail(lib, doc_id, "queued" if stopped is not None and stopped.requeue else status,
              message)
    if record:
        _job_done(lib, doc_id, report, uploader_id, job_id)


def _read_embed_commit(lib: Library, doc: Any, opts: IngestOptions, report: IngestReport,
                       stored_name: str, kind: str, check: Callable[[], None],
                       stop: Callable[[], None] | None, staged: dict[str, Any] | None,
                       seen: dict[str, Any] | None, also: versions.Commit | None) -> None:
    """``_process``'s steps: extract the file (bounded), chunk, embed and
    commit; the report says what was done.  Raises what stops it."""
    doc_id = doc.id
    check()
    extracted = extract(lib.files.path(stored_name), kind, lib.config.extract, stop=stop)
    check_words(extracted, lib.config.extract)
    report.warnings.extend(extracted.warnings)
    report.pages = len(extracted.pages)
    report.ocr = extracted.ocr_pages
    every = chunk_pages(extracted.pages, lib.config.chunk, notes=True)
    if len(every) > lib.config.chunk.max_chunks:
        raise TooLong(f"too large: {len(every):,} passages, limit "
                      f"{lib.config.chunk.max_chunks:,} (chunk.max_chunks)")
    body = [c for c in every if c.source != "notes"]
    with_notes = notes.row_included(doc, lib.config.extract.speaker_notes, staged)
    drafts = every if with_notes else body
    if not drafts:
        raise NoText("no extractable text" + (
            " (image-only pages; install tesseract for OCR)"
            if extracted.unread_image_pages else ""))
    texts = [c.text for c in drafts]
    vectors, second = _embed(lib, drafts, check)
    # the document's languages are those of its text, never of its notes
    langs = document_languages([c.text for c in body] or texts)
    language = opts.language if opts.language in ("ar", "en") else (
        langs[0] if langs else detect_language(" ".join(texts)))
    title = (staged or {}).get("title") or doc.title or extracted.title or \
        Path((staged or {}).get("original_filename") or doc.original_filename).stem
    spare = [c for c in every if c.source == "notes"] if not with_notes else []
    check()  # the last point where a cancellation stops it
    # a literal, not dict(**staged, ...): staged may name a title too
    kept: list[str] = []
    seen = seen or {"access": doc.access, "speaker_notes": doc.speaker_notes}
    stored = _commit(lib, doc_id, drafts, vectors, second, spare=spare, seen=seen,
                     kept=kept, also=also, doc_values={
        **(staged or {}),
        "status": "ready", "error": None, "pages": len(extracted.pages),
        "ocr_pages": extracted.ocr_pages,
        "structure": structure_json([(p.number, p.blocks) for p in extracted.pages]),
        "warnings": json.dumps(extracted.warnings, ensure_ascii=False),
        "language": language, "languages": ",".join(langs) or language,
        "title": title[:validate.MAX_TITLE_CHARS], "updated_at": store.now()})
    report.status, report.chunks, report.language, report.title = \
        "ready", stored, language, title
    if kept:
        names = " and ".join({"speaker_notes": "speaker notes"}.get(k, k) for k in kept)
        report.warnings.append(f"the document was edited while this version was "
                               f"processed: its {names} did not change (edit the "
                               "document to change them)")


def _embed(lib: Library, drafts: list[Any], check: Callable[[], None]
           ) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Both models' vectors of the drafts, batch by batch (``check`` before each)."""
    step = max(1, lib.config.embed.batch_size)
    parts: list[np.ndarray] = []
    second: list[dict[str, Any]] = []
    pool = lib.embed_pool  # worker processes of a batch ingestion (workers.py)
    for i in range(0, len(drafts), step):
        check()
        part = drafts[i:i + step]
        if pool is not None:
            vectors, more = pool.embed([(c.language, c.text) for c in part])
            parts.append(vectors)
            second.extend(more)
            continue
        parts.append(lib.embedder.embed_passages([c.text for c in part]))
        second.extend(lib.second_vectors([(c.language, c.text) for c in part]))
    if not parts:
        return np.zeros((0, lib.embedder.dim), np.float32), second
    return np.vstack(parts), second


def _job_done(lib: Library, doc_id: int, report: IngestReport, uploader_id: int | None,
              job_id: int | None) -> None:
    with lib.db.begin() as conn:
        _job(conn, doc_id, report, uploader_id, job_id)


def _fail(lib: Library, doc_id: int, status: str, message: str) -> None:
    """Mark failed and remove any chunks of the document from both indexes."""
    with lib.index.writing() as w:
        w.remove_documents([doc_id])
        # a document moved to the trash meanwhile stays there
        w.conn.execute(store.documents.update().where(
            store.documents.c.id == doc_id, store.documents.c.status != versions.TRASHED)
            .values(status=status, error=message, structure=None, updated_at=store.now()))


def _commit(lib: Library, doc_id: int, drafts: list[Any], vectors: np.ndarray,
            second: list[dict[str, Any]], doc_values: dict[str, Any],
            spare: list[Any] | None = None, seen: dict[str, Any] | None = None,
            kept: list[str] | None = None, also: versions.Commit | None = None) -> int:
    """Swap a document's chunks (both indexes) and set its column values in
    one transaction; the number of chunks stored.  ``spare``: speaker-notes
    drafts not embedded because the document did not include its notes when
    it was read.  ``seen``: the document's access and speaker_notes when
    the new values were chosen; an edit since that lets fewer people read
    it wins over values that would widen it again (their names are added
    to ``kept``)."""
    def settled(doc: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
        # the notes follow the document as it is now, under the write lock:
        # an edit may have changed its access since it was read
        keep = notes.row_included(doc, lib.config.extract.speaker_notes)
        chosen, vecs, more = _settle_notes(lib, keep, drafts, vectors, second, spare or [])
        # norm_text was never read (the lexical terms are made from text):
        # no longer written, the column waits for a rebuild of the table
        return [dict(ordinal=i, page_start=c.page_start, page_end=c.page_end,
                     language=c.language, source=c.source, text=c.text, norm_text="", **v2)
                for i, (c, v2) in enumerate(zip(chosen, more, strict=True))], vecs

    # the document's new values (its access among them) go first: the new
    # chunks' terms go only into the tables of its audiences; the index is
    # saved before the transaction commits: if the save fails, the rows
    # roll back and the old index file stays
    with lib.index.writing() as w:
        # the row as it was: a document trashed meanwhile stays in the
        # trash; ``also`` keeps its previous file, writes the audit row
        (also or versions.Commit())(w.conn, w.conn.execute(select(store.documents).where(
            store.documents.c.id == doc_id)).one())
        if seen is not None:
            now = w.conn.execute(select(store.documents).where(
                store.documents.c.id == doc_id)).one()
            edited = {k: getattr(now, k) for k in ("access", "speaker_notes")
                      if k in seen and getattr(now, k) != seen[k]}
            wider = _wider(lib, now, {k: doc_values[k] for k in edited if k in doc_values})
            for k in wider:
                doc_values = {x: v for x, v in doc_values.items() if x != k}
                if kept is not None:
                    kept.append(k)
        ids = w.replace_document(doc_id, doc_values, settled)
    return len(ids)


def _settle_notes(lib: Library, keep: bool, drafts: list[Any], vectors: np.ndarray,
                  second: list[dict[str, Any]], spare: list[Any]
                  ) -> tuple[list[Any], np.ndarray, list[dict[str, Any]]]:
    """The drafts (with their vectors) to store: without the speaker notes
    unless ``keep``; with the ``spare`` notes (embedded now) if ``keep``."""
    items = [(c, v, v2) for c, v, v2 in zip(drafts, vectors, second, strict=True)
             if keep or c.source != "notes"]
    if keep and spare:
        extra = lib.embedder.embed_passages([c.text for c in spare])
        extra2 = lib.second_vectors([(c.language, c.text) for c in spare])
        items += list(zip(spare, extra, extra2, strict=True))
    items.sort(key=lambda x: x[0].ordinal)
    dim = vectors.shape[1] if vectors.ndim == 2 else lib.embedder.dim
    vecs = np.asarray([v for _, v, _ in items], np.float32).reshape(len(items), dim)
    return [c for c, _, _ in items], vecs, [v2 for _, _, v2 in items]


def _notes_ids(conn: Any, doc_ids: list[int] | None = None, setting: str | None = None
               ) -> list[int]:
    """Ids of speaker-notes chunks: of ``doc_ids``, or (with ``setting``) of
    every document whose notes must not be indexed."""
    if doc_ids is not None:
        if not doc_ids:
            return []
        c = store.chunks
        return [r[0] for r in conn.execute(select(c.c.id).where(
            c.c.document_id.in_(doc_ids), c.c.source == "notes"))]
    return [r[0] for r in conn.execute(text(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
        f"WHERE c.source = 'notes' AND {notes.excluded_sql(setting or '')}"))]


def update_document(lib: Library, doc_id: int, values: dict[str, Any],
                    also: versions.Commit | None = None) -> None:
    """Change a document's columns (``values``; ``updated_at`` is set here).

    Its speaker notes follow: if the change means they must no longer be
    indexed (e.g. a members-only presentation made public), its notes
    passages leave both indexes and the chunks table in the transaction
    that changes the access, under the write lock, so no search ever finds
    or scores them with the new access.  If it means they must be (e.g.
    made members-only, or the notes option set to include), the document
    is extracted again and its chunks, notes included, are committed
    together with the change.  ``also`` (the audit row) commits with it; a
    document in the trash is not changed (Conflict).
    """
    d = store.documents
    with lib.db.connect() as conn:
        doc = conn.execute(select(d).where(d.c.id == doc_id)).first()
    if doc is None:
        raise NotFound("no such document")
    setting = lib.config.extract.speaker_notes
    gains = notes.row_included(doc, setting, values) and not notes.row_included(doc, setting)
    if gains and doc.status == "ready" and doc.kind == "pptx" and doc.stored_name:
        report = IngestReport(path=f"document {doc_id}", document_id=doc_id)
        lang = values.get("language", doc.language)
        _process(lib, doc_id, IngestOptions(language=lang if lang in ("ar", "en") else "auto"),
                 report, None, staged={**values, "stored_name": doc.stored_name,
                                       "kind": doc.kind},
                 previous=doc.stored_name, record=False, also=also)
        if report.status == "ready":
            return
        # the file could not be read again: the change applies without notes
    values = {**values, "updated_at": store.now()}
    with lib.index.writing() as w:
        doc = w.conn.execute(select(d).where(d.c.id == doc_id)).first()
        if doc is None:
            raise NotFound("no such document")
        (also or versions.Commit())(w.conn, doc)
        if not notes.row_included(doc, setting, values):
            # first the notes, then the access: the remaining chunks'
            # terms then move between the audiences' tables
            w.remove_chunks(_notes_ids(w.conn, [doc_id]))
        audience.update_row(w.conn, doc_id, values)


def enforce_notes(lib: Library) -> int:
    """Remove the speaker-notes passages of every document whose notes must
    not be indexed (after ``extract.speaker_notes`` changed); the count."""
    setting = lib.config.extract.speaker_notes
    with lib.db.connect() as conn:
        if not _notes_ids(conn, setting=setting):
            return 0
    with lib.index.writing() as w:
        ids = _notes_ids(w.conn, setting=setting)
        w.remove_chunks(ids)
    return len(ids)


def delete_document(lib: Library, doc_id: int) -> None:
    """Remove a document from the database, the files and both indexes."""
    delete_documents(lib, [doc_id])


def delete_documents(lib: Library, doc_ids: list[int],
                     also: Callable[[Any], None] | None = None) -> None:
    """Remove documents from the database and both indexes in one
    transaction (all or none: if one is missing, NotFound and nothing
    goes), with their job reports redacted, then their files; then what
    the lexical index and the WAL still hold of them (``erase.settle``).
    Their ids are never given again.  Their previous versions go with them;
    ``also(conn)`` (the audit row) runs in the transaction."""
    d = store.documents
    with lib.index.write_lock():
        with lib.index.writing() as w:
            docs = w.conn.execute(select(d.c.id, d.c.stored_name)
                                  .where(d.c.id.in_(doc_ids))).all()
            if len(docs) != len(set(doc_ids)):
                raise NotFound("no such document")
            w.remove_documents(doc_ids)
            erase.redact_jobs(w.conn, doc_ids)
            kept = versions.purge(w.conn, doc_ids)
            if also is not None:
                also(w.conn)
            w.conn.execute(d.delete().where(d.c.id.in_(doc_ids)))
        for name in [doc.stored_name for doc in docs] + kept:
            lib.files.delete(name)
        erase.settle(lib)


def withdraw_documents(lib: Library, doc_ids: list[int], values: dict[str, Any],
                       also: Callable[[Any], None] | None = None) -> None:
    """Take documents' passages out of both indexes (and the chunks table)
    and set their columns ``values``, in one transaction under the write
    lock (the trash: ``trash.move``); ``also(conn)`` runs first in it (it
    may refuse by raising).  The FAISS file is saved before the commit: if
    that fails, nothing changed."""
    with lib.index.writing() as w:
        if also is not None:
            also(w.conn)
        w.remove_documents(doc_ids)
        w.conn.execute(store.documents.update().where(store.documents.c.id.in_(doc_ids))
                       .values(**values))


def reprocess(lib: Library, doc: Any, file: dict[str, Any], also: versions.Commit,
              user_id: int | None = None, record: bool = False) -> IngestReport:
    """Extract, embed and commit a document's content from ``file`` (the
    column values of a stored original: its ``stored_name`` and ``kind``,
    and the rest of them if it is another file than ``doc``'s), all or
    nothing, keeping every other column: its language when it is set, its
    title, access, type ... (a version restored, a document back from the
    trash).  ``record``: a job row keeps the report."""
    report = IngestReport(path=file.get("original_filename") or f"document {doc.id}",
                          document_id=doc.id, existing=True)
    lang = doc.language if doc.language in ("ar", "en") else "auto"
    _process(lib, doc.id, IngestOptions(language=lang), report, user_id, staged=file,
             previous=doc.stored_name, record=record, also=also)
    return report


def rechunk(lib: Library, progress: Callable[[int, int], None] | None = None
            ) -> dict[str, int]:
    """Extract, chunk and embed every ready document's original again with
    the current configuration (after changing ``chunk.*`` or ``extract.*``).
    Metadata, including the document language, is kept.

    Only ready documents: one that failed, was cancelled by a curator, or
    is still being ingested stays as it is (its next upload retries it); a
    re-chunk must never make searchable a document nobody published."""
    d = store.documents
    with lib.db.connect() as conn:
        docs = conn.execute(select(d.c.id, d.c.language).where(
            d.c.stored_name.is_not(None), d.c.status == "ready").order_by(d.c.id)).all()
    failed = 0
    done = set()
    with lib.index.batch():
        for i, doc in enumerate(docs, start=1):
            with lib.db.connect() as conn:  # deleted, or no longer ready, meanwhile: skip it
                status = conn.execute(select(d.c.status).where(d.c.id == doc.id)).scalar()
            if status == "ready":
                report = IngestReport(path=f"document {doc.id}", document_id=doc.id)
                lang = doc.language if doc.language in ("ar", "en") else "auto"
                _process(lib, doc.id, IngestOptions(language=lang), report, None)
                failed += report.status != "ready"
                if report.status == "ready":
                    done.add(doc.id)
            if progress:
                progress(i, len(docs))
    _forget_pending(lib, done)
    return {"documents": len(docs), "failed": failed}


# presentations ingested before speaker notes were kept apart (migration 0006)
PENDING_NOTES = "speaker_notes_pending"


def notes_pending(lib: Library) -> list[int]:
    """Presentations whose passages still hold their speaker notes (ingested
    before notes were kept apart): they need extracting again."""
    with lib.db.connect() as conn:
        raw = conn.execute(select(store.meta.c.value).where(
            store.meta.c.key == PENDING_NOTES)).scalar()
        if not raw:
            return []
        ids = [int(x) for x in raw.split(",") if x.strip().isdigit()]
        d = store.documents
        return [r[0] for r in conn.execute(select(d.c.id).where(
            d.c.id.in_(ids), d.c.stored_name.is_not(None)).order_by(d.c.id))]


def _forget_pending(lib: Library, done: set[int]) -> None:
    left = [i for i in notes_pending(lib) if i not in done]
    m = store.meta
    with lib.db.begin() as conn:
        conn.execute(m.delete().where(m.c.key == PENDING_NOTES))
        if left:
            conn.execute(m.insert().values(key=PENDING_NOTES, value=",".join(map(str, left))))


def redo_pending_notes(lib: Library) -> dict[str, int]:
    """Extract, chunk and embed again the presentations of ``notes_pending``
    (their notes become passages of their own, where they may be shown)."""
    with lib.index.batch():
        done, failed = _redo_notes(lib)
    _forget_pending(lib, done)
    return {"documents": len(done) + failed, "failed": failed}


def _redo_notes(lib: Library) -> tuple[set[int], int]:
    done, failed = set(), 0
    d = store.documents
    for doc_id in notes_pending(lib):
        with lib.db.connect() as conn:
            doc = conn.execute(select(d.c.language, d.c.status, d.c.stored_name, d.c.kind)
                               .where(d.c.id == doc_id)).one()
        if doc.status != "ready":
            done.add(doc_id)  # not searchable; its next ingestion splits the notes
            continue
        report = IngestReport(path=f"document {doc_id}", document_id=doc_id)
        lang = doc.language if doc.language in ("ar", "en") else "auto"
        # staged on its own file: if it cannot be read again, it stays as it was
        _process(lib, doc_id, IngestOptions(language=lang), report, None,
                 staged={"stored_name": doc.stored_name, "kind": doc.kind},
                 previous=doc.stored_name, record=False)
        if report.status == "ready":
            done.add(doc_id)
        else:
            failed += 1
    return done, failed


def reindex(lib: Library, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Re-embed every chunk with the configured embedder and rebuild both
    indexes from the database.  Deterministic: twice gives the same index."""
    def embed(rows: Sequence[Any]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        return (lib.embedder.embed_passages([r.text for r in rows]),
                lib.second_vectors([(r.language, r.text) for r in rows]))

    n = lib.index.reindex(embed, progress)
    with lib.db.begin() as conn:  # the workshops' profiles, with the new model
        ev.embed_workshops(conn, lib.embedder)
    return {"chunks": n}


# ------------------------------------------------------------- many files
def _catalogue(folder: Path) -> dict[str, Any] | None:
    for name in CATALOGUE_NAMES:
        p = folder / name
        if p.exists():
            return ev.read_catalogue(p)
    return None


def _entry_key(name: str) -> str:
    """A catalogue's file name as it is compared with the folder's files:
    NFC (a file copied from a Mac has a decomposed Arabic name), forward
    slashes, no leading ``./``."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _catalogue_entries(folder: Path, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A folder catalogue's entries by file name.  An entry that names no
    file of the folder, or a file named twice, is an error before anything
    is ingested: the file it meant would otherwise take the command line's
    options (``--access public``) instead of the catalogue's."""
    out: dict[str, dict[str, Any]] = {}
    twice = []
    for e in entries:
        key = _entry_key(e["file"])
        if key in out:
            twice.append(e["file"])
        out[key] = e
    if twice:
        raise BadRequest(f"{folder}: the catalogue names {', '.join(twice)} twice")
    files = {_entry_key(f.relative_to(folder).as_posix()) for f, _ in collect([str(folder)])}
    missing = [e["file"] for e in entries if _entry_key(e["file"]) not in files]
    if missing:
        raise BadRequest(f"{folder}: the catalogue names files the folder does not hold: "
                         f"{', '.join(missing)} (file is the path from the catalogue's "
                         "folder, e.g. reports/minutes.pdf); nothing was ingested")
    return out


def collect(paths: list[str]) -> list[tuple[Path, Path | None]]:
    """Files to ingest as (file, folder it was found under)."""
    out: list[tuple[Path, Path | None]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                for f in sorted(files):
                    if f.startswith(".") or f in CATALOGUE_NAMES:
                        continue
                    out.append((Path(root) / f, p))
        else:
            out.append((p, None))
    return out


def _catalogues_under(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The catalogues of a folder and of its subfolders (as ``collect``
    walks them), each with its folder."""
    out = []
    for dirpath, dirs, _files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        data = _catalogue(Path(dirpath))
        if data:
            out.append((Path(dirpath), data))
    return out


def ingest_paths(lib: Library, paths: list[str], opts: IngestOptions,
                 uploader_id: int | None = None, via: str = "cli",
                 workers: int = 1) -> Iterator[IngestReport]:
    """Ingest files and folders (recursively).  A folder's catalogue.yaml
    creates its events and workshops and gives per-file metadata: the
    catalogues of the folders given, of their subfolders, and of the folder
    of each file given.  Every catalogue is checked before anything is
    ingested or any event created.

    With ``workers`` > 1, that many files are ingested at once (threads),
    their passages embedded by as many worker processes (``workers.py``);
    the reports come in the files' order."""
    # root (a folder given, or a given file's folder) -> file path from it -> entry
    catalogues: dict[Path, dict[str, dict[str, Any]]] = {}
    read: set[tuple[Path, Path]] = set()
    found = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            root, cats = p, _catalogues_under(p)
        else:
            root = p.parent
            data = _catalogue(root) if root.is_dir() else None
            cats = [(root, data)] if data else []
        merged = catalogues.setdefault(root, {})
        for folder, data in cats:
            if (root, folder) in read:
                continue
            read.add((root, folder))
            entries = data.get("documents") or []
            if not isinstance(entries, list) or not all(
                    isinstance(e, dict) and isinstance(e.get("file"), str) for e in entries):
                raise BadRequest(f"{folder}: documents must be a list of entries, each with "
                                 "a file name (file)")
            prefix = folder.relative_to(root).as_posix()
            for key, entry in _catalogue_entries(folder, entries).items():
                key = key if prefix == "." else f"{prefix}/{key}"
                if key in merged:
                    raise BadRequest(f"{root / key} is named by two catalogues")
                merged[key] = entry
            found.append(data)
    # every catalogue's entries checked first: a bad one changes nothing
    for data in found:
        with lib.db.begin() as conn:
            ev.import_catalogue_events(conn, data)
            ev.embed_workshops(conn, lib.embedder)
    # each file: its report already (an error), or the options to ingest it with
    tasks: list[tuple[Path, IngestReport | IngestOptions]] = []
    for file, under in collect(paths):
        if not file.exists():
            tasks.append((file, IngestReport(path=str(file), error="no such file")))
            continue
        file_opts = opts
        base = under if under is not None else file.parent
        if catalogues.get(base):
            described = catalogues[base].get(_entry_key(file.relative_to(base).as_posix()))
            if described:
                try:
                    file_opts = opts.merged(described)
                except BadRequest as e:
                    tasks.append((file, IngestReport(path=str(file), error=e.message)))
                    continue
        tasks.append((file, file_opts))

    def run(task: tuple[Path, IngestReport | IngestOptions]) -> IngestReport:
        file, what = task
        if isinstance(what, IngestReport):
            return what
        return ingest_file(lib, file, what, source_path=str(file.resolve()),
                           uploader_id=uploader_id, via=via)

    workers = min(max(1, workers), len(tasks) or 1)
    # the vector index saved every half minute and at the end, not per file
    with lib.index.batch():
        if workers == 1 or lib.embed_pool is not None:
            yield from map(run, tasks)
            return
        from concurrent.futures import ThreadPoolExecutor

        from .workers import EmbedPool

        lib.embed_pool = EmbedPool(lib.config, workers, lib.embedder.id)
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as threads:
                yield from threads.map(run, tasks)
        finally:
            pool, lib.embed_pool = lib.embed_pool, None
            pool.close()
