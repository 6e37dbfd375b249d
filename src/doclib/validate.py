"""Values that come from outside (forms, JSON bodies, query strings, URL
paths, command-line options, catalogues): every limit in one place, and the
parsers that hold them.

A failure is a ``BadRequest`` whose message starts with the field's name, so
the API's 400, the error page and the CLI's one line all say what to fix.
Numbers are ASCII digits only (``'²'.isdigit()`` is true and ``int('١')`` is
1), never bools or floats in JSON, and never beyond what SQLite stores.
"""

from __future__ import annotations

import re
from datetime import date as _date
from typing import Any

from .errors import N_, BadRequest

# ids in paths, filters and bodies: SQLite's INTEGER is signed 64-bit
MAX_ID = 2 ** 63 - 1
MAX_TITLE_CHARS = 500  # document, event and workshop titles (each language)
MAX_DESCRIPTION_CHARS = 10_000  # event and workshop descriptions (each language)
MAX_NAME_CHARS = 200  # a city
MAX_SLUG_CHARS = 100  # an event's slug
MAX_FILENAME_CHARS = 255  # an upload's file name (what file systems allow)
MAX_QUERY_CHARS = 1000  # a search or a related-workshops question
MAX_K = 100  # results per search page
MAX_RELATED = 50  # related documents or workshops
MAX_PAGE = 10_000
MAX_LISTING = 500  # documents per listing page
MAX_OFFSET = 10_000_000
MAX_WORKSHOP_NUMBER = 999_999  # a workshop's number within its event
MIN_YEAR, MAX_YEAR = 1000, 9999  # dates are written with four-digit years
MAX_IDS = 1000  # documents in one bulk action

BETWEEN = N_("%(field)s must be between %(lo)s and %(hi)s")
_DIGITS = re.compile(r"[0-9]+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def integer(value: Any, field: str, lo: int, hi: int, *, text: bool = True) -> int:
    """A whole number from ``lo`` to ``hi``: an int (never a bool) or, with
    ``text`` (query strings, forms, options), a string of ASCII digits."""
    if isinstance(value, bool) or not isinstance(value, int | str) or \
            (isinstance(value, str) and not text):
        raise BadRequest(N_("%(field)s must be a whole number, got %(value)s"),
                         field=field, value=show(value))
    if isinstance(value, str):
        raw = value[1:] if value.startswith("-") else value
        if not _DIGITS.fullmatch(raw):
            raise BadRequest(N_("%(field)s must be a whole number written with the digits "
                                "0-9, got %(value)s"), field=field, value=show(value))
        if len(raw) > 20:  # never parse thousands of digits
            raise BadRequest(BETWEEN, field=field, lo=lo, hi=hi)
        value = int(value)
    if not lo <= value <= hi:
        raise BadRequest(BETWEEN, field=field, lo=lo, hi=hi)
    return value


def optional_integer(value: Any, field: str, lo: int, hi: int, *,
                     text: bool = True) -> int | None:
    """``integer``, or None for a missing or empty value."""
    if value is None or value == "":
        return None
    return integer(value, field, lo, hi, text=text)


def ident(value: Any, field: str, *, text: bool = True) -> int:
    """A database id (1 to MAX_ID)."""
    return integer(value, field, 1, MAX_ID, text=text)


def string(value: Any, field: str, max_chars: int) -> str:
    """Text (never a list, number or object) of at most ``max_chars`` characters."""
    if not isinstance(value, str):
        raise BadRequest(N_("%(field)s must be text, got %(value)s"), field=field,
                         value=show(value))
    if len(value) > max_chars:
        raise BadRequest(N_("%(field)s is longer than %(max)s characters"), field=field,
                         max=max_chars)
    return value


def slug(value: Any, field: str) -> str:
    """An event's slug: lower-case letters, digits and hyphens."""
    v = string(value, field, MAX_SLUG_CHARS).strip()
    if not _SLUG.fullmatch(v):
        raise BadRequest(N_("%(field)s must be an event slug (lower-case letters, digits "
                            "and hyphens)"), field=field)
    return v


def date(value: Any, field: str, *, partial: bool = False) -> str:
    """A calendar date YYYY-MM-DD that exists (not 2025-02-30); with
    ``partial``, also YYYY-MM or YYYY."""
    shape = "YYYY, YYYY-MM or YYYY-MM-DD" if partial else "YYYY-MM-DD"
    if isinstance(value, _date):
        return value.isoformat()
    if not isinstance(value, str):
        raise BadRequest(N_("%(field)s must be a date %(shape)s (text), got %(value)s"),
                         field=field, shape=shape, value=show(value))
    m = _DATE.fullmatch(value.strip())
    if not m or (not partial and m.group(3) is None):
        raise BadRequest(N_("%(field)s must be a date %(shape)s, got %(value)s"),
                         field=field, shape=shape, value=show(value))
    year, month, day = (None if g is None else int(g) for g in m.groups())
    try:
        if year is None or not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError
        _date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        raise BadRequest(N_("%(field)s is not a date that exists: %(value)s"),
                         field=field, value=show(value)) from None
    return m.group(0)


def show(value: Any) -> str:
    """A value for an error message: short, and never bigger than the limit."""
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."
