"""Rewrite the configuration table in README.md from doclib.config (the one
place keys are declared).  Run after adding or changing a key."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from doclib.config import iter_settings  # noqa: E402

START, END = "<!-- config-table -->", "<!-- /config-table -->"


def table() -> str:
    rows = ["| key | default | what it does |", "|---|---|---|"]
    for key, default, help_text, choices in iter_settings():
        shown = '""' if default == "" else str(default).lower() if isinstance(default, bool) \
            else repr(default)
        extra = f" ({' / '.join(choices)})" if choices else ""
        rows.append(f"| `{key}` | `{shown}` | {help_text.replace('|', '/')}{extra} |")
    return "\n".join(rows)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END),
                 f"{START}\n{table()}\n{END}", text, flags=re.S)
    readme.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
