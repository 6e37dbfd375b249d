"""JSON API under /api/v1 (session cookie or ``Authorization: Bearer``).

Same service functions as the pages; one error shape
``{"ok": false, "error": "...", "status": N}``; described by /api/v1/openapi.json.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from .. import audit as audit_log
from .. import curation, trash, validate
from .. import documents as docs_service
from .. import events as events_service
from .. import jobs as jobs_service
from ..errors import BadRequest
from ..related import related_documents, related_workshops
from ..search import Filters, search
from .openapi import SPEC
from .pages import send_original, send_version
from .security import lib, requires, via, who
from .uploads import accept

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    value = validate.optional_integer(request.args.get(name), name, lo, hi)
    return default if value is None else value


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.get_data():
        raise BadRequest("the body is not valid JSON" if request.is_json else
                         "send a JSON object with Content-Type: application/json")
    if not isinstance(data, dict):
        raise BadRequest(f"send a JSON object, not {_JSON_TYPES.get(type(data), 'that')}")
    return data


@bp.get("/search")
@requires("read")
def api_search() -> Any:
    q = request.args.get("q", "")
    k = _int_arg("k", 10, 1, validate.MAX_K)
    page = _int_arg("page", 1, 1, validate.MAX_PAGE)
    return jsonify(search(lib(), who(), q, k=k, page=page, filters=Filters.parse(request.args)))


@bp.get("/documents")
@requires("read")
def api_documents() -> Any:
    limit = _int_arg("limit", 50, 1, validate.MAX_LISTING)
    offset = _int_arg("offset", 0, 0, validate.MAX_OFFSET)
    out = docs_service.listing(lib(), who(), Filters.parse(request.args), limit, offset)
    return jsonify({"ok": True, **out})


@bp.post("/documents")
@requires("upload")
def api_upload() -> Any:
    job_id = accept(request.files.get("file"), request.form)
    return jsonify({"ok": True, "job": job_id, "status_url": f"/api/v1/jobs/{job_id}"}), 202


@bp.get("/documents/<int:doc_id>")
@requires("read")
def api_document(doc_id: int) -> Any:
    return jsonify({"ok": True, "document": docs_service.detail(lib(), who(), doc_id)})


@bp.get("/documents/<int:doc_id>/file")
@requires("read")
def api_file(doc_id: int) -> Any:
    return send_original(doc_id)


@bp.post("/documents/<int:doc_id>/file")
@requires("upload")
def api_replace(doc_id: int) -> Any:
    docs_service.get_visible(lib(), who(), doc_id)
    job_id = accept(request.files.get("file"), request.form, replace_id=doc_id)
    return jsonify({"ok": True, "job": job_id, "status_url": f"/api/v1/jobs/{job_id}"}), 202


@bp.patch("/documents/<int:doc_id>")
@requires("edit")
def api_patch(doc_id: int) -> Any:
    curation.update(lib(), who(), doc_id, _json_body(), via())
    return jsonify({"ok": True, "document": docs_service.detail(lib(), who(), doc_id)})


@bp.delete("/documents/<int:doc_id>")
@requires("delete")
def api_delete(doc_id: int) -> Any:
    return jsonify({"ok": True, "deleted": curation.delete_many(lib(), who(), [doc_id],
                                                                    via())})


@bp.post("/documents/delete")
@requires("delete")
def api_bulk_delete() -> Any:
    ids = curation.bulk_ids(_json_body().get("ids"))
    return jsonify({"ok": True, "deleted": curation.delete_many(lib(), who(), ids, via())})


@bp.get("/documents/<int:doc_id>/versions")
@requires("read")
def api_versions(doc_id: int) -> Any:
    """The present file and the previous versions (curators; 404 for others)."""
    return jsonify({"ok": True, **docs_service.versions_of(lib(), who(), doc_id)})


@bp.get("/documents/<int:doc_id>/versions/<int:version_id>/file")
@requires("read")
def api_version_file(doc_id: int, version_id: int) -> Any:
    return send_version(doc_id, version_id)


@bp.post("/documents/<int:doc_id>/versions/<int:version_id>/restore")
@requires("edit")
def api_restore_version(doc_id: int, version_id: int) -> Any:
    report = curation.restore_version(lib(), who(), doc_id, version_id, via())
    status = 200 if report["status"] == "ready" else 409
    return jsonify({"ok": status == 200, "report": report,
                    **({"error": report["error"], "status": status} if status != 200 else {})}
                   ), status


@bp.get("/trash")
@requires("delete")
def api_trash() -> Any:
    return jsonify({"ok": True, "documents": trash.listing(lib(), who()),
                    "trash_days": lib().config.storage.trash_days})


@bp.post("/trash/<int:doc_id>/restore")
@requires("delete")
def api_trash_restore(doc_id: int) -> Any:
    report = trash.restore(lib(), who(), doc_id, via())
    return jsonify({"ok": True, "report": report})


@bp.post("/trash/empty")
@requires("delete")
def api_trash_empty() -> Any:
    """Delete for good every document in the trash, or those of ``ids``."""
    raw = _json_body().get("ids") if request.get_data() else None
    ids = None if raw is None else curation.bulk_ids(raw)
    return jsonify({"ok": True, "deleted": trash.empty(lib(), who(), ids, via())})


@bp.get("/audit")
@requires("view_audit")
def api_audit() -> Any:
    limit = _int_arg("limit", 50, 1, audit_log.MAX_PAGE_SIZE)
    offset = _int_arg("offset", 0, 0, validate.MAX_OFFSET)
    f = audit_log.Filter.parse(request.args)
    with lib().db.connect() as conn:
        return jsonify({"ok": True, **audit_log.query(conn, f, limit, offset)})


@bp.get("/documents/<int:doc_id>/related")
@requires("read")
def api_related(doc_id: int) -> Any:
    k = _int_arg("k", 5, 1, validate.MAX_RELATED)
    return jsonify({"ok": True, "results": related_documents(lib(), who(), doc_id, k)})


@bp.get("/jobs/<int:job_id>")
@requires("view_jobs")
def api_job(job_id: int) -> Any:
    return jsonify({"ok": True, "job": jobs_service.get(lib(), who(), job_id)})


@bp.post("/jobs/<int:job_id>/cancel")
@requires("upload")
def api_cancel_job(job_id: int) -> Any:
    job = jobs_service.cancel(lib(), who(), job_id, via())
    return jsonify({"ok": True, "job": job})


@bp.get("/workshops/related")
@requires("read")
def api_related_workshops() -> Any:
    k = _int_arg("k", 5, 1, validate.MAX_RELATED)
    doc = validate.optional_integer(request.args.get("document"), "document", 1,
                                    validate.MAX_ID)
    results = related_workshops(lib(), who(), query=request.args.get("q"), doc_id=doc, k=k)
    return jsonify({"ok": True, "results": results})


@bp.get("/workshops/<int:workshop_id>")
@requires("read")
def api_workshop(workshop_id: int) -> Any:
    return jsonify({"ok": True, **docs_service.workshop_view(lib(), who(), workshop_id)})


@bp.patch("/workshops/<int:workshop_id>")
@requires("manage_events")
def api_edit_workshop(workshop_id: int) -> Any:
    workshop = events_service.change_workshop(lib(), who(), workshop_id, _json_body(), via())
    return jsonify({"ok": True, "workshop": workshop})


@bp.get("/events")
@requires("read")
def api_events() -> Any:
    with lib().db.connect() as conn:
        return jsonify({"ok": True, "events": events_service.list_events(conn)})


@bp.post("/events")
@requires("manage_events")
def api_add_event() -> Any:
    event = events_service.create_event(lib(), who(), _json_body(), via())
    return jsonify({"ok": True, "event": event}), 201


@bp.get("/events/<slug>")
@requires("read")
def api_event(slug: str) -> Any:
    return jsonify({"ok": True, **docs_service.event_view(lib(), who(), slug)})


@bp.patch("/events/<slug>")
@requires("manage_events")
def api_edit_event(slug: str) -> Any:
    event = events_service.change_event(lib(), who(), slug, _json_body(), via())
    return jsonify({"ok": True, "event": event})


@bp.get("/events/<slug>/workshops")
@requires("read")
def api_event_workshops(slug: str) -> Any:
    with lib().db.connect() as conn:
        row = events_service.get_event(conn, slug)
        return jsonify({"ok": True, "workshops": events_service.list_workshops(conn, row.id)})


@bp.post("/events/<slug>/workshops")
@requires("manage_events")
def api_add_workshop(slug: str) -> Any:
    workshop = events_service.create_workshop(lib(), who(), slug, _json_body(), via())
    return jsonify({"ok": True, "workshop": workshop}), 201


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(SPEC)
