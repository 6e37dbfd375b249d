"""Curation pages: upload (one file or several), describe, replace, delete;
see why an upload failed.

A refused form comes back with the error in the interface language and
with what the curator typed (a file must be chosen again: browsers never
fill a file field).  The upload page's script (static/upload.js) sends
several files one request each to ``/curate/upload`` asking for JSON, shows
each file's progress, then its report (``/curate/jobs/<id>/report``);
without the script the same form sends them all at once and the reports
are on ``/curate/uploads?jobs=...``.  Also a document's previous versions,
the trash and the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from .. import audit as audit_log
from .. import curation, trash, validate
from .. import documents as docs_service
from .. import events as events_service
from .. import jobs as jobs_service
from ..errors import N_, BadRequest, Conflict, DoclibError, NotFound
from ..models import DOC_TYPES
from .i18n import error_field, translate_error
from .security import lib, requires, via, wants_json, who
from .uploads import accept, check_form

bp = Blueprint("curate", __name__, url_prefix="/curate")

# a new upload's description: no type (the curator chooses), members only
NEW_UPLOAD = {"access": "members", "notes": "default", "language": "auto"}
MAX_BATCH = 100  # files in one upload form without the script
UNFINISHED = ("queued", "processing", "cancelling")


def _choices() -> dict[str, Any]:
    with lib().db.connect() as conn:
        return {"events": events_service.list_events(conn),
                "workshops": events_service.list_workshops(conn), "types": DOC_TYPES}


def _curate_page(values: dict[str, Any] | None = None, status: int = 200,
                 **err: Any) -> Any:
    sort = request.args.get("sort", "added")
    direction = request.args.get("dir", "desc" if sort == "added" else "asc")
    if direction not in ("asc", "desc"):
        raise BadRequest(N_("dir must be asc or desc"))
    documents = docs_service.all_for_curators(lib(), who(), sort, direction == "desc")
    return render_template("curate.html", documents=documents, sort=sort, direction=direction,
                           jobs=jobs_service.recent(lib(), 10), v=values or NEW_UPLOAD,
                           max_batch=MAX_BATCH, **err, **_choices()), status


@bp.get("/")
@requires("upload")
def index() -> Any:
    return _curate_page()


@bp.post("/upload")
@requires("upload")
def upload() -> Any:
    """One file or several with one description.  The description is
    checked before any file is stored (a refusal names the field); then
    each file on its own: one that is refused (its type, its name) does not
    stop the others."""
    files = [f for f in request.files.getlist("file") if f and f.filename]
    try:
        if not request.form.get("type"):
            raise BadRequest(N_("type: choose the type of the document"))
        if not files:
            raise BadRequest(N_("file: choose a file to upload"))
        if len(files) > MAX_BATCH:
            raise BadRequest(N_("file: at most %(n)s files at a time"), n=MAX_BATCH)
        if len(files) > 1 and request.form.get("title", "").strip():
            raise BadRequest(N_("title: give a title only when you upload one file (with "
                                "several, each takes the title found in it)"))
        check_form(request.form)
    except DoclibError as e:
        if wants_json():
            raise
        return _curate_page(request.form.to_dict(), e.status, error=translate_error(e),
                            error_field=error_field(e))
    if len(files) == 1:
        try:
            job_id = accept(files[0], request.form)
        except DoclibError as e:
            if wants_json():
                raise
            return _curate_page(request.form.to_dict(), e.status, error=translate_error(e),
                                error_field=error_field(e))
        if wants_json():
            return jsonify({"ok": True, "job": job_id,
                            "report_url": f"/curate/jobs/{job_id}/report"}), 202
        return redirect(f"/curate/jobs/{job_id}")
    job_ids = []
    for f in files:
        try:
            job_ids.append(accept(f, request.form))
        except DoclibError as e:
            flash(f"{f.filename}: {translate_error(e)}", "error")
    if not job_ids:
        return _curate_page(request.form.to_dict(), 400)
    return redirect("/curate/uploads?jobs=" + ",".join(map(str, job_ids)))


@bp.get("/uploads")
@requires("view_jobs")
def uploads() -> Any:
    """The reports of several uploads on one page (the form without the
    script); it refreshes itself until each has finished."""
    raw = [x for x in request.args.get("jobs", "").split(",") if x]
    if not raw or len(raw) > MAX_BATCH:
        raise BadRequest(N_("jobs: name 1 to %(n)s uploads"), n=MAX_BATCH)
    ids = [validate.ident(x, "jobs") for x in raw]
    jobs = [jobs_service.get(lib(), who(), i) for i in ids]
    return render_template("uploads.html", jobs=jobs,
                           running=any(j["status"] in UNFINISHED for j in jobs))


@bp.get("/jobs/<int:job_id>")
@requires("view_jobs")
def job(job_id: int) -> Any:
    return render_template("job.html", job=jobs_service.get(lib(), who(), job_id))


@bp.get("/jobs/<int:job_id>/report")
@requires("view_jobs")
def job_report(job_id: int) -> Any:
    """One upload's report as a fragment of a page (the upload page's
    script shows it under its file); ``data-status`` tells it whether to
    ask again."""
    return render_template("_job_report.html", job=jobs_service.get(lib(), who(), job_id),
                           fragment=True)


def _document_values(d: dict[str, Any]) -> dict[str, Any]:
    """A document as its describe form shows it (a language neither Arabic
    nor English shows as "detect")."""
    return {"title": d["title"], "type": d["type"], "access": d["access"],
            "notes": d.get("notes"), "event": d["event"] or "",
            "workshop": d["workshop"]["number"] if d["workshop"] else "",
            "language": d["language"] if d["language"] in ("ar", "en") else "auto",
            "date": d["date"] or ""}


def _document_page(doc_id: int, values: dict[str, Any] | None = None, status: int = 200,
                   was: dict[str, Any] | None = None, **err: Any) -> Any:
    """The describe form: ``values`` shown (the document's, or what was
    typed), ``was`` the values the page was first rendered with (a save
    writes only the fields changed from them)."""
    d = docs_service.detail(lib(), who(), doc_id)
    shown = _document_values(d)
    return render_template("curate_document.html", d=d, v=values or shown, was=was or shown,
                           files=docs_service.versions_of(lib(), who(), doc_id),
                           **err, **_choices()), status


@bp.get("/documents/<int:doc_id>")
@requires("edit")
def edit(doc_id: int) -> Any:
    return _document_page(doc_id)


@bp.post("/documents/<int:doc_id>")
@requires("edit")
def save(doc_id: int) -> Any:
    f = request.form
    # a field left as the form showed it (was-<field>) is not written: the
    # page may be older than another curator's edit (an access restricted
    # since must not be undone by a title fix)
    changes: dict[str, Any] = {k: f.get(k, "") for k in curation.EDITABLE
                               if k in f and f.get(k) != f.get(f"was-{k}")}
    try:
        if "workshop" in changes:  # the form's text; the service takes a number or null
            changes["workshop"] = validate.optional_integer(
                changes["workshop"].strip(), "workshop", 1, validate.MAX_WORKSHOP_NUMBER)
        curation.update(lib(), who(), doc_id, changes, via())
    except (BadRequest, Conflict) as e:
        # the form again, as typed, still remembering what it was first shown with
        was = {k: f.get(f"was-{k}", "") for k in curation.EDITABLE}
        return _document_page(doc_id, f.to_dict(), e.status, was=was,
                              error=translate_error(e), error_field=error_field(e))
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
    ids = curation.bulk_ids(request.form.getlist("ids"), form=True)
    if request.form.get("confirm") != "yes":
        return render_template("curate_delete.html",
                               documents=curation.check_all(lib(), who(), ids))
    curation.delete_many(lib(), who(), ids, via())
    flash(_("Moved %(n)d document(s) to the trash.", n=len(ids)))
    return redirect("/curate/")


@bp.post("/documents/<int:doc_id>/versions/<int:version_id>/restore")
@requires("edit")
def restore_version(doc_id: int, version_id: int) -> Any:
    """Make a previous version current again (content only; the access,
    title and the rest stay)."""
    report = curation.restore_version(lib(), who(), doc_id, version_id, via())
    if report["status"] == "ready":
        flash(_("The version was restored."))
    else:
        flash(_("The version could not be restored: %(error)s", error=report["error"]))
    return redirect(f"/curate/documents/{doc_id}")


@bp.get("/trash")
@requires("delete")
def trash_page() -> Any:
    return render_template("curate_trash.html", documents=trash.listing(lib(), who()),
                           days=lib().config.storage.trash_days)


@bp.post("/trash/restore")
@requires("delete")
def trash_restore() -> Any:
    doc_id = validate.ident(request.form.get("id", ""), "id")
    report = trash.restore(lib(), who(), doc_id, via())
    if report["status"] == "ready":
        flash(_("The document was restored."))
    else:
        flash(_("The document left the trash but could not be read again: %(error)s",
                error=report["error"]))
    return redirect(f"/curate/documents/{doc_id}")


@bp.post("/trash/empty")
@requires("delete")
def trash_empty() -> Any:
    """Delete for good the documents chosen (or all): asks first."""
    raw = request.form.getlist("ids")
    ids = curation.bulk_ids(raw, form=True) if raw else None
    if request.form.get("confirm") != "yes":
        chosen = [d for d in trash.listing(lib(), who()) if ids is None or d["id"] in ids]
        if ids is not None and len(chosen) != len(ids):
            raise NotFound(trash.NOT_IN_TRASH)
        return render_template("curate_trash_empty.html", documents=chosen, ids=ids)
    done = trash.empty(lib(), who(), ids, via())
    flash(_("Deleted %(n)d document(s) for good.", n=len(done)))
    return redirect("/curate/trash")


AUDIT_PAGE = 50


@bp.get("/audit")
@requires("view_audit")
def audit_page() -> Any:
    f = audit_log.Filter.parse(request.args)
    page = validate.optional_integer(request.args.get("page"), "page", 1,
                                     validate.MAX_PAGE) or 1
    with lib().db.connect() as conn:
        out = audit_log.query(conn, f, AUDIT_PAGE, (page - 1) * AUDIT_PAGE)
    pages = max(1, (out["total"] + AUDIT_PAGE - 1) // AUDIT_PAGE)

    def page_url(n: int) -> str:
        return "/curate/audit?" + urlencode({**f.args(), "page": n})

    return render_template("curate_audit.html", f=f, page=page, pages=pages,
                           page_url=page_url, actions=audit_log.ACTIONS, **out)
