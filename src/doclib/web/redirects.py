"""Where a ``next=`` may send the browser: a path on this site, or home.

The value is read the way a browser's URL parser (WHATWG) reads a
``Location`` header: leading and trailing C0 controls and spaces are
stripped, tabs and newlines are removed wherever they are, and a backslash
in the path is a slash.  So ``"/\\t/evil.com"`` becomes ``"//evil.com"``
(another host) and ``"/\\\\evil.com"`` too.  After that, only a path that
starts with exactly one slash is kept: no scheme (``https:evil.com``,
``javascript:``), no authority (``//``), no relative path.  The path is
checked once more after percent-decoding, in case something on the way
decodes it, and anything left that a browser might read as a separator
(control characters, Unicode spaces and format characters) sends the
caller home.  What is returned is the normalised, percent-encoded ASCII
form: the browser gets exactly what was checked.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote

HOME = "/"
_C0_OR_SPACE = "".join(chr(i) for i in range(0x21))
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
# RFC 3986 characters kept as they are (plus "%" for escapes already there)
_PATH_SAFE = "/!$&'()*+,;=:@-._~%"
_REST_SAFE = _PATH_SAFE + "?#"


def _browser_form(value: str) -> str:
    """What a WHATWG URL parser reads before it looks at the scheme."""
    return _TAB_OR_NEWLINE.sub("", value.strip(_C0_OR_SPACE))


def _separator_like(text: str) -> bool:
    """Controls, Unicode spaces and format characters (U+2028, U+FEFF, bidi
    marks ...): never part of a path this site links to."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text)


def _local_path(path: str) -> bool:
    return path.startswith("/") and not path.startswith("//")


def safe_next(target: str | None) -> str:
    """The same-site path ``target`` names, normalised; else the home page."""
    if not target:
        return HOME
    value = _browser_form(target)
    split = re.search(r"[?#]", value)
    path, rest = (value[:split.start()], value[split.start():]) if split else (value, "")
    path = path.replace("\\", "/")
    if not _local_path(path) or _separator_like(path):
        return HOME
    decoded = _browser_form(unquote(path)).replace("\\", "/")
    if not _local_path(decoded) or _separator_like(unquote(path)):
        return HOME
    return quote(path, safe=_PATH_SAFE) + quote(rest, safe=_REST_SAFE)
