"""Rooms import downwards only (issue 11), read from the sources.

- The edges (``web/``, ``cli.py``, ``serve.py`` and ``__main__.py``) reach
  the database through the service rooms: no edge imports ``doclib.store``
  or SQLAlchemy, nor reaches a table through a service's module
  (``events_service.store.events``).
- No core room imports an edge.
- ``documents.py`` (reading a document) and ``related.py`` stand below the
  read and write paths: they import neither ``search.py`` nor ``ingest.py``;
  what they share with search (document summaries, the visible listing,
  highlighting) lives in the rooms below (``listing.py``, ``text.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

EDGES = ("doclib.web", "doclib.cli", "doclib.serve", "doclib.__main__")
BELOW_THE_PATHS = ("doclib.documents", "doclib.related")
PATHS = ("doclib.search", "doclib.ingest")


def _module(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, rooms: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in rooms)


def imports(path: Path, src: Path = SRC) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones resolved;
    ``from . import x`` counts as importing the module ``pkg.x``."""
    module = _module(path, src)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return out


def violations(src: Path = SRC) -> list[str]:
    """One line per offending import statement (or table reached)."""
    found: dict[tuple[Path, int, str], str] = {}

    def report(where: Path, line: int, rule: str, name: str) -> None:
        key = (where, line, rule)
        if key not in found or len(name) < len(found[key]):
            found[key] = name

    for path in sorted((src / "doclib").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module, where, names = _module(path, src), path.relative_to(src), imports(path, src)
        if _within(module, EDGES):
            for line, name in names:
                if _within(name, ("doclib.store", "sqlalchemy")):
                    report(where, line, "an edge imports", name)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                        and node.value.attr == "store":
                    report(where, node.lineno, "an edge reaches the table", f"store.{node.attr}")
        else:
            for line, name in names:
                if _within(name, EDGES):
                    report(where, line, "a core room imports the edge", name)
        if _within(module, BELOW_THE_PATHS):
            for line, name in names:
                if _within(name, PATHS):
                    report(where, line, f"{module} imports", name)
    return sorted(f"{where}:{line}: {rule} {name}" for (where, line, rule), name in found.items())


def test_rooms_import_downwards_only():
    assert violations() == []


def test_the_check_sees_each_kind_of_violation(tmp_path):
    """The checker itself: one planted file of each kind is reported."""
    planted = {
        "web/bad.py": "from .. import store\nfrom ..events import x\nx.store.events.c.id\n",
        "cli.py": "from sqlalchemy import select\n",
        "maintenance.py": "from .web import create_app\nimport doclib.cli\n",
        "documents.py": "from .search import Filters\n",
        "related.py": "from . import ingest\n",
        "index/fine.py": "from ..audience import Access\n",
    }
    for name, body in planted.items():
        (tmp_path / "doclib" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "doclib" / name).write_text(body)
    found = violations(tmp_path)
    assert found == [
        "doclib/cli.py:1: an edge imports sqlalchemy",
        "doclib/documents.py:1: doclib.documents imports doclib.search",
        "doclib/maintenance.py:1: a core room imports the edge doclib.web",
        "doclib/maintenance.py:2: a core room imports the edge doclib.cli",
        "doclib/related.py:1: doclib.related imports doclib.ingest",
        "doclib/web/bad.py:1: an edge imports doclib.store",
        "doclib/web/bad.py:3: an edge reaches the table store.events",
    ]

