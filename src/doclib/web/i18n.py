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
                "status_name": _namer("status"), "notes_name": _namer("notes"),
                "action_name": _namer("action"), "via_name": _namer("via"),
                "size_name": size_name}


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
               "cancelled": _l("cancelled"), "deleted": _l("in the trash")},
    "action": {
        "login": _l("logged in"), "login.failed": _l("login failed"),
        "logout": _l("logged out"), "password.change": _l("changed their password"),
        "token.use": _l("used an API token"), "document.upload": _l("uploaded a document"),
        "document.replace": _l("replaced a document's file"),
        "document.edit": _l("edited a document"),
        "document.access": _l("changed who may read a document"),
        "document.delete": _l("moved a document to the trash"),
        "document.restore": _l("restored a document from the trash"),
        "document.purge": _l("trash: deleted for good after the retention"),
        "document.download": _l("downloaded a document that is not public"),
        "version.restore": _l("restored a previous version"),
        "version.download": _l("downloaded a previous version"),
        "trash.empty": _l("emptied the trash (deleted for good)"),
        "job.cancel": _l("cancelled an upload"), "event.add": _l("added an event"),
        "event.import": _l("imported events"), "workshop.add": _l("added a workshop"),
        "event.edit": _l("edited an event"), "workshop.edit": _l("edited a workshop"),
        "event.attach": _l("put documents in an event"),
        "event.detach": _l("took documents out of an event"),
        "user.add": _l("added an account"), "user.role": _l("changed an account's role"),
        "user.disable": _l("disabled an account"), "user.enable": _l("enabled an account"),
        "user.reset-password": _l("reset an account's password"),
        "user.password": _l("set an account's password"),
        "user.token": _l("created an API token"),
        "user.revoke-token": _l("revoked an API token")},
    "via": {"web": _l("web"), "api": _l("API"), "cli": _l("command line")},
    "notes": {"default": _l("as the library's setting says"),
              "include": _l("include: shown to every reader"),
              "exclude": _l("leave out")},
}


SIZE_UNITS = (_l("bytes"), _l("kB"), _l("MB"), _l("GB"))


def size_name(n: int | None) -> str:
    """A file's size in the interface language (decimal units: 1 kB = 1,000 bytes)."""
    x, i = float(n or 0), 0
    while x >= 1000 and i < len(SIZE_UNITS) - 1:
        x, i = x / 1000, i + 1
    return f"{int(n or 0) if i == 0 else f'{x:.1f}'} {SIZE_UNITS[i]}"


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
