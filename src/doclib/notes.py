"""Speaker notes (PPTX): whether a document's notes are indexed and shown.

Notes are written for the speaker, not for the audience, so they become
passages (``chunks.source = 'notes'``) only where the document's readers may
see them.  The document's own choice (``documents.speaker_notes``: 'include',
'exclude', or NULL) wins; NULL lets the setting ``extract.speaker_notes``
decide: ``non-public`` (notes of documents that are not public), ``always``
or ``never``.  The decision follows the document's access: the write path
(``ingest``) re-checks it under the write lock in the transaction that
changes the access or commits the chunks.
"""

from __future__ import annotations

from typing import Any

from . import audience
from .errors import N_, BadRequest

SETTINGS = ("non-public", "always", "never")
# the upload / edit option -> the column value
CHOICES: dict[str, str | None] = {"include": "include", "exclude": "exclude", "default": None}


def parse_choice(value: str) -> str | None:
    """The column value of an option (include, exclude, default)."""
    if value not in CHOICES:
        raise BadRequest(N_("notes must be one of %(choices)s, got %(value)s"),
                         choices=", ".join(CHOICES), value=repr(value))
    return CHOICES[value]


def choice_name(column: str | None) -> str:
    """The option for a column value (NULL: default)."""
    return column or "default"


def included(choice: str | None, access: int, setting: str) -> bool:
    """Whether a document's notes are indexed and shown."""
    if choice == "include":
        return True
    if choice == "exclude":
        return False
    if setting == "always":
        return True
    if setting == "never":
        return False
    return not audience.is_public(access)


def row_included(row: Any, setting: str, changes: dict[str, Any] | None = None) -> bool:
    """``included`` for a documents row, with ``changes`` (column values) applied."""
    changes = changes or {}
    return included(changes.get("speaker_notes", row.speaker_notes),
                    changes.get("access", row.access), setting)


def excluded_sql(setting: str, alias: str = "d") -> str:
    """SQL condition on the documents table: its notes must not be indexed."""
    default = {"always": "0", "never": "1"}.get(
        setting, f"(CASE WHEN {audience.public_sql(alias)} THEN 1 ELSE 0 END)")
    return (f"(CASE {alias}.speaker_notes WHEN 'include' THEN 0 WHEN 'exclude' THEN 1 "
            f"ELSE {default} END) = 1")
