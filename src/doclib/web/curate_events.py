"""Curation of events and workshops: create and edit them (titles and
descriptions per language), put documents in them and take them out.

The views call the services the CLI and the JSON API use (``events``,
``curation.attach`` / ``detach``) and render.  A refused form comes back
with the error, in the interface language, and with what the curator typed.
Every change is audited like the API's (``event.add``, ``event.edit``,
``workshop.add``, ``workshop.edit``; ``event.attach`` and ``event.detach``
by the service)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _

from .. import curation, validate
from .. import documents as docs_service
from .. import events as events_service
from ..errors import BadRequest, Conflict
from .i18n import error_field, translate_error
from .security import lib, requires, via, who

bp = Blueprint("curate_events", __name__, url_prefix="/curate")


def _event_data(form: Any) -> dict[str, Any]:
    """An event form's fields as the service takes them (the slug only when
    the event is new: it never changes)."""
    return {"title": {"en": form.get("title_en", ""), "ar": form.get("title_ar", "")},
            "city": form.get("city", ""), "start": form.get("start", "").strip(),
            "end": form.get("end", "").strip(),
            "description": {"en": form.get("description_en", ""),
                            "ar": form.get("description_ar", "")}}


def _workshop_data(form: Any) -> dict[str, Any]:
    # the form's text; the service takes a number (JSON's type)
    number = validate.integer(form.get("number", "").strip(), "number", 1,
                              validate.MAX_WORKSHOP_NUMBER)
    return {"number": number,
            "title": {"en": form.get("title_en", ""), "ar": form.get("title_ar", "")},
            "description": {"en": form.get("description_en", ""),
                            "ar": form.get("description_ar", "")}}


def _event_form(e: Any) -> dict[str, str]:
    """An event as its form's fields."""
    return {"slug": e["slug"], "title_en": e["title"]["en"], "title_ar": e["title"]["ar"],
            "city": e["city"] or "", "start": e["start"] or "", "end": e["end"] or "",
            "description_en": e["description"]["en"], "description_ar": e["description"]["ar"]}


def _workshop_form(w: dict[str, Any]) -> dict[str, str]:
    return {"number": str(w["number"]), "title_en": w["title"]["en"],
            "title_ar": w["title"]["ar"], "description_en": w["description"]["en"],
            "description_ar": w["description"]["ar"]}


def _refused(e: BadRequest | Conflict) -> dict[str, Any]:
    """What a refused form is rendered with: the message in the interface
    language, the field it names (highlighted), the status."""
    return {"error": translate_error(e), "error_field": error_field(e)}


# ------------------------------------------------------------------ events
def _events_page(form: dict[str, str] | None = None, status: int = 200, **err: Any) -> Any:
    with lib().db.connect() as conn:
        items = events_service.list_events(conn)
        counts = {e["id"]: len(events_service.list_workshops(conn, e["id"])) for e in items}
    return render_template("curate_events.html", events=items, workshop_counts=counts,
                           form=form or {}, **err), status


@bp.get("/events")
@requires("manage_events")
def events() -> Any:
    return _events_page()


@bp.post("/events")
@requires("manage_events")
def add_event() -> Any:
    try:
        data = {"slug": request.form.get("slug", ""), **_event_data(request.form)}
        ev = events_service.create_event(lib(), who(), data, via())
    except (BadRequest, Conflict) as e:
        return _events_page(request.form.to_dict(), e.status, **_refused(e))
    flash(_("Event created."))
    return redirect(f"/curate/events/{ev['slug']}")


def _event_page(slug: str, form: dict[str, str] | None = None,
                ws_form: dict[str, str] | None = None, status: int = 200,
                **err: Any) -> Any:
    with lib().db.connect() as conn:
        ev = events_service.event_dict(events_service.get_event(conn, slug))
        workshops = events_service.list_workshops(conn, ev["id"])
    documents = docs_service.all_for_curators(lib(), who(), "title", False)
    return render_template(
        "curate_event.html", ev=ev, workshops=workshops, form=form or _event_form(ev),
        ws_form=ws_form or {}, inside=[d for d in documents if d["event"] == slug],
        outside=[d for d in documents if d["event"] != slug], **err), status


@bp.get("/events/<slug>")
@requires("manage_events")
def event(slug: str) -> Any:
    return _event_page(slug)


@bp.post("/events/<slug>")
@requires("manage_events")
def save_event(slug: str) -> Any:
    try:
        events_service.change_event(lib(), who(), slug, _event_data(request.form), via())
    except (BadRequest, Conflict) as e:
        return _event_page(slug, form={**request.form.to_dict(), "slug": slug},
                           status=e.status, **_refused(e))
    flash(_("Saved."))
    return redirect(f"/curate/events/{slug}")


@bp.post("/events/<slug>/workshops")
@requires("manage_events")
def add_workshop(slug: str) -> Any:
    try:
        wid = events_service.create_workshop(lib(), who(), slug, _workshop_data(request.form),
                                             via())["id"]
    except (BadRequest, Conflict) as e:
        return _event_page(slug, ws_form=request.form.to_dict(), status=e.status,
                           ws_error=translate_error(e), **_ws_field(e))
    flash(_("Workshop added."))
    return redirect(f"/curate/workshops/{wid}")


def _ws_field(e: BadRequest | Conflict) -> dict[str, Any]:
    return {"ws_error_field": _refused(e)["error_field"]}


def _ids() -> list[int]:
    return curation.bulk_ids(request.form.getlist("ids"), form=True)


@bp.post("/events/<slug>/documents")
@requires("manage_events")
def event_documents(slug: str) -> Any:
    """Put the checked documents in the event (``action=attach``) or take
    them out (``action=detach``)."""
    with lib().db.connect() as conn:
        events_service.get_event(conn, slug)  # 404 before the form is read
    try:
        ids = _ids()
        if request.form.get("action") == "detach":
            curation.detach(lib(), who(), ids, slug)
            flash(_("Removed %(n)d document(s) from the event.", n=len(ids)))
        else:
            curation.attach(lib(), who(), ids, slug)
            flash(_("Added %(n)d document(s) to the event.", n=len(ids)))
    except BadRequest as e:
        return _event_page(slug, status=e.status, docs_error=translate_error(e))
    return redirect(f"/curate/events/{slug}#documents")


# --------------------------------------------------------------- workshops
def _workshop_page(workshop_id: int, form: dict[str, str] | None = None, status: int = 200,
                   **err: Any) -> Any:
    with lib().db.connect() as conn:
        w = events_service.get_workshop(conn, workshop_id)
        ev = events_service.event_dict(events_service.get_event(conn, w["event"]))
    documents = docs_service.all_for_curators(lib(), who(), "title", False)

    def here(d: dict[str, Any]) -> bool:
        return bool(d["workshop"] and d["workshop"]["id"] == workshop_id)

    return render_template(
        "curate_workshop.html", w=w, ev=ev, form=form or _workshop_form(w),
        inside=[d for d in documents if here(d)],
        outside=[d for d in documents if not here(d)], **err), status


@bp.get("/workshops/<int:workshop_id>")
@requires("manage_events")
def workshop(workshop_id: int) -> Any:
    return _workshop_page(workshop_id)


@bp.post("/workshops/<int:workshop_id>")
@requires("manage_events")
def save_workshop(workshop_id: int) -> Any:
    try:
        events_service.change_workshop(lib(), who(), workshop_id,
                                       _workshop_data(request.form), via())
    except (BadRequest, Conflict) as e:
        return _workshop_page(workshop_id, request.form.to_dict(), e.status, **_refused(e))
    flash(_("Saved."))
    return redirect(f"/curate/workshops/{workshop_id}")


@bp.post("/workshops/<int:workshop_id>/documents")
@requires("manage_events")
def workshop_documents(workshop_id: int) -> Any:
    with lib().db.connect() as conn:
        w = events_service.get_workshop(conn, workshop_id)
    try:
        ids = _ids()
        if request.form.get("action") == "detach":
            curation.detach(lib(), who(), ids, w["event"], w["number"])
            flash(_("Removed %(n)d document(s) from the workshop.", n=len(ids)))
        else:
            curation.attach(lib(), who(), ids, w["event"], w["number"])
            flash(_("Added %(n)d document(s) to the workshop.", n=len(ids)))
    except BadRequest as e:
        return _workshop_page(workshop_id, status=e.status, docs_error=translate_error(e))
    return redirect(f"/curate/workshops/{workshop_id}#documents")
