"""Curation pages: upload, describe, replace, delete; see why an upload failed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _

from .. import accounts, validate
from .. import documents as docs_service
from .. import events as events_service
from .. import jobs as jobs_service
from ..errors import BadRequest
from ..models import DOC_TYPES
from .security import lib, requires, who
from .uploads import accept

bp = Blueprint("curate", __name__, url_prefix="/curate")


def _choices() -> dict[str, Any]:
    with lib().db.connect() as conn:
        return {"events": events_service.list_events(conn),
                "workshops": events_service.list_workshops(conn), "types": DOC_TYPES}


@bp.get("/")
@requires("upload")
def index() -> Any:
    sort = request.args.get("sort", "added")
    direction = request.args.get("dir", "desc" if sort == "added" else "asc")
    if direction not in ("asc", "desc"):
        raise BadRequest("dir must be asc or desc")
    documents = docs_service.all_for_curators(lib(), who(), sort, direction == "desc")
    return render_template("curate.html", documents=documents, sort=sort, direction=direction,
                           jobs=jobs_service.recent(lib(), 10), **_choices())


@bp.post("/upload")
@requires("upload")
def upload() -> Any:
    if not request.form.get("type"):
        raise BadRequest(_("type: choose the type of the document"))
    job_id = accept(request.files.get("file"), request.form)
    return redirect(f"/curate/jobs/{job_id}")


@bp.get("/jobs/<int:job_id>")
@requires("view_jobs")
def job(job_id: int) -> Any:
    return render_template("job.html", job=jobs_service.get(lib(), who(), job_id))


@bp.get("/documents/<int:doc_id>")
@requires("edit")
def edit(doc_id: int) -> Any:
    return render_template("curate_document.html", d=docs_service.detail(lib(), who(), doc_id),
                           **_choices())


@bp.post("/documents/<int:doc_id>")
@requires("edit")
def save(doc_id: int) -> Any:
    f = request.form
    # a field left as the form showed it (was-<field>) is not written: the
    # page may be older than another curator's edit (an access restricted
    # since must not be undone by a title fix)
    changes: dict[str, Any] = {k: f.get(k, "") for k in docs_service.EDITABLE
                               if k in f and f.get(k) != f.get(f"was-{k}")}
    if "workshop" in changes:  # the form's text; the service takes a number or null
        changes["workshop"] = validate.optional_integer(
            changes["workshop"].strip(), "workshop", 1, validate.MAX_WORKSHOP_NUMBER)
    docs_service.update(lib(), who(), doc_id, changes)
    with lib().db.begin() as conn:
        accounts.audit(conn, who().user_id, "document.edit", str(doc_id))
    flash(_("Saved."))
    return redirect(f"/curate/documents/{doc_id}")


@bp.post("/documents/<int:doc_id>/replace")
@requires("upload")
def replace(doc_id: int) -> Any:
    docs_service.get_visible(lib(), who(), doc_id)
    job_id = accept(request.files.get("file"), request.form, replace_id=doc_id)
    return redirect(f"/curate/jobs/{job_id}")


@bp.post("/delete")
@requires("delete")
def delete() -> Any:
    """Delete one or many documents (the API's service): every id is
    checked first; the first step only asks for confirmation."""
    ids = docs_service.bulk_ids(request.form.getlist("ids"), form=True)
    if request.form.get("confirm") != "yes":
        return render_template("curate_delete.html",
                               documents=docs_service.check_all(lib(), who(), ids))
    docs_service.delete_many(lib(), who(), ids)
    flash(_("Deleted %(n)d document(s).", n=len(ids)))
    return redirect("/curate/")
