"""HTML pages for everyone: search, documents, events, workshops, language.

Each view builds its data with the same service functions the API uses and
renders it; permission is checked on the first line (reading is open to
visitors, limited by the visible set inside every service call)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, make_response, redirect, render_template, request, send_file

from .. import documents as docs_service
from .. import events as events_service
from .. import validate
from ..related import related_documents, related_workshops
from ..search import Filters, search
from .i18n import LANG_COOKIE, LOCALES
from .redirects import safe_next
from .security import lib, private_request, requires, via, who

bp = Blueprint("pages", __name__)

MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8",
    "html": "application/octet-stream",  # never rendered inline
}


@bp.get("/")
@requires("read")
def home() -> Any:
    with lib().db.connect() as conn:
        events = events_service.list_events(conn)
    recent = docs_service.listing(lib(), who(), limit=8, recent=True)
    return render_template("home.html", events=events, recent=recent["documents"])


@bp.get("/search")
@requires("read")
def search_page() -> Any:
    q = request.args.get("q", "").strip()
    filters = Filters.parse(request.args)
    page = validate.optional_integer(request.args.get("page"), "page", 1,
                                     validate.MAX_PAGE) or 1
    k = 10
    result = search(lib(), who(), q, k=k, page=page, filters=filters) if q else None
    args = {key: v for key, v in request.args.items() if key != "page" and v}

    def page_url(n: int) -> str:
        return "/search?" + urlencode({**args, "page": n})

    def filter_url(name: str, value: Any) -> str:
        new = {key: v for key, v in args.items() if key != name}
        if value is not None:
            new[name] = value
        return "/search?" + urlencode(new)

    pages = (result["total"] + k - 1) // k if result else 0
    return render_template("search.html", q=q, result=result, filters=filters, page=page,
                           pages=pages, page_url=page_url, filter_url=filter_url)


@bp.get("/documents/<int:doc_id>")
@requires("read")
def document(doc_id: int) -> Any:
    d = docs_service.detail(lib(), who(), doc_id)
    for pg in d["pages_text"]:
        pg["reading"] = docs_service.reading(pg["blocks"])
        pg["ocr"] = any(p["ocr"] for p in pg["passages"])
        for p in pg["passages"]:
            p["dir"] = docs_service.text_direction(p["text"])
    related = related_documents(lib(), who(), doc_id)
    workshops = related_workshops(lib(), who(), doc_id=doc_id, k=3)
    return render_template("document.html", d=d, related=related, workshops=workshops)


@bp.get("/documents/<int:doc_id>/file")
@requires("read")
def download(doc_id: int) -> Any:
    return send_original(doc_id)


@bp.get("/documents/<int:doc_id>/versions/<int:version_id>/file")
@requires("read")
def download_version(doc_id: int, version_id: int) -> Any:
    """A previous version's original: curators only (404 for anyone else)."""
    return send_version(doc_id, version_id)


def send_version(doc_id: int, version_id: int) -> Any:
    return _send(*docs_service.version_file(lib(), who(), doc_id, version_id, via()))


def send_original(doc_id: int) -> Any:
    return _send(*docs_service.file_for_download(lib(), who(), doc_id, via()))


def _send(path: Any, name: str, kind: str) -> Any:
    # a caller with credentials gets no validator (and no 304): nothing of a
    # member's download may be kept or reused by a cache
    public = not private_request()
    resp = send_file(path, mimetype=MIME.get(kind, "application/octet-stream"),
                     as_attachment=True, download_name=name, max_age=0,
                     conditional=public, etag=public)
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    return resp


@bp.get("/events")
@requires("read")
def events() -> Any:
    with lib().db.connect() as conn:
        items = events_service.list_events(conn)
    return render_template("events.html", events=items)


@bp.get("/events/<slug>")
@requires("read")
def event(slug: str) -> Any:
    view = docs_service.event_view(lib(), who(), slug)
    return render_template("event.html", ev=view["event"], workshops=view["workshops"],
                           documents=view["documents"])


@bp.get("/workshops")
@requires("read")
def workshops() -> Any:
    q = request.args.get("q", "").strip()
    results = related_workshops(lib(), who(), query=q, k=8) if q else None
    with lib().db.connect() as conn:
        all_workshops = events_service.list_workshops(conn)
    return render_template("workshops.html", q=q, results=results, workshops=all_workshops)


@bp.get("/workshops/<int:workshop_id>")
@requires("read")
def workshop(workshop_id: int) -> Any:
    view = docs_service.workshop_view(lib(), who(), workshop_id)
    return render_template("workshop.html", w=view["workshop"], ev=view["event"],
                           documents=view["documents"])


@bp.post("/lang")
def set_language() -> Any:
    lang = request.form.get("lang", "")
    if lang not in LOCALES:
        abort(400)
    resp = make_response(redirect(safe_next(request.form.get("next"))))
    resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax",
                    httponly=True, secure=request.is_secure)
    return resp


@bp.get("/health")
def health() -> Any:
    return {"ok": True}
