"""Message catalogues: extract the interface strings, merge them into the
Arabic catalogue (keeping its translations) and compile it.

  .venv/bin/python scripts/i18n.py          # extract + update + compile
  .venv/bin/python scripts/i18n.py --check  # exit 1 if a string is untranslated
                                            # or the compiled catalogue is stale
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "src/doclib/web/translations/ar/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def extract() -> object:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
                        "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext", "-k", "N_",
                        "--no-location", "-o", str(pot), str(ROOT / "src")], check=True)
        with pot.open("rb") as f:
            return read_po(f)


def load_po():  # type: ignore[no-untyped-def]
    with PO.open("rb") as f:
        return read_po(f, locale="ar")


def compiled(catalog) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def missing(template, catalog) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for msg in template:
        if not msg.id:
            continue
        got = catalog.get(msg.id)
        strings = got.string if got else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            out.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return out


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def mismatched(catalog) -> list[str]:  # type: ignore[no-untyped-def]
    """Translations whose %(name)s placeholders differ from their message's:
    one the message lacks would fail when the page is drawn."""
    out = []
    for msg in catalog:
        if not msg.id or not msg.string:
            continue
        ids = [msg.id] if isinstance(msg.id, str) else list(msg.id)
        strings = [msg.string] if isinstance(msg.string, str) else list(msg.string)
        want = set().union(*(_PLACEHOLDER.findall(i) for i in ids))
        for s in strings:
            if s and not set(_PLACEHOLDER.findall(s)) <= want:
                out.append(ids[0])
        if len(ids) == 1 and set(_PLACEHOLDER.findall(strings[0])) != want:
            out.append(ids[0])
    return list(dict.fromkeys(out))


def main() -> int:
    template = extract()
    catalog = load_po()
    if "--check" in sys.argv:
        gaps = missing(template, catalog)
        for m in mismatched(catalog):
            print(f"placeholders differ: {m!r}")
            gaps.append(m)
        stale = not MO.exists() or MO.read_bytes() != compiled(catalog)
        for g in gaps:
            print(f"untranslated: {g!r}")
        if stale:
            print("the compiled catalogue is stale: run scripts/i18n.py")
        return 1 if gaps or stale else 0
    catalog.update(template, no_fuzzy_matching=True)
    with PO.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, include_previous=False)
    MO.write_bytes(compiled(load_po()))
    gaps = missing(template, load_po())
    print(f"{len(gaps)} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
