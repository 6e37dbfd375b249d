"""Uploads shared by the curation pages and the API: validate now (type by
extension and content, size), ingest in the background."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from .. import store, validate
from ..errors import N_, BadRequest, UnsupportedFormat, storage_error
from ..extract import sniff
from ..ingest import IngestOptions, resolve_metadata
from ..jobs import create, incoming_dir
from ..text import strip_bidi
from .security import lib, runner, via, who


def options_from(form: Any) -> IngestOptions:
    def get(name: str) -> str | None:
        v = form.get(name)
        return str(v).strip() if v not in (None, "") else None

    workshop = validate.optional_integer(get("workshop"), "workshop", 1,
                                         validate.MAX_WORKSHOP_NUMBER)
    # no defaults here: a new document without an access level is members-only
    # (ingest's default), and a replacement keeps what it had
    return IngestOptions(title=get("title"), doc_type=get("type"),
                         access=get("access"), event=get("event"), workshop=workshop,
                         language=get("language") or "auto", date=get("date"),
                         notes=get("notes"))


def check_form(form: Any) -> IngestOptions:
    """An upload's description, checked (400 naming the field) before any
    file is stored."""
    opts = options_from(form)
    with lib().db.connect() as conn:
        resolve_metadata(conn, opts)
    return opts


def accept(file: Any, form: Any, replace_id: int | None = None) -> int:
    """Store the upload aside, check it, queue its ingestion; the job id."""
    if file is None or not file.filename:
        raise BadRequest(N_("file: choose a file to upload"))
    name = strip_bidi(os.path.basename(file.filename.replace("\\", "/"))).strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        raise BadRequest(N_("file: the file has no name"))
    if len(name) > validate.MAX_FILENAME_CHARS:
        raise BadRequest(N_("file: the file name is longer than %(max)s characters "
                            "(%(n)s); rename the file and upload it again"),
                         max=validate.MAX_FILENAME_CHARS, n=len(name))
    opts = check_form(form)  # 400 naming the field, before anything is stored
    seen = None
    if replace_id is not None:
        # who may read it now: an edit that restricts it while the new
        # version waits or is processed wins over this request's access
        d = store.documents
        with lib().db.connect() as conn:
            row = conn.execute(select(d.c.access, d.c.speaker_notes)
                               .where(d.c.id == replace_id)).first()
        seen = {"access": row.access, "speaker_notes": row.speaker_notes} if row else None
    incoming = incoming_dir(lib())
    suffix = os.path.splitext(name)[1].lower()[:10]
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=incoming, suffix=suffix)
        with os.fdopen(fd, "wb") as out:
            file.save(out)
            # durable before the job row commits and the curator is answered:
            # the file, then its name in the folder
            out.flush()
            os.fsync(out.fileno())
        store.fsync_dir(incoming)
        sniff(tmp, name)  # refuses here, before anything is stored
    except (UnsupportedFormat, OSError) as e:
        if tmp is not None:
            os.unlink(tmp)
        if isinstance(e, OSError):  # the disk is full: 507, and nothing is kept
            raise storage_error("the upload could not be stored", e) from None
        raise
    # the job row commits with synchronous=FULL (store.py): once the 202 is
    # sent, the upload survives a crash or a power cut and resumes queued
    try:
        job_id = create(lib(), who().user_id, Path(tmp), opts, name, replace_id, seen=seen,
                        via=via())
    except OperationalError as e:  # the database cannot grow (disk full)
        os.unlink(tmp)
        raise storage_error("the upload could not be recorded", e) from None
    runner().submit(job_id)
    return job_id
