"""Events and their workshops: creation, lookup, listing, and the YAML
catalogue that describes events, workshops and documents of a folder."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import store
from .errors import BadRequest, Conflict, NotFound
from .text import strip_bidi

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def _bilingual(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {"en": "", "ar": ""}
    if isinstance(value, str):
        return {"en": value, "ar": ""}
    if not isinstance(value, dict) or set(value) - {"en", "ar"}:
        raise BadRequest(f"{what} must be an object with 'en' and/or 'ar'")
    out = {}
    for lang in ("en", "ar"):
        v = value.get(lang) or ""
        if not isinstance(v, str):
            raise BadRequest(f"{what}.{lang} must be text")
        out[lang] = strip_bidi(v.strip())
    return out


def _date(value: Any, what: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise BadRequest(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def event_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "slug": row.slug, "title": {"en": row.title_en, "ar": row.title_ar},
        "city": row.city, "start": row.start_date, "end": row.end_date,
        "description": {"en": row.description_en, "ar": row.description_ar},
    }


def workshop_dict(row: Any, event_slug: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id, "event": event_slug, "number": row.number,
        "title": {"en": row.title_en, "ar": row.title_ar},
        "description": {"en": row.description_en, "ar": row.description_ar},
    }


def add_event(conn: Connection, data: dict[str, Any], update: bool = False) -> int:
    slug = str(data.get("slug") or "").strip()
    if not _SLUG.fullmatch(slug):
        raise BadRequest("slug must be lower-case letters, digits and hyphens")
    title = _bilingual(data.get("title"), "title")
    if not (title["en"] or title["ar"]):
        raise BadRequest("an event needs a title in at least one language")
    desc = _bilingual(data.get("description"), "description")
    start, end = _date(data.get("start"), "start"), _date(data.get("end"), "end")
    if start and end and end < start:
        raise BadRequest("end is before start")
    values = dict(slug=slug, title_en=title["en"], title_ar=title["ar"],
                  city=strip_bidi(str(data.get("city") or "").strip()),
                  start_date=start, end_date=end,
                  description_en=desc["en"], description_ar=desc["ar"])
    existing = conn.execute(select(store.events.c.id).where(store.events.c.slug == slug)).first()
    if existing:
        if not update:
            raise Conflict(f"event '{slug}' exists")
        conn.execute(store.events.update().where(store.events.c.id == existing.id)
                     .values(**values))
        return int(existing.id)
    return int(conn.execute(store.events.insert().values(**values)).inserted_primary_key[0])


def get_event(conn: Connection, slug: str) -> Any:
    row = conn.execute(select(store.events).where(store.events.c.slug == slug)).first()
    if row is None:
        raise NotFound(f"no event '{slug}'")
    return row


def list_events(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(store.events).order_by(store.events.c.start_date.desc(),
                                                       store.events.c.slug)).all()
    return [event_dict(r) for r in rows]


def add_workshop(conn: Connection, event_slug: str, data: dict[str, Any],
                 update: bool = False) -> int:
    ev = get_event(conn, event_slug)
    try:
        number = int(data.get("number"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadRequest("workshop number must be an integer") from None
    if number < 1:
        raise BadRequest("workshop number must be 1 or more")
    title = _bilingual(data.get("title"), "title")
    if not (title["en"] or title["ar"]):
        raise BadRequest("a workshop needs a title in at least one language")
    desc = _bilingual(data.get("description"), "description")
    values = dict(event_id=ev.id, number=number, title_en=title["en"], title_ar=title["ar"],
                  description_en=desc["en"], description_ar=desc["ar"], embedding=None)
    w = store.workshops
    existing = conn.execute(select(w.c.id).where(w.c.event_id == ev.id, w.c.number == number))\
        .first()
    if existing:
        if not update:
            raise Conflict(f"workshop {number} of '{event_slug}' exists")
        conn.execute(w.update().where(w.c.id == existing.id).values(**values))
        return int(existing.id)
    return int(conn.execute(w.insert().values(**values)).inserted_primary_key[0])


def find_workshop(conn: Connection, event_slug: str, number: int) -> Any:
    ev = get_event(conn, event_slug)
    w = store.workshops
    row = conn.execute(select(w).where(w.c.event_id == ev.id, w.c.number == number)).first()
    if row is None:
        raise NotFound(f"event '{event_slug}' has no workshop {number}")
    return row


def get_workshop(conn: Connection, workshop_id: int) -> dict[str, Any]:
    w, e = store.workshops, store.events
    row = conn.execute(select(w, e.c.slug).join(e, e.c.id == w.c.event_id)
                       .where(w.c.id == workshop_id)).first()
    if row is None:
        raise NotFound("workshop not found")
    return workshop_dict(row, row.slug)


def list_workshops(conn: Connection, event_id: int | None = None) -> list[dict[str, Any]]:
    w, e = store.workshops, store.events
    q = select(w, e.c.slug).join(e, e.c.id == w.c.event_id).order_by(e.c.slug, w.c.number)
    if event_id is not None:
        q = q.where(w.c.event_id == event_id)
    return [workshop_dict(r, r.slug) for r in conn.execute(q).all()]


def import_catalogue_events(conn: Connection, data: dict[str, Any]) -> None:
    """Create or update the events and workshops a catalogue declares."""
    for ev in data.get("events") or []:
        add_event(conn, ev, update=True)
        for ws in ev.get("workshops") or []:
            add_workshop(conn, ev["slug"], ws, update=True)
