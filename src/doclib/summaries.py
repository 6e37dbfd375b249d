"""The documents a caller may see, and the shape they are shown in: the
listing filters (``Filters``: language, event, type, workshop, year), the
columns and joins of a document's summary, ``document_summary`` (its public
shape in results and listings) and ``visible_documents`` (the caller's
audience's visible set, with those columns).  Below the read and write
paths: search, documents, related and the listings share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import validate
from .audience import Access, Visible, VisibleSets
from .auth import Principal
from .errors import N_, BadRequest
from .models import DOC_TYPES, LANGUAGES


@dataclass(frozen=True)
class Filters:
    language: str | None = None
    event: str | None = None
    doc_type: str | None = None
    workshop: int | None = None
    year: int | None = None

    @classmethod
    def parse(cls, args: dict[str, Any]) -> Filters:
        def get(name: str) -> str | None:
            v = args.get(name)
            return str(v).strip() if v not in (None, "") else None

        language, doc_type = get("language"), get("type")
        if language and language not in LANGUAGES:
            raise BadRequest(N_("language must be one of %(choices)s"),
                             choices=", ".join(LANGUAGES))
        if doc_type and doc_type not in DOC_TYPES:
            raise BadRequest(N_("type must be one of %(choices)s"), choices=", ".join(DOC_TYPES))
        event = get("event")
        return cls(language=language, event=validate.slug(event, "event") if event else None,
                   doc_type=doc_type,
                   workshop=validate.optional_integer(get("workshop"), "workshop", 1,
                                                      validate.MAX_ID),
                   year=validate.optional_integer(get("year"), "year", validate.MIN_YEAR,
                                                  validate.MAX_YEAR))

    def sql(self) -> tuple[str, dict[str, Any]]:
        conds: list[str] = []
        params: dict[str, Any] = {}
        if self.language:
            conds.append("(',' || d.languages || ',') LIKE :f_lang")
            params["f_lang"] = f"%,{self.language},%"
        if self.event:
            conds.append("d.event_id = (SELECT id FROM events WHERE slug = :f_event)")
            params["f_event"] = self.event
        if self.doc_type:
            conds.append("d.doc_type = :f_type")
            params["f_type"] = self.doc_type
        if self.workshop is not None:
            conds.append("d.workshop_id = :f_workshop")
            params["f_workshop"] = self.workshop
        if self.year is not None:
            conds.append("d.year = :f_year")
            params["f_year"] = self.year
        return (" AND " + " AND ".join(conds)) if conds else "", params

    def as_dict(self) -> dict[str, Any]:
        return {"language": self.language, "event": self.event, "type": self.doc_type,
                "workshop": self.workshop, "year": self.year}


DOC_COLUMNS = """d.id, d.title, d.language, d.languages, d.doc_type, d.access, d.year, d.date,
    d.original_filename, d.pages, d.kind, d.status, d.created_at, e.slug AS event_slug,
    e.title_en AS event_title_en, e.title_ar AS event_title_ar,
    w.id AS workshop_id, w.number AS workshop_number, w.title_en AS workshop_title_en,
    w.title_ar AS workshop_title_ar"""
DOC_FROM = """documents d LEFT JOIN events e ON e.id = d.event_id
    LEFT JOIN workshops w ON w.id = d.workshop_id"""


def document_summary(row: Any) -> dict[str, Any]:
    """The public shape of a document in results and listings."""
    return {
        "id": row.id, "title": row.title, "language": row.language,
        "languages": [x for x in (row.languages or "").split(",") if x],
        "type": row.doc_type, "access": Access(row.access).name, "year": row.year,
        "date": row.date, "filename": row.original_filename, "pages": row.pages,
        "added": row.created_at,
        "event": row.event_slug,
        "event_title": {"en": row.event_title_en or "", "ar": row.event_title_ar or ""}
        if row.event_slug else None,
        "workshop": {"id": row.workshop_id, "number": row.workshop_number,
                     "title": {"en": row.workshop_title_en or "",
                               "ar": row.workshop_title_ar or ""}}
        if row.workshop_id else None,
    }


def visible_documents(conn: Any, who: Principal, filters: Filters | None = None,
                      ids: list[int] | None = None, sets: VisibleSets | None = None
                      ) -> Visible:
    """Rows of the documents the caller may see (optionally filtered): its
    audience's visible set; with ``sets`` (a library's ``visible_sets``),
    the one built before if nothing changed since (not with ``ids``)."""
    where = (filters or Filters()).sql()
    if sets is not None and ids is None:
        return sets.documents(conn, who.audience, DOC_COLUMNS, DOC_FROM, where)
    return who.audience.documents(conn, DOC_COLUMNS, DOC_FROM, where, ids)
