"""Access is decided in one room (``audience.py``): the level, the visible
set and its SQL, the lexical tables, the FAISS allow-list, moving a
document between audiences.  These tests read the sources: a comparison
of an access level, visible-set SQL, an audience table's name or a FAISS
allow-list made anywhere else fails them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from doclib import audience
from doclib.audience import LEXICAL_TABLES, Access, Audience
from doclib.auth import Principal, principal_for_role
from doclib.models import ROLES

SRC = Path(audience.__file__).parent
# migrations are history: 0004 created the audience tables (and the
# trigger that 0009 drops); they are never edited
HISTORY = SRC / "migrations" / "versions"

# SQL (in any string) that decides by access or builds the visible set
SQL_PATTERNS = {
    "compares an access column in SQL": re.compile(
        r"\baccess\s*(<=|>=|<|>|=|!=|<>|\bIN\b|\bBETWEEN\b)", re.I),
    "filters on readiness (the visible set) in SQL": re.compile(r"status\s*=\s*'ready'", re.I),
    "names an audience's lexical table": re.compile(r"chunk_terms_l\d"),
    "uses the visible set's parameter": re.compile(r"max_access"),
}
# Python names that only the audience room (and the index that keeps the
# chunk owners) may use
NAMES = {"allowed_chunks": {"audience.py", "index/vector.py"}}


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py")
                  if p.name != "audience.py" and HISTORY not in p.parents)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            # an f-string's literal parts, with a marker where values go
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}"
                           for v in node.values)
            out.append((node.lineno, text))
    return out


def _is_access(node: ast.AST) -> bool:
    """An expression naming an access level: ``x.access``, ``access``,
    ``row["access"]``, ``Access.members``, ``int(...)`` of one."""
    if isinstance(node, ast.Call) and node.args:
        return _is_access(node.args[0])
    if isinstance(node, ast.Attribute):
        return node.attr in ("access", "max_access") or (
            isinstance(node.value, ast.Name) and node.value.id == "Access")
    if isinstance(node, ast.Name):
        return node.id == "access"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "access"
    return False


def _decisions(path: Path, root: Path = SRC) -> list[str]:
    rel = path.relative_to(root).as_posix()
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    found = []
    for line, s in _strings(tree):
        for what, pattern in SQL_PATTERNS.items():
            if pattern.search(s):
                found.append(f"{rel}:{line} {what}: {s.strip()[:80]!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and \
                any(not isinstance(op, ast.Is | ast.IsNot) for op in node.ops) and \
                any(_is_access(x) for x in [node.left, *node.comparators]):
            found.append(f"{rel}:{node.lineno} compares an access level: "
                         f"{ast.unparse(node)[:80]}")
        name = node.attr if isinstance(node, ast.Attribute) else \
            node.id if isinstance(node, ast.Name) else None
        if name in NAMES and rel not in NAMES[name]:
            found.append(f"{rel}:{node.lineno} uses {name} (the audience's Visible.chunks "
                         "gives FAISS its allow-list)")
    return found


def test_access_is_decided_in_the_audience_room_only():
    found = [f for p in _sources() for f in _decisions(p)]
    assert found == [], "access decided outside audience.py:\n" + "\n".join(found)


def test_the_source_check_finds_a_decision(tmp_path):
    """The check above can fail: each kind of decision it looks for is found."""
    samples = {
        "sql.py": 'cond = f"{alias}.access <= :level AND {alias}.status = \'ready\'"\n',
        "compare.py": "def f(row, level):\n    return row.access > level\n",
        "subscript.py": "def f(d):\n    return int(d['access']) <= 1\n",
        "table.py": 'T = "chunk_terms_l0"\n',
        "faiss.py": "def f(vi, docs):\n    return vi.allowed_chunks(docs)\n",
    }
    for name, code in samples.items():
        p = tmp_path / name
        p.write_text(code, encoding="utf-8")
        assert _decisions(p, tmp_path), name


def test_every_level_has_its_audience():
    """Adding a level is a change in the audience room: every level has a
    lexical table, every role an audience, and the top audience reads all."""
    assert set(LEXICAL_TABLES) == set(Access)
    assert len(set(LEXICAL_TABLES.values())) == len(Access)
    assert {principal_for_role(r).audience.level for r in ROLES} <= set(Access)
    assert principal_for_role("admin").audience.level == max(Access)
    assert audience.ALL_TERMS == LEXICAL_TABLES[max(Access)]
    assert set(audience.PARTIAL_TABLES) == set(LEXICAL_TABLES.values()) - {audience.ALL_TERMS}


def test_an_audience_is_built_once_per_principal():
    who = Principal(role="member", user_id=3)
    assert who.audience is who.audience
    assert who.audience == Audience(Access.members, drafts=False)


@pytest.mark.parametrize(("role", "access", "status", "readable", "visible"), [
    ("visitor", "public", "ready", True, True),
    ("visitor", "members", "ready", False, False),
    ("member", "members", "ready", True, True),
    ("member", "curators", "ready", False, False),
    ("member", "public", "failed", False, False),
    # curators read documents that are not ready one by one (their page in
    # the curation area), but no one finds them in the visible set
    ("curator", "curators", "ready", True, True),
    ("curator", "members", "failed", True, False),
    ("admin", "public", "processing", True, False),
])
def test_may_read_and_the_visible_set_agree(tmp_path, role, access, status, readable,
                                            visible):
    from sqlalchemy import create_engine, text

    aud = principal_for_role(role).audience
    level = int(Access.parse(access))
    assert aud.may_read(level, status) is readable
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE documents(id INTEGER PRIMARY KEY, access INTEGER, "
                          "status TEXT)"))
        conn.execute(text("INSERT INTO documents VALUES (1, :a, :s)"),
                     {"a": level, "s": status})
        assert (1 in aud.documents(conn, "d.id", "documents d")) is visible
        readable_ids = conn.execute(text(
            f"SELECT d.id FROM documents d WHERE {aud.readable_sql()}")).all()
        assert bool(readable_ids) is readable
    engine.dispose()
