"""Nothing a caller is shown depends on documents hidden from them: not the
hits (tested elsewhere) and not the scores or the order either.  BM25's
statistics come from one lexical table per audience (migration 0004)."""

from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import FakeEmbedder, make_config
from doclib import audience, curation
from doclib.auth import principal_for_role
from doclib.index import lexical
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import search

PUBLIC = [
    ("p1.txt", "Municipal prevention networks train youth workers and teachers. "
               "The city council funds mentoring for young people at risk."),
    ("p2.txt", "A summit on social cohesion gathered mayors. Teachers described "
               "school programmes and parents asked about online radicalisation."),
]
MEMBERS = ("m1.txt", "Steering committee minutes: mentoring mentoring youth workers "
                     "radicalisation budget for teachers and youth workers.")
CURATORS = ("c1.txt", "Draft, curators only: youth workers youth workers mentoring "
                      "radicalisation teachers teachers council council.")
# each audience's lexical table, by level
TABLE = audience.LEXICAL_TABLES
QUERIES = ["youth workers and mentoring", "teachers radicalisation", "council funds mentoring"]


def _build(tmp_path: Path, name: str, docs: list[tuple[str, str, str]]) -> Library:
    folder = tmp_path / name
    folder.mkdir()
    lib = Library(make_config(folder), embedder=FakeEmbedder())
    for fname, body, access in docs:
        p = folder / fname
        p.write_text(body, encoding="utf-8")
        r = ingest_file(lib, p, IngestOptions(access=access, language="en"))
        assert r.status == "ready"
    return lib


def _seen(lib: Library, role: str, query: str) -> list[tuple]:
    res = search(lib, principal_for_role(role), query)
    # the matches and the documents under the relevance floor: all of it is shown
    return [(r["document"]["id"], r["score"],
             tuple((p["text"], p["score"]) for p in r["passages"]))
            for r in res["results"] + res["nearest"]]


@pytest.fixture
def libraries(tmp_path):
    public = [(f, b, "public") for f, b in PUBLIC]
    members = [(*MEMBERS, "members")]
    curators = [(*CURATORS, "curators")]
    libs = {"public": _build(tmp_path, "public", public),
            "members": _build(tmp_path, "members", public + members),
            "all": _build(tmp_path, "all", public + members + curators)}
    yield libs
    for lib in libs.values():
        lib.close()


def test_hidden_documents_move_no_score_and_no_rank(libraries):
    for q in QUERIES:
        seen = _seen(libraries["all"], "visitor", q)
        assert seen and seen == _seen(libraries["public"], "visitor", q), q
        seen = _seen(libraries["all"], "member", q)
        assert len(seen) == 3 and seen == _seen(libraries["members"], "member", q), q
    # the hidden words are there for those who may see them
    assert len(_seen(libraries["all"], "curator", QUERIES[0])) == 4


def test_each_audience_table_holds_what_it_may_see(libraries):
    lib = libraries["all"]
    with lib.db.connect() as conn:
        n = {lv: lexical.count(conn, TABLE[lv]) for lv in (0, 1, 2)}
        assert n == {lv: audience.expected_count(conn, TABLE[lv]) for lv in (0, 1, 2)}
        assert n[0] < n[1] < n[2]


def test_access_changes_move_the_terms(tmp_path):
    lib = _build(tmp_path, "lib", [(*MEMBERS, "members")])
    curator = principal_for_role("curator")

    def counts():
        with lib.db.connect() as conn:
            return tuple(lexical.count(conn, TABLE[lv]) for lv in (0, 1, 2))

    chunks = counts()[2]
    assert counts() == (0, chunks, chunks)
    assert _seen(lib, "visitor", "steering committee") == []
    curation.update(lib, curator, 1, {"access": "public"})  # edited by a curator
    assert counts() == (chunks, chunks, chunks)
    assert len(_seen(lib, "visitor", "steering committee")) == 1
    curation.update(lib, curator, 1, {"access": "curators"})
    assert counts() == (0, 0, chunks)
    assert _seen(lib, "member", "steering committee") == []
    # re-ingesting the same file with other metadata, when asked to change
    # them (--update-metadata), is an edit too
    r = ingest_file(lib, tmp_path / "lib" / MEMBERS[0], IngestOptions(access="members",
                                                                      update_existing=True))
    assert r.status == "updated" and counts() == (0, chunks, chunks)


@pytest.mark.sqlite_only('FTS5 tables filled by migration 0004')
def test_upgrade_fills_the_audience_tables(tmp_path):
    lib = _build(tmp_path, "lib", [(f, b, "public") for f, b in PUBLIC] +
                 [(*MEMBERS, "members"), (*CURATORS, "curators")])
    lib.db.downgrade("0003")
    assert lib.db.current_revision() == "0003"
    lib.db.migrate()
    with lib.db.connect() as conn:
        for lv in (0, 1, 2):
            assert lexical.count(conn, TABLE[lv]) == audience.expected_count(conn, TABLE[lv]) > 0
        trig = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all()
    # access changes move the terms in Python (audience.update_row), not in a trigger
    assert ("documents_access_terms",) not in trig


def test_access_change_moves_terms_in_the_same_transaction(tmp_path):
    """The move is the audience room's Python, inside the caller's
    transaction: a rollback leaves every table as it was."""
    lib = _build(tmp_path, "lib", [(*MEMBERS, "members")])

    def counts(conn):
        return tuple(lexical.count(conn, TABLE[lv]) for lv in (0, 1, 2))

    with lib.db.connect() as conn:
        before = counts(conn)
    chunks = before[2]
    assert before == (0, chunks, chunks)
    with pytest.raises(RuntimeError), lib.db.begin() as conn:
        audience.update_row(conn, 1, {"access": int(audience.Access.public)})
        assert counts(conn) == (chunks, chunks, chunks)
        raise RuntimeError("roll back")
    with lib.db.connect() as conn:
        assert counts(conn) == before
    with lib.db.begin() as conn:
        audience.update_row(conn, 1, {"access": int(audience.Access.curators)})
    with lib.db.connect() as conn:
        assert counts(conn) == (0, 0, chunks)
    lib.close()


def test_row_count_read_from_the_index_matches_count(libraries):
    for lib in libraries.values():
        with lib.db.connect() as conn:
            for lv in (0, 1, 2):
                assert lexical.row_count(conn, TABLE[lv]) == lexical.count(conn, TABLE[lv])
    empty = libraries["public"]
    with empty.db.begin() as conn:
        lexical.clear(conn)
        assert lexical.row_count(conn, TABLE[0]) == 0 == lexical.count(conn, TABLE[0])
        # a multi-byte varint (FTS5 writes the record when the transaction commits)
        conn.execute(text("INSERT INTO chunk_terms(rowid, terms) VALUES (:i, 'x y')"),
                     [{"i": i} for i in range(1, 20001)])
    with empty.db.connect() as conn:
        assert lexical.row_count(conn, TABLE[2]) == 20000 == lexical.count(conn, TABLE[2])
