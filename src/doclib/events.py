"""Events and their workshops: creation, lookup, listing, the workshops'
profile vectors, and the YAML catalogue that describes events, workshops
and documents of a folder.  The use-cases at the end (``create_event``,
``change_event``, ``create_workshop``, ``change_workshop``,
``import_catalogue``) check the caller and own their transaction and audit
row: the API, the curation pages and the command line call them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import audit, store, validate
from .auth import Principal, can
from .errors import N_, BadRequest, Conflict, Forbidden, NotFound
from .text import strip_bidi

if TYPE_CHECKING:
    from .embed import Embedder
    from .library import Library


def _bilingual(value: Any, what: str, max_chars: int) -> dict[str, str]:
    if value is None:
        value = {}
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or set(value) - {"en", "ar"}:
        raise BadRequest(N_("%(field)s must be an object with 'en' and/or 'ar'"), field=what)
    out = {}
    for lang in ("en", "ar"):
        v = value.get(lang)
        v = "" if v is None else validate.string(v, f"{what}.{lang}", max_chars)
        out[lang] = strip_bidi(v.strip())
    return out


def _date(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    return validate.date(value, what)


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
    """Create (or, with ``update``, change) an event from JSON or catalogue
    values; each is checked for its type, length and form first."""
    slug = validate.slug(data.get("slug", ""), "slug")
    title = _bilingual(data.get("title"), "title", validate.MAX_TITLE_CHARS)
    if not (title["en"] or title["ar"]):
        raise BadRequest(N_("title: an event needs a title in at least one language"))
    desc = _bilingual(data.get("description"), "description", validate.MAX_DESCRIPTION_CHARS)
    start, end = _date(data.get("start"), "start"), _date(data.get("end"), "end")
    if start and end and end < start:
        raise BadRequest(N_("end is before start"))
    city = data.get("city")
    city = "" if city is None else validate.string(city, "city", validate.MAX_NAME_CHARS)
    values = dict(slug=slug, title_en=title["en"], title_ar=title["ar"],
                  city=strip_bidi(city.strip()), start_date=start, end_date=end,
                  description_en=desc["en"], description_ar=desc["ar"])
    existing = conn.execute(select(store.events.c.id).where(store.events.c.slug == slug)).first()
    if existing:
        if not update:
            raise Conflict(N_("slug: the event '%(slug)s' exists already"), slug=slug)
        conn.execute(store.events.update().where(store.events.c.id == existing.id)
                     .values(**values))
        return int(existing.id)
    return store.inserted_id(conn.execute(store.events.insert().values(**values)))


EVENT_FIELDS = ("title", "city", "start", "end", "description")
WORKSHOP_FIELDS = ("number", "title", "description")


def _unknown(data: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = set(data) - set(known)
    if unknown:
        raise BadRequest(N_("unknown field(s): %(fields)s (these can change: %(known)s)"),
                         fields=", ".join(sorted(unknown)), known=", ".join(known))


def edit_event(conn: Connection, slug: str, data: dict[str, Any]) -> Any:
    """Change an existing event (the web's edit form, the API's PATCH): the
    fields given (``EVENT_FIELDS``; a title or description replaces both
    languages) are checked like a new event's and replace theirs, the others
    keep their values.  The slug stays: pages and documents name it.  The
    event's row after the change."""
    _unknown(data, EVENT_FIELDS)
    current = event_dict(get_event(conn, slug))
    add_event(conn, {**{k: current[k] for k in EVENT_FIELDS}, **data, "slug": slug},
              update=True)
    return get_event(conn, slug)


def get_event(conn: Connection, slug: str) -> Any:
    row = conn.execute(select(store.events).where(store.events.c.slug == slug)).first()
    if row is None:
        raise NotFound(N_("no event '%(slug)s'"), slug=slug)
    return row


def list_events(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(store.events).order_by(store.events.c.start_date.desc(),
                                                       store.events.c.slug)).all()
    return [event_dict(r) for r in rows]


def _workshop_values(data: dict[str, Any]) -> dict[str, Any]:
    number = validate.integer(data.get("number"), "number", 1, validate.MAX_WORKSHOP_NUMBER,
                              text=False)
    title = _bilingual(data.get("title"), "title", validate.MAX_TITLE_CHARS)
    if not (title["en"] or title["ar"]):
        raise BadRequest(N_("title: a workshop needs a title in at least one language"))
    desc = _bilingual(data.get("description"), "description", validate.MAX_DESCRIPTION_CHARS)
    # a new title or description: the related-workshops vector is made again
    return dict(number=number, title_en=title["en"], title_ar=title["ar"],
                description_en=desc["en"], description_ar=desc["ar"], embedding=None)


def add_workshop(conn: Connection, event_slug: str, data: dict[str, Any],
                 update: bool = False) -> int:
    values = _workshop_values(data)
    number = values["number"]
    ev = get_event(conn, event_slug)
    values["event_id"] = ev.id
    w = store.workshops
    existing = conn.execute(select(w.c.id).where(w.c.event_id == ev.id, w.c.number == number))\
        .first()
    if existing:
        if not update:
            raise Conflict(N_("number: workshop %(number)s of '%(event)s' exists already"),
                           number=number, event=event_slug)
        conn.execute(w.update().where(w.c.id == existing.id).values(**values))
        return int(existing.id)
    return store.inserted_id(conn.execute(w.insert().values(**values)))


def edit_workshop(conn: Connection, workshop_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a workshop (the web's edit form, the API's PATCH): the fields
    given (``WORKSHOP_FIELDS``) replace theirs, the others keep their
    values; another workshop of the event with that number is a Conflict.
    The workshop as ``get_workshop`` gives it."""
    _unknown(data, WORKSHOP_FIELDS)
    current = get_workshop(conn, workshop_id)
    values = _workshop_values({**{k: current[k] for k in WORKSHOP_FIELDS}, **data})
    w = store.workshops
    row = conn.execute(select(w.c.event_id).where(w.c.id == workshop_id)).one()
    clash = conn.execute(select(w.c.id).where(w.c.event_id == row.event_id,
                                              w.c.number == values["number"],
                                              w.c.id != workshop_id)).first()
    if clash:
        raise Conflict(N_("number: workshop %(number)s of '%(event)s' exists already"),
                       number=values["number"], event=current["event"])
    conn.execute(w.update().where(w.c.id == workshop_id).values(**values))
    return get_workshop(conn, workshop_id)


def find_workshop(conn: Connection, event_slug: str, number: int) -> Any:
    ev = get_event(conn, event_slug)
    w = store.workshops
    row = conn.execute(select(w).where(w.c.event_id == ev.id, w.c.number == number)).first()
    if row is None:
        raise NotFound(N_("event '%(event)s' has no workshop %(number)s"), event=event_slug,
                       number=number)
    return row


def get_workshop(conn: Connection, workshop_id: int) -> dict[str, Any]:
    w, e = store.workshops, store.events
    row = conn.execute(select(w, e.c.slug).join(e, e.c.id == w.c.event_id)
                       .where(w.c.id == workshop_id)).first()
    if row is None:
        raise NotFound(N_("workshop not found"))
    return workshop_dict(row, row.slug)


def list_workshops(conn: Connection, event_id: int | None = None) -> list[dict[str, Any]]:
    w, e = store.workshops, store.events
    q = select(w, e.c.slug).join(e, e.c.id == w.c.event_id).order_by(e.c.slug, w.c.number)
    if event_id is not None:
        q = q.where(w.c.event_id == event_id)
    return [workshop_dict(r, r.slug) for r in conn.execute(q).all()]


def profile_texts(r: Any) -> list[str]:
    """A workshop's profile: title alone and title with description, per
    language present."""
    out = []
    for title, desc in ((r.title_en, r.description_en), (r.title_ar, r.description_ar)):
        if title:
            out.append(title)
        if desc:
            out.append(f"{title}. {desc}" if title else desc)
    return out


def stored_profile_vectors(r: Any, dim: int) -> np.ndarray | None:
    """A workshop row's stored profile vectors, if they are there and of
    this dimension (None: they must be computed)."""
    texts = profile_texts(r)
    if r.embedding is None or len(r.embedding) != len(texts) * dim * 4:
        return None
    return np.frombuffer(r.embedding, np.float32).reshape(len(texts), dim)


def profile_vectors(r: Any, embedder: Embedder) -> np.ndarray:
    """A workshop row's profile vectors: stored, or computed now."""
    vecs = stored_profile_vectors(r, embedder.dim)
    if vecs is not None:
        return vecs
    texts = profile_texts(r)
    return np.asarray(embedder.embed_passages(texts), np.float32) if texts else \
        np.zeros((0, embedder.dim), np.float32)


def embed_workshops(conn: Connection, embedder: Embedder) -> int:
    """Store the profile vectors of the workshops that lack them (new or
    edited workshops, a library re-embedded with another model); the
    number stored.  The service's start, a catalogue import and ``doclib
    reindex`` call it; a search for related workshops only reads them."""
    w = store.workshops
    done = 0
    for r in conn.execute(select(w).order_by(w.c.id)).all():
        if stored_profile_vectors(r, embedder.dim) is None:
            vecs = profile_vectors(r, embedder)
            conn.execute(w.update().where(w.c.id == r.id).values(embedding=vecs.tobytes()))
            done += 1
    return done


def import_catalogue_events(conn: Connection, data: dict[str, Any]) -> None:
    """Create or update the events and workshops a catalogue declares."""
    events = data.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise BadRequest("events must be a list of events")
    for ev in events:
        add_event(conn, ev, update=True)
        workshops = ev.get("workshops") or []
        if not isinstance(workshops, list) or not all(isinstance(w, dict) for w in workshops):
            raise BadRequest(f"workshops of '{ev['slug']}' must be a list of workshops")
        for ws in workshops:
            add_workshop(conn, ev["slug"], ws, update=True)


# ------------------------------------------------------------ use-cases
def _may_manage(who: Principal) -> None:
    if not can(who, "manage_events"):
        raise Forbidden(N_("curators only"))


def create_event(lib: Library, who: Principal, data: dict[str, Any],
                 via: str = "") -> dict[str, Any]:
    """A new event (``add_event``'s checks), audited: the event."""
    _may_manage(who)
    with lib.db.begin() as conn:
        eid = add_event(conn, data)
        row = conn.execute(select(store.events).where(store.events.c.id == eid)).one()
        audit.record(conn, who.user_id, "event.add", row.slug, via=via)
    return event_dict(row)


def change_event(lib: Library, who: Principal, slug: str, data: dict[str, Any],
                 via: str = "") -> dict[str, Any]:
    """``edit_event``, audited: the event after the change."""
    _may_manage(who)
    with lib.db.begin() as conn:
        row = edit_event(conn, slug, data)
        audit.record(conn, who.user_id, "event.edit", slug, via=via)
    return event_dict(row)


def create_workshop(lib: Library, who: Principal, event_slug: str, data: dict[str, Any],
                    via: str = "") -> dict[str, Any]:
    """A new workshop of an event, audited: the workshop."""
    _may_manage(who)
    with lib.db.begin() as conn:
        workshop = get_workshop(conn, add_workshop(conn, event_slug, data))
        audit.record(conn, who.user_id, "workshop.add", f"{event_slug}/{workshop['number']}",
                     via=via)
    return workshop


def change_workshop(lib: Library, who: Principal, workshop_id: int, data: dict[str, Any],
                    via: str = "") -> dict[str, Any]:
    """``edit_workshop``, audited: the workshop after the change."""
    _may_manage(who)
    with lib.db.begin() as conn:
        workshop = edit_workshop(conn, workshop_id, data)
        audit.record(conn, who.user_id, "workshop.edit",
                     f"{workshop['event']}/{workshop['number']}", via=via)
    return workshop


def import_catalogue(lib: Library, who: Principal, data: dict[str, Any], via: str = "") -> int:
    """``import_catalogue_events`` in one transaction, audited: the number
    of events the catalogue declares."""
    _may_manage(who)
    n = len(data.get("events") or [])
    with lib.db.begin() as conn:
        import_catalogue_events(conn, data)
        audit.record(conn, who.user_id, "event.import", "", f"{n} events", via=via)
    return n


class _CatalogueLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: an unquoted date stays text and is
    checked like any other (PyYAML raises a bare ValueError for 2025-02-30)."""


_CatalogueLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def read_catalogue(path: str | Path) -> dict[str, Any]:
    """A catalogue file: a mapping with ``events`` and ``documents``."""
    p = Path(path)
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_CatalogueLoader) or {}
    except yaml.YAMLError as e:
        raise BadRequest(f"{p} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"{p} must be a mapping with 'events' and 'documents'")
    return data
