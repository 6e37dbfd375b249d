"""Uploads shared by the curation pages and the API: validate now (type by
extension and content, size), ingest in the background."""

from __future__ import annotations

import os
from typing import Any

from .. import validate
from ..errors import N_, BadRequest
from ..ingest import IngestOptions
from ..jobs import accept_upload, check_options
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
    check_options(lib(), opts)
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
    job_id = accept_upload(lib(), who(), file.save, name, opts, replace_id, via())
    runner().submit(job_id)
    return job_id
