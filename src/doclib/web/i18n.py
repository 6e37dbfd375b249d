"""Interface language: Arabic (right-to-left) and English via Flask-Babel
message catalogues.  The choice comes from the ``lang`` cookie set by the
switcher, else the browser's Accept-Language, else the configured default.
Errors, the core's included, are translated here: ``translate_error`` looks
a domain error's template up and names its field as the forms label it."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale, gettext
from flask_babel import lazy_gettext as _l

from ..errors import DoclibError

LOCALES = ("en", "ar")
RTL = {"ar"}
LANG_COOKIE = "lang"


def select_locale() -> str:
    from flask import current_app

    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    best = request.accept_languages.best_match(LOCALES)
    return best or current_app.extensions["doclib_config"].web.default_language


def init(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)

    @app.context_processor
    def _lang() -> dict[str, Any]:
        lang = select_locale()
        return {"lang": lang, "dir": "rtl" if lang in RTL else "ltr",
                "other_lang": "ar" if lang == "en" else "en",
                "pick": lambda d: pick(d, lang),
                "lang_name": _namer("lang"), "type_name": _namer("type"),
                "access_name": _namer("access"), "role_name": _namer("role"),
                "status_name": _namer("status"), "notes_name": _namer("notes")}


NAMES = {
    "lang": {"ar": _l("Arabic"), "en": _l("English"), "und": _l("Unknown language")},
    "type": {"presentation": _l("Presentation"), "report": _l("Report"),
             "minutes": _l("Minutes"), "other": _l("Other")},
    "access": {"public": _l("Public"), "members": _l("Members only"),
               "curators": _l("Curators only")},
    "role": {"visitor": _l("Visitor"), "member": _l("Member"), "curator": _l("Curator"),
             "admin": _l("Admin")},
    "status": {"queued": _l("queued"), "processing": _l("processing"), "ready": _l("ready"),
               "failed": _l("failed"), "encrypted": _l("encrypted"),
               "empty": _l("no text"), "unchanged": _l("unchanged"),
               "updated": _l("updated"), "cancelling": _l("cancelling"),
               "cancelled": _l("cancelled")},
    "notes": {"default": _l("as the library's setting says"),
              "include": _l("include: shown to every reader"),
              "exclude": _l("leave out")},
}


def _namer(kind: str) -> Any:
    return lambda value: str(NAMES[kind].get(value, value))


def pick(bilingual: dict[str, str] | None, lang: str) -> str:
    """The text in the interface language, else the other one."""
    if not bilingual:
        return ""
    return bilingual.get(lang) or bilingual.get("ar" if lang == "en" else "en") or ""


# the fields an error may name (``%(field)s``), as a form labels them
FIELDS = {
    "title": _l("Title"), "type": _l("Type"), "access": _l("Who may read it"),
    "event": _l("Event"), "workshop": _l("Workshop number"), "language": _l("Language"),
    "date": _l("Date"), "notes": _l("Speaker notes (PowerPoint)"), "file": _l("File"),
    "slug": _l("Short name (slug)"), "city": _l("City"), "start": _l("Start date"),
    "end": _l("End date"), "description": _l("Description"), "number": _l("Number"),
    "ids": _l("Documents"), "k": _l("Results per page"), "page": _l("Page"),
    "year": _l("Year"), "document": _l("Document"), "sort": _l("Sort"),
    "document id": _l("Document"), "job id": _l("Upload"), "workshop id": _l("Workshop"),
    "user id": _l("Account"),
}
_IN_LANGUAGE = {"en": _l("in English"), "ar": _l("in Arabic")}


def field_name(field: str) -> str:
    """A field an error names, in the interface language: in Arabic,
    ``title.ar`` is "العنوان (بالعربية)"; in English it keeps the name the
    API and the CLI use (``title.ar``), as does a field this table lacks."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return field
    base, _, sub = field.partition(".")
    name = FIELDS.get(base)
    if name is None:
        return field
    return f"{name} ({_IN_LANGUAGE[sub]})" if sub in _IN_LANGUAGE else str(name)


def translate(template: str, params: dict[str, Any] | None = None) -> str:
    """A message template (marked with ``N_`` in the core or the web) in the
    interface language, with its parameters: a nested error is translated
    too, a field is named as the form labels it."""
    values = {}
    for key, value in (params or {}).items():
        if isinstance(value, DoclibError):
            value = translate_error(value)
        elif key == "field":
            value = field_name(str(value))
        values[key] = value
    return str(gettext(template, **values))  # type: ignore[arg-type]


def translate_error(e: Any) -> str:
    """A domain error's message in the interface language."""
    return translate(e.template, e.params)


def error_field(e: Any) -> str:
    """The form field an error names, to mark it on the form: its
    ``field`` parameter (``title.en`` marks ``title``), else the word its
    message starts with (``type: choose ...``, ``end is before start``)."""
    field = e.params.get("field") or e.template.split(":", 1)[0].split(" ", 1)[0]
    return str(field).split(".")[0]
