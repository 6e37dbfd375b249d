"""The visible sets a process reuses (``audience.VisibleSets``) are never
older than the database: a change made by another process (another Library
on the same files), by hand in SQL, to a document, an event or a workshop,
is in the next search."""


import pytest
from sqlalchemy import text

from conftest import FakeEmbedder, by_hand, make_config
from doclib import audience, curation, events
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import search

VISITOR, ADMIN = principal_for_role("visitor"), principal_for_role("admin")


def found(lib, who, query):
    return [r["document"]["id"] for r in search(lib, who, query)["results"]]


@pytest.fixture
def two(tmp_path):
    """Two libraries on the same files: two processes of one service."""
    cfg = make_config(tmp_path)
    a = Library(cfg, embedder=FakeEmbedder())
    p = tmp_path / "report.txt"
    p.write_text("The marimbaphone workshop report on school mediation and mentoring.")
    doc = ingest_file(a, p, IngestOptions(access="public", title="Report")).document_id
    b = Library(cfg, embedder=FakeEmbedder())
    yield a, b, doc, cfg
    a.close()
    b.close()


def test_a_restriction_by_another_process_hides_the_document_at_once(two):
    a, b, doc, _ = two
    assert found(a, VISITOR, "marimbaphone") == [doc]
    assert found(a, VISITOR, "marimbaphone") == [doc]  # the set is reused
    curation.update(b, ADMIN, doc, {"access": "members"})
    assert found(a, VISITOR, "marimbaphone") == []
    assert found(a, principal_for_role("member"), "marimbaphone") == [doc]


def test_a_change_made_by_hand_in_sql_is_seen(two):
    a, _b, doc, cfg = two
    assert found(a, VISITOR, "marimbaphone") == [doc]
    with by_hand(cfg.database_url) as con:
        con.execute(text("UPDATE documents SET status = 'processing' WHERE id = :d"), {"d": doc})
    assert found(a, VISITOR, "marimbaphone") == []


def test_an_event_renamed_elsewhere_shows_its_new_title(two):
    a, b, doc, _ = two
    with b.db.begin() as conn:
        events.add_event(conn, {"slug": "tunis-2027", "title": {"en": "Tunis summit"}})
    curation.update(b, ADMIN, doc, {"event": "tunis-2027"})
    (r,) = search(a, VISITOR, "marimbaphone")["results"]
    assert r["document"]["event_title"]["en"] == "Tunis summit"
    with b.db.begin() as conn:
        conn.exec_driver_sql("UPDATE events SET title_en = 'Tunis 2027' WHERE slug = 'tunis-2027'")
    (r,) = search(a, VISITOR, "marimbaphone")["results"]
    assert r["document"]["event_title"]["en"] == "Tunis 2027"


def test_the_generation_moves_with_each_change_and_sets_are_bounded(two):
    a, _b, doc, _ = two
    with a.db.connect() as conn:
        g0 = audience.generation(conn)
    curation.update(a, ADMIN, doc, {"title": "Renamed"})
    with a.db.connect() as conn:
        assert audience.generation(conn) != g0
    sets = audience.VisibleSets(size=2)
    with a.db.connect() as conn:
        for level in audience.Access:
            sets.documents(conn, audience.Audience(level), "d.id", "documents d")
    assert len(sets._sets) == 2


def test_the_lexical_prefix_plan_gives_the_full_plans_answer(tmp_path):
    """``lexical.search`` with ``prefix`` (the best matches first, joined
    after) returns exactly what the full query returns, also when most
    matches fail the condition (it falls back) and when they tie."""
    from doclib.index import lexical

    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    try:
        ids = []
        for i in range(30):
            p = tmp_path / f"d{i}.txt"
            words = " ".join(["mentoring"] * (1 + i % 4) + ["schools"] * (i % 3))
            p.write_text(f"Report {i}: {words} and youth work number {i}.")
            ids.append(ingest_file(lib, p, IngestOptions(access="public")).document_id)
        with lib.db.begin() as conn:  # most documents not ready: the prefix cannot hold k
            conn.exec_driver_sql(
                f"UPDATE documents SET status = 'processing' WHERE id IN "
                f"({','.join(map(str, ids[:24]))})")
        cond = "d.access <= 0 AND d.status = 'ready'"
        table = audience.LEXICAL_TABLES[audience.Access.public]
        with lib.db.connect() as conn:
            for q in ("mentoring schools", "youth work", "mentoring"):
                for k in (1, 3, 5, 10):
                    full = lexical.search(conn, q, k, cond, {}, table)
                    for prefix in (k + 1, 2 * k, 100):
                        assert lexical.search(conn, q, k, cond, {}, table,
                                              prefix=prefix) == full, (q, k, prefix)
    finally:
        lib.close()


def test_related_workshops_reuse_the_sets_list_of_workshop_documents(tmp_path):
    """The passages of workshop documents are searched with one allow-list
    per visible set (not one made per question, which grows with the
    library); a document's own passages are never its reasons, and a
    visitor's reasons never come from a members-only document."""
    from doclib.related import related_workshops
    from doclib.summaries import visible_documents

    lib = Library(make_config(tmp_path, **{"related.topics": "none"}),
                  embedder=FakeEmbedder())
    try:
        with lib.db.begin() as conn:
            events.add_event(conn, {"slug": "prog", "title": {"en": "Programme"}})
            w1 = events.add_workshop(conn, "prog", {"number": 1, "title": {"en": "Schools"}})
            w2 = events.add_workshop(conn, "prog", {"number": 2, "title": {"en": "Prisons"}})
        docs = {}
        for name, access, workshop in (("a", "public", 1), ("b", "public", 2),
                                       ("c", "members", 2)):
            p = tmp_path / f"{name}.txt"
            p.write_text(f"School mediation and mentoring for pupils, report {name}. " * 12)
            docs[name] = ingest_file(lib, p, IngestOptions(
                access=access, title=name, event="prog", workshop=workshop)).document_id

        def reasons(who, **kw):
            res = related_workshops(lib, who, k=5, **kw)
            return {r["workshop"]["id"]: [x["document"]["id"] for x in r["reason"]
                                          if x["document"]] for r in res}

        got = reasons(VISITOR, doc_id=docs["a"])
        assert got[w2] == [docs["b"]] and docs["a"] not in got.get(w1, [])
        got = reasons(VISITOR, query="school mediation mentoring pupils")
        assert docs["c"] not in sum(got.values(), []) and got[w1] == [docs["a"]]
        member = reasons(principal_for_role("member"), query="school mediation mentoring")
        assert docs["c"] in member[w2]
        with lib.db.connect() as conn:
            visible = visible_documents(conn, VISITOR, sets=lib.visible_sets)
        made = [a for k, a in visible._allowed.items() if k[2] == "workshops"]
        assert len(made) == 1  # one list for every question of this set
        reasons(VISITOR, query="pupils")
        assert [a for k, a in visible._allowed.items() if k[2] == "workshops"] == made
    finally:
        lib.close()
