"""Domain errors. The core raises these; the CLI and web translate them.

A message is a template marked with ``N_`` plus its parameters:
``BadRequest(N_("%(field)s must be a whole number, got %(value)s"),
field="workshop", value="'x'")``.  ``message`` is the English text (the CLI,
the JSON API, logs); the web pages look the template up in the interface's
catalogue and fill in the same parameters (``web/i18n.translate_error``),
so an Arabic reader gets the core's errors in Arabic.  A parameter may be
another DoclibError (a message inside a message); it is translated too.
"""

import errno
import re
from typing import Any


def N_(template: str) -> str:
    """Marks a message template for the catalogue (scripts/i18n.py extracts
    it); the text itself is unchanged."""
    return template


class DoclibError(Exception):
    """Base of every domain error; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, message: str = "", /, **params: Any) -> None:
        self.template = message or self.__class__.__doc__ or self.__class__.__name__
        self.params = params
        super().__init__(self.template % {k: str(v) for k, v in params.items()}
                         if params else self.template)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(DoclibError):
    """The configuration is invalid."""


class BadRequest(DoclibError):
    """The request is malformed."""

    status = 400


class Unauthorized(DoclibError):
    """Login required."""

    status = 401


class Forbidden(DoclibError):
    """Not allowed."""

    status = 403


class NotFound(DoclibError):
    """Not found."""

    status = 404


class Conflict(DoclibError):
    """Conflict with the current state."""

    status = 409


class TooLarge(DoclibError):
    """The upload is too large."""

    status = 413


class UnsupportedFormat(DoclibError):
    """The file type is not supported."""

    status = 415


class ExtractError(DoclibError):
    """The text of the file could not be extracted.  ``outcome``: the
    ingestion report's status it gives (``failed`` unless a subclass says
    otherwise); the subclasses name why, so no caller reads the message."""

    status = 422
    outcome = "failed"


class Encrypted(ExtractError):
    """The file is encrypted and opens with no empty password."""

    outcome = "encrypted"


class NoText(ExtractError):
    """The file holds no extractable text (image-only pages without OCR ...)."""

    outcome = "empty"


class TooManyPages(ExtractError):
    """More pages than ``extract.max_pages``."""


class TooLong(ExtractError):
    """More words (``extract.max_words``) or passages (``chunk.max_chunks``)
    than can be indexed in bounded time."""


class Unreadable(ExtractError):
    """The file is damaged, or not what its type says (not a readable PDF,
    not UTF-8/UTF-16/Windows-1256 text, a parser's error)."""


class ArchiveRefused(ExtractError):
    """A DOCX/PPTX archive that would inflate too much (a zip bomb)."""


class OverLimits(ExtractError):
    """The extraction ran past its time or memory limit, or its process died."""


def extract_error(name: str, message: str) -> ExtractError:
    """The ExtractError subclass called ``name`` (an error that crossed the
    extraction child's pipe by name) with ``message``; ExtractError itself
    for any other name."""
    known = {c.__name__: c for c in (Encrypted, NoText, TooManyPages, TooLong, Unreadable,
                                     ArchiveRefused, OverLimits)}
    return known.get(name, ExtractError)(message)


class IndexStale(DoclibError):
    """The index does not match the database or the configured embedder."""

    status = 503


class EmbedderUnavailable(DoclibError):
    """The configured embedding backend cannot be loaded."""

    status = 503


class Cancelled(DoclibError):
    """The ingestion was stopped before it finished: cancelled by a curator,
    or (``requeue``) because doclib is stopping, to resume at its next start."""

    status = 409

    def __init__(self, message: str = "", requeue: bool = False) -> None:
        super().__init__(message)
        self.requeue = requeue


class StorageFull(DoclibError):
    """A file could not be written (the disk is full, or a size limit)."""

    status = 507


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # EFBIG: a file-size limit


def storage_error(what: str, e: BaseException) -> DoclibError:
    """A write that failed (``what``: what could not be written), as an
    error that says why in one line: StorageFull when the disk (or a quota,
    or a file-size limit) is full, else a DoclibError.  Reads an OSError,
    SQLite's "database or disk is full" and faiss's "write error ... (No
    space left on device)"."""
    if isinstance(e, OSError):
        reason, full = e.strerror or type(e).__name__, e.errno in _FULL_ERRNOS
    else:
        text = str(getattr(e, "orig", None) or e)
        m = re.search(r"\(([^()]*)\)\s*$", text)
        reason = (m.group(1) if m else text)[:200]
        full = any(w in reason.lower() for w in ("full", "no space", "too large", "quota"))
    if full:
        return StorageFull(f"disk full: {what} ({reason}); free some space and try again")
    return DoclibError(f"storage error: {what} ({reason})")
