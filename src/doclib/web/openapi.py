"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from .. import __version__, validate


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(name: str, schema: dict[str, Any], desc: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": desc}


def _path_id(name: str = "id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _ok(schema: dict[str, Any], desc: str = "OK") -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


# the limits of doclib.validate: anything else is a 400 naming the field
ID = {"type": "integer", "minimum": 1, "maximum": validate.MAX_ID}
TITLE = {"type": "string", "maxLength": validate.MAX_TITLE_CHARS}
DATE = {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
        "description": "YYYY, YYYY-MM or YYYY-MM-DD (a date that exists)"}
WORKSHOP_NUMBER = {"type": "integer", "minimum": 1, "maximum": validate.MAX_WORKSHOP_NUMBER}
ERRORS = {str(code): {"$ref": "#/components/responses/Error"} for code in (400, 401, 403, 404)}
FILTERS = [
    _q("language", {"type": "string", "enum": ["ar", "en"]}, "documents in this language"),
    _q("event", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$",
                 "maxLength": validate.MAX_SLUG_CHARS}, "event slug"),
    _q("type", {"type": "string", "enum": ["presentation", "report", "minutes", "other"]},
       "document type"),
    _q("workshop", ID, "workshop id"),
    _q("year", {"type": "integer", "minimum": validate.MIN_YEAR,
                "maximum": validate.MAX_YEAR}, "year"),
]
BILINGUAL = {"type": "object", "properties": {"en": TITLE, "ar": TITLE}}
BILINGUAL_TEXT = {"type": "object", "properties": {
    lang: {"type": "string", "maxLength": validate.MAX_DESCRIPTION_CHARS} for lang in ("en", "ar")}}
NOTES = {"type": "string", "enum": ["include", "exclude", "default"],
         "description": "PPTX speaker notes: indexed and shown (include), not (exclude), "
                        "or as the setting extract.speaker_notes says (default)"}
UPLOAD = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   "title": TITLE,
                   "type": {"type": "string",
                            "enum": ["presentation", "report", "minutes", "other"]},
                   "access": {"type": "string", "enum": ["public", "members", "curators"]},
                   "event": {"type": "string"}, "workshop": WORKSHOP_NUMBER,
                   "language": {"type": "string", "enum": ["auto", "ar", "en"]},
                   "date": DATE,
                   "notes": NOTES}}}}}
ACCEPTED = _ok({"type": "object", "properties": {"ok": {"const": True},
                                                 "job": {"type": "integer"},
                                                 "status_url": {"type": "string"}}},
               "Accepted: ingestion runs in the background")

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "doclib API", "version": __version__,
             "description": "Bilingual (Arabic/English) document library with semantic "
                            "search. Authenticate with the session cookie (and the "
                            "X-CSRF-Token header for changes) or Authorization: Bearer."},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "cookie": {"type": "apiKey", "in": "cookie",
                                       "name": "doclib_session"}},
        "responses": {"Error": {"description": "Error", "content": {"application/json": {
            "schema": _ref("Error")}}}},
        "schemas": {
            "Error": {"type": "object", "required": ["ok", "error", "status"],
                      "properties": {"ok": {"const": False}, "error": {"type": "string"},
                                     "status": {"type": "integer"}}},
            "Document": {"type": "object", "required": ["id", "title", "language", "type",
                                                        "event", "workshop", "access"],
                         "properties": {
                             "id": {"type": "integer"}, "title": {"type": "string"},
                             "language": {"type": "string"},
                             "languages": {"type": "array", "items": {"type": "string"}},
                             "type": {"type": "string"},
                             "event": {"type": ["string", "null"]},
                             "workshop": {"type": ["object", "null"]},
                             "access": {"type": "string",
                                        "enum": ["public", "members", "curators"]},
                             "year": {"type": ["integer", "null"]},
                             "pages_text": {
                                 "type": "array", "description":
                                 "one document only: per page, its passages and its blocks "
                                 "(heading, paragraph, item, table: the structure of the "
                                 "original, never speaker notes; empty for documents "
                                 "extracted before it was kept)",
                                 "items": {"type": "object",
                                           "properties": {
                                               "page": {"type": "integer"},
                                               "passages": {"type": "array"},
                                               "blocks": {"type": "array"}}}}}},
            "Passage": {"type": "object", "required": ["text", "page", "highlighted"],
                        "properties": {"text": {"type": "string"},
                                       "page": {"type": ["integer", "null"]},
                                       "highlighted": {"type": "string"}}},
            "SearchResult": {"type": "object", "required": ["document", "score", "passages"],
                             "properties": {"document": _ref("Document"),
                                            "score": {"type": "number", "description":
                                                      "with the mixture fusion, the "
                                                      "probability that this is the answer "
                                                      "among the candidates"},
                                            "other_language": {"type": "boolean"},
                                            "passages": {"type": "array",
                                                         "items": _ref("Passage")}}},
            "Search": {"type": "object", "required": ["ok", "query", "total", "results",
                                                      "facets"],
                       "properties": {
                           "ok": {"const": True}, "query": {"type": "string"},
                           "total": {"type": "integer", "description":
                                     "documents above the relevance floor (matches)"},
                           "close_match": {"type": "boolean", "description":
                                           "false: nothing in the library is close to "
                                           "the question (results is empty)"},
                           "results": {"type": "array", "items": _ref("SearchResult")},
                           "nearest": {"type": "array", "items": _ref("SearchResult"),
                                       "description": "documents under the floor, after "
                                       "the last match (on its page) or instead of any"},
                           "facets": {"type": "object"}}},
            "Workshop": {"type": "object", "properties": {
                "id": {"type": "integer"}, "event": {"type": "string"},
                "number": WORKSHOP_NUMBER, "title": BILINGUAL,
                "description": BILINGUAL_TEXT}},
            "Event": {"type": "object", "properties": {
                "slug": {"type": "string", "maxLength": validate.MAX_SLUG_CHARS},
                "title": BILINGUAL,
                "city": {"type": "string", "maxLength": validate.MAX_NAME_CHARS},
                "start": {"type": ["string", "null"], "format": "date"},
                "end": {"type": ["string", "null"], "format": "date"},
                "description": BILINGUAL_TEXT}},
        },
    },
    "security": [{}, {"bearer": []}, {"cookie": []}],
    "paths": {
        "/search": {"get": {
            "summary": "Search visible documents (hybrid, cross-lingual)",
            "parameters": [_q("q", {"type": "string"}, "question", True),
                           _q("k", {"type": "integer", "minimum": 1, "maximum": validate.MAX_K},
                              "documents per page"),
                           _q("page", {"type": "integer", "minimum": 1,
                                       "maximum": validate.MAX_PAGE}, "page"), *FILTERS],
            "responses": {"200": _ok(_ref("Search")), **ERRORS}}},
        "/documents": {
            "get": {"summary": "List visible documents", "parameters": [
                *FILTERS, _q("limit", {"type": "integer", "minimum": 1,
                                        "maximum": validate.MAX_LISTING}, "page size"),
                _q("offset", {"type": "integer", "minimum": 0, "maximum": validate.MAX_OFFSET},
                   "offset")],
                "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "post": {"summary": "Upload a document (curators)", "requestBody": UPLOAD,
                     "responses": {"202": ACCEPTED, "413": {"$ref": "#/components/responses/"
                                                                    "Error"},
                                   "415": {"$ref": "#/components/responses/Error"},
                                   **ERRORS}}},
        "/documents/delete": {"post": {
            "summary": "Move several documents to the trash (curators); every id is checked "
                       "first, then all go at once",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["ids"], "properties": {"ids": {
                    "type": "array", "items": ID, "minItems": 1, "maxItems": validate.MAX_IDS,
                    "uniqueItems": True}}}}}},
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/documents/{id}": {
            "parameters": [_path_id()],
            "get": {"summary": "A visible document with its text by page",
                    "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "patch": {"summary": "Edit metadata (curators)", "requestBody": {
                "required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "title": TITLE, "type": {"type": "string"},
                        "access": {"type": "string"}, "event": {"type": ["string", "null"]},
                        "workshop": {**WORKSHOP_NUMBER, "type": ["integer", "null"]},
                        "language": {"type": ["string", "null"]},
                        "date": {**DATE, "type": ["string", "null"],
                                 "description": DATE["description"] + "; null or empty "
                                                "clears it"},
                        "notes": NOTES}}}}},
                "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "delete": {"summary": "Move to the trash (curators)",
                       "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/documents/{id}/file": {
            "parameters": [_path_id()],
            "get": {"summary": "Download the original (attachment)",
                    "responses": {"200": {"description": "the file"}, **ERRORS}},
            "post": {"summary": "Replace the file (curators)", "requestBody": UPLOAD,
                     "responses": {"202": ACCEPTED, **ERRORS}}},
        "/documents/{id}/versions": {"get": {
            "summary": "The present file and the previous versions, newest first "
                       "(curators; 404 for anyone else)",
            "parameters": [_path_id()],
            "responses": {"200": _ok({"type": "object", "properties": {
                "current": {"type": "object"}, "versions": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "id": ID, "filename": {"type": "string"}, "size": {"type": "integer"},
                        "kind": {"type": "string"}, "added_at": {"type": "string"},
                        "uploader": {"type": ["string", "null"]},
                        "replaced_at": {"type": "string"},
                        "replaced_by": {"type": ["string", "null"]}}}}}}), **ERRORS}}},
        "/documents/{id}/versions/{version_id}/file": {"get": {
            "summary": "Download a previous version's original (curators; 404 for anyone "
                       "else)",
            "parameters": [_path_id(), _path_id("version_id")],
            "responses": {"200": {"description": "the file"}, **ERRORS}}},
        "/documents/{id}/versions/{version_id}/restore": {"post": {
            "summary": "Make a previous version current again (curators): the content only, "
                       "never the access, title or other metadata; 409 with the report when "
                       "it could not be read (the document stays as it was)",
            "parameters": [_path_id(), _path_id("version_id")],
            "responses": {"200": _ok({"type": "object"}), "409": {
                "$ref": "#/components/responses/Error"}, **ERRORS}}},
        "/trash": {"get": {
            "summary": "Documents in the trash, last deleted first (curators)",
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/trash/{id}/restore": {"post": {
            "summary": "Bring a document back from the trash with the access it had (curators)",
            "parameters": [_path_id()],
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/trash/empty": {"post": {
            "summary": "Delete for good the documents of ids, or (no body) every document in "
                       "the trash (curators)",
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"ids": {
                    "type": "array", "items": ID, "minItems": 1, "maxItems": validate.MAX_IDS,
                    "uniqueItems": True}}}}}},
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/audit": {"get": {
            "summary": "The audit log, newest first (curators and admins)",
            "parameters": [
                _q("action", {"type": "string"}, "one action, e.g. document.delete"),
                _q("user", {"type": "string"}, "an account's e-mail, or cli"),
                _q("document", ID, "a document id"),
                _q("since", {"type": "string", "format": "date"}, "from this day"),
                _q("until", {"type": "string", "format": "date"}, "through this day"),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                _q("offset", {"type": "integer", "minimum": 0,
                              "maximum": validate.MAX_OFFSET}, "offset")],
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/documents/{id}/related": {"get": {
            "summary": "Related visible documents (across languages)",
            "parameters": [_path_id(), _q("k", {"type": "integer", "minimum": 1,
                                                "maximum": validate.MAX_RELATED}, "how many")],
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/jobs/{id}": {"get": {"summary": "Ingestion job status (curators)",
                               "parameters": [_path_id()],
                               "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/jobs/{id}/cancel": {"post": {
            "summary": "Cancel a job (curators): a queued one at once (cancelled), a running "
                       "one at its next step (cancelling, then cancelled); 409 once finished",
            "parameters": [_path_id()],
            "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/workshops/related": {"get": {
            "summary": "Workshops that fit a problem (q) or a document",
            "description": "score: the chance that the workshop is the one asked for "
                           "(thesaurus topic and the workshop's own evidence); topic: the "
                           "topic of the thesaurus shared with the question, or null. An "
                           "empty list: no close match.",
            "parameters": [_q("q", {"type": "string"}, "the problem, in Arabic or English"),
                           _q("document", ID, "a visible document id"),
                           _q("k", {"type": "integer", "minimum": 1,
                                     "maximum": validate.MAX_RELATED},
                              "how many")],
            "responses": {"200": _ok({"type": "object", "properties": {
                "ok": {"const": True}, "results": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "workshop": _ref("Workshop"), "score": {"type": "number"},
                        "reason": {"type": "array", "items": _ref("Passage")},
                        "topic": {"type": ["object", "null"], "properties": {
                            "key": {"type": "string"},
                            "label": {"type": "object", "properties": {
                                "en": {"type": "string"}, "ar": {"type": "string"}}},
                            "situation": {"type": "string"}}}}}}}}),
                **ERRORS}}},
        "/workshops/{id}": {
            "parameters": [_path_id()],
            "get": {"summary": "A workshop, its event and its visible documents (the first "
                               "500; total: how many)",
                    "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "patch": {"summary": "Change a workshop (curators): the fields given (number, "
                                 "title, description) replace theirs",
                      "requestBody": {"required": True, "content": {
                          "application/json": {"schema": _ref("Workshop")}}},
                      "responses": {"200": _ok({"type": "object"}), "409": {
                          "$ref": "#/components/responses/Error"}, **ERRORS}}},
        "/events": {
            "get": {"summary": "Events", "responses": {"200": _ok({"type": "object"})}},
            "post": {"summary": "Create an event (curators)", "requestBody": {
                "required": True, "content": {"application/json": {"schema": _ref("Event")}}},
                "responses": {"201": _ok({"type": "object"}, "Created"), "409": {
                    "$ref": "#/components/responses/Error"}, **ERRORS}}},
        "/events/{slug}": {
            "parameters": [{"name": "slug", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {"summary": "An event with its workshops and visible documents (the first "
                               "500; total: how many)",
                    "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "patch": {"summary": "Change an event (curators): the fields given (title, city, "
                                 "start, end, description) replace theirs; the slug stays",
                      "requestBody": {"required": True, "content": {
                          "application/json": {"schema": _ref("Event")}}},
                      "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
        "/events/{slug}/workshops": {
            "parameters": [{"name": "slug", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {"summary": "Workshops of an event",
                    "responses": {"200": _ok({"type": "object"}), **ERRORS}},
            "post": {"summary": "Add a workshop (curators)", "requestBody": {
                "required": True, "content": {"application/json": {"schema": _ref(
                    "Workshop")}}},
                "responses": {"201": _ok({"type": "object"}, "Created"), **ERRORS}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": _ok({"type": "object"})}}},
    },
}
