"""Domain errors. The core raises these; the CLI and web translate them."""


class DoclibError(Exception):
    """Base of every domain error; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)

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
    """The text of the file could not be extracted."""

    status = 422


class IndexStale(DoclibError):
    """The index does not match the database or the configured embedder."""

    status = 503


class EmbedderUnavailable(DoclibError):
    """The configured embedding backend cannot be loaded."""

    status = 503
