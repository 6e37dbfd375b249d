"""PPTX speaker notes: kept apart from the slides' text, indexed and shown
only where the document's readers may see them (extract.speaker_notes, the
upload's notes option), and removed from every index in the transaction
that makes a presentation public.

slides.pptx has notes on every slide (slides_notes.txt, slides_truth.json)."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from conftest import FakeEmbedder, csrf_of, make_config
from doclib import accounts, audience, store
from doclib.auth import principal_for_role
from doclib.index import lexical
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import search
from doclib.text import normalise

# words and phrases that only the notes hold (not the slides' title or body)
NOTES_ONLY = "Jordan Lebanon survey emphasise"
NOTE_QUESTION = "open house for delegates from Jordan and Lebanon"
NOTE_EN = "Mention the open house for delegates from Jordan and Lebanon"
NOTE_AR = "شريحة العنوان: تُعرض في بداية الجلسة مع شعار مدينة آرهوس."
PASSWORDS = {"member": "member-pass-1", "curator": "curator-pass-1"}


def notes_lines(fixtures_dir) -> list[str]:
    return [x for x in (fixtures_dir / "slides_notes.txt").read_text(encoding="utf-8")
            .splitlines() if x.strip()]


def holds_notes(text_: str, lines: list[str]) -> bool:
    t = normalise(text_)
    return any(normalise(line) in t for line in lines)


def notes_rows(lib, doc_id: int) -> list:
    c = store.chunks
    with lib.db.connect() as conn:
        return conn.execute(select(c.c.id, c.c.page_start, c.c.text).where(
            c.c.document_id == doc_id, c.c.source == "notes")).all()


def lexical_hits(lib, table: str, words: str = NOTES_ONLY) -> int:
    with lib.db.connect() as conn:  # every chunk of the table holding one of the words
        return len(lexical.search(conn, words, 100_000, "1 = 1", {}, table))


def assert_indexes_agree(lib) -> None:
    """The FAISS index holds exactly the chunks of the database."""
    with lib.db.connect() as conn:
        ids = {r[0] for r in conn.execute(select(store.chunks.c.id))}
    assert set(int(i) for i in lib.vectors.ids()) == ids
    with lib.db.connect() as conn:
        for table in audience.PARTIAL_TABLES:
            assert lexical.count(conn, table) == audience.expected_count(conn, table)
        assert lexical.count(conn) == len(ids)


def visitor_sees_no_notes(lib, lines: list[str]) -> None:
    for q in (NOTE_QUESTION, NOTES_ONLY, "البيت المفتوح", NOTE_AR):
        res = search(lib, principal_for_role("visitor"), q, k=10)
        for r in res["results"]:
            for p in r["passages"]:
                assert not holds_notes(p["text"], lines), (q, p["text"])
    assert lexical_hits(lib, "chunk_terms_l0") == 0


# ---------------------------------------------------------------- library
@pytest.fixture
def pptx_lib(tmp_path):
    def make(**overrides):
        library = Library(make_config(tmp_path, **overrides), embedder=FakeEmbedder())
        made.append(library)
        return library

    made: list[Library] = []
    yield make
    for library in made:
        library.close()


def test_public_presentation_indexes_no_notes(pptx_lib, fixtures_dir):
    lib = pptx_lib()
    lines = notes_lines(fixtures_dir)
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access="public"))
    assert r.status == "ready"
    assert notes_rows(lib, r.document_id) == []
    with lib.db.connect() as conn:
        texts = [t for (t,) in conn.execute(select(store.chunks.c.text))]
    assert texts and not any(holds_notes(t, lines) for t in texts)
    for table in lexical.tables():
        assert lexical_hits(lib, table) == 0
    visitor_sees_no_notes(lib, lines)
    assert_indexes_agree(lib)


def test_members_presentation_notes_are_passages_of_their_own(pptx_lib, fixtures_dir):
    lib = pptx_lib()
    lines = notes_lines(fixtures_dir)
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access="members"))
    rows = notes_rows(lib, r.document_id)
    # one passage per slide's notes, on the slide's page, holding only notes
    assert sorted(row.page_start for row in rows) == [1, 2, 3, 4, 5]
    assert all(holds_notes(row.text, lines) for row in rows)
    c = store.chunks
    with lib.db.connect() as conn:
        slide_texts = [t for (t,) in conn.execute(select(c.c.text).where(
            c.c.document_id == r.document_id, c.c.source != "notes"))]
    assert slide_texts and not any(holds_notes(t, lines) for t in slide_texts)
    assert r.chunks == len(slide_texts) + len(rows)
    # members (and curators) find them; visitors see neither them nor their terms
    assert lexical_hits(lib, "chunk_terms_l1") > 0 and lexical_hits(lib, "chunk_terms") > 0
    res = search(lib, principal_for_role("member"), NOTE_QUESTION, k=3)
    assert res["results"][0]["document"]["id"] == r.document_id
    assert any("Jordan" in p["text"] for p in res["results"][0]["passages"])
    assert search(lib, principal_for_role("visitor"), NOTE_QUESTION)["total"] == 0
    assert lexical_hits(lib, "chunk_terms_l0") == 0
    assert_indexes_agree(lib)


@pytest.mark.parametrize("setting,access,notes,expected", [
    ("always", "public", None, True),
    ("never", "members", None, False),
    ("non-public", "public", "include", True),
    ("non-public", "members", "exclude", False),
    ("never", "members", "include", True),
    ("always", "public", "exclude", False),
])
def test_setting_and_upload_option(pptx_lib, fixtures_dir, setting, access, notes, expected):
    lib = pptx_lib(**{"extract.speaker_notes": setting})
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access=access, notes=notes))
    assert r.status == "ready"
    assert bool(notes_rows(lib, r.document_id)) is expected
    assert_indexes_agree(lib)


@pytest.mark.parametrize("first,then,expected", [("members", 0, False), ("public", 1, True)])
def test_an_access_change_during_ingestion_decides(pptx_lib, fixtures_dir, monkeypatch,
                                                   first, then, expected):
    """The commit decides again under the write lock: an edit made while the
    file was being extracted and embedded is what counts."""
    import doclib.ingest as ingest_mod

    lib = pptx_lib()
    real = ingest_mod.extract
    edits = []

    def extract_then_edit(path, kind, cfg, stop=None):
        out = real(path, kind, cfg, stop=stop)
        with lib.db.connect() as conn:
            doc_id = conn.execute(select(store.documents.c.id)).scalar_one()
        ingest_mod.update_document(lib, doc_id, {"access": then})
        edits.append(doc_id)
        return out

    monkeypatch.setattr(ingest_mod, "extract", extract_then_edit)
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access=first))
    assert edits == [r.document_id] and r.status == "ready"
    assert bool(notes_rows(lib, r.document_id)) is expected
    assert r.chunks == len(lib.vectors.ids())
    assert lexical_hits(lib, "chunk_terms_l0") == 0
    assert_indexes_agree(lib)


def test_notes_option_is_validated(pptx_lib, fixtures_dir):
    lib = pptx_lib()
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(notes="maybe"))
    assert r.status == "failed" and "notes must be one of" in r.error


def test_a_stricter_setting_removes_indexed_notes_when_the_library_opens(tmp_path,
                                                                        fixtures_dir):
    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access="members"))
    assert notes_rows(lib, r.document_id)
    lib.close()
    lib = Library(make_config(tmp_path, **{"extract.speaker_notes": "never"}),
                  embedder=FakeEmbedder())
    try:
        assert notes_rows(lib, r.document_id) == []
        assert lexical_hits(lib, "chunk_terms") == 0
        assert_indexes_agree(lib)
    finally:
        lib.close()


def test_presentations_from_before_the_split_are_extracted_again(tmp_path, fixtures_dir):
    """Migration 0006 lists the presentations whose passages hold their notes;
    ``doclib check --repair`` extracts them again."""

    from doclib import maintenance

    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    try:
        r = ingest_file(lib, fixtures_dir / "slides.pptx", IngestOptions(access="public"))
        other = ingest_file(lib, fixtures_dir / "en_summit.txt", IngestOptions(access="public"))
        lib.db.downgrade("0005")
        lib.db.migrate()
        from doclib.ingest import notes_pending

        assert notes_pending(lib) == [r.document_id] != [other.document_id]
        report = maintenance.check(lib)
        assert not next(x for x in report["checks"] if x["name"] == "speaker notes")["ok"]
        report = maintenance.check(lib, repair=True)
        assert report["ok"] and any("speaker notes apart" in x for x in report["repaired"])
        assert notes_pending(lib) == []
        assert notes_rows(lib, r.document_id) == []  # public: the setting leaves them out
        assert_indexes_agree(lib)
    finally:
        lib.close()


# ---------------------------------------------------------------------- web
@pytest.fixture
def app(tmp_path):
    from doclib.web import create_app

    application = create_app(make_config(tmp_path), embedder=FakeEmbedder())
    lib = application.extensions["doclib"]
    with lib.db.begin() as conn:
        for role, pw in PASSWORDS.items():
            accounts.add_user(conn, f"{role}@example.org", pw, role)
    application.testing = True
    yield application
    application.extensions["doclib_jobs"].shutdown()
    lib.close()


def client(app, role: str = "visitor"):
    c = app.test_client()
    if role != "visitor":
        page = c.get("/login").get_data(as_text=True)
        r = c.post("/login", data={"email": f"{role}@example.org", "password": PASSWORDS[role],
                                   "csrf_token": csrf_of(page), "next": "/"})
        assert r.status_code == 302
    return c


def csrf(c) -> dict[str, str]:
    return {"X-CSRF-Token": csrf_of(c.get("/login").get_data(as_text=True))}


def upload(app, fixtures_dir, **form) -> int:
    c = client(app, "curator")
    data = (fixtures_dir / "slides.pptx").read_bytes()
    r = c.post("/api/v1/documents", headers=csrf(c),
               data={"file": (io.BytesIO(data), "slides.pptx"), "type": "presentation",
                     **form}, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["job"]
    app.extensions["doclib_jobs"].wait(job_id, timeout=120)
    job = c.get(f"/api/v1/jobs/{job_id}").get_json()["job"]
    assert job["status"] == "ready", job
    return int(job["document_id"])


def notes_blocks(html: str) -> int:
    return html.count('<aside class="notes"')


def test_web_public_upload_shows_no_notes(app, fixtures_dir):
    lib = app.extensions["doclib"]
    lines = notes_lines(fixtures_dir)
    doc_id = upload(app, fixtures_dir, access="public")
    visitor = client(app)
    res = visitor.get("/api/v1/search", query_string={"q": NOTE_QUESTION}).get_json()
    assert not holds_notes(json.dumps(res, ensure_ascii=False), lines)
    html = visitor.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "Summit in numbers" in html  # the slides are there
    assert notes_blocks(html) == 0 and "Jordan" not in html and "survey" not in html
    doc = visitor.get(f"/api/v1/documents/{doc_id}").get_json()["document"]
    assert not any(p["notes"] for pg in doc["pages_text"] for p in pg["passages"])
    visitor_sees_no_notes(lib, lines)


def test_web_member_finds_a_note_marked_as_a_note(app, fixtures_dir):
    doc_id = upload(app, fixtures_dir, access="members")
    member = client(app, "member")
    res = member.get("/api/v1/search", query_string={"q": NOTE_QUESTION}).get_json()
    assert res["results"][0]["document"]["id"] == doc_id
    assert any("Jordan" in p["text"] for p in res["results"][0]["passages"])
    html = member.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert notes_blocks(html) == 5  # one per slide
    block = html[html.index('<aside class="notes" aria-labelledby="notes-4"'):]
    block = block[:block.index("</aside>")]
    assert ">Speaker notes</h4>" in block and NOTE_EN in block
    pages = member.get(f"/api/v1/documents/{doc_id}").get_json()["document"]["pages_text"]
    marked = [p["text"] for pg in pages for p in pg["passages"] if p["notes"]]
    assert len(marked) == 5 and any(NOTE_EN in t for t in marked)
    # in Arabic, the block is labelled in Arabic
    member.set_cookie("lang", "ar")
    html = member.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert html.count(">ملاحظات المتحدث</h4>") == 5 and ">Speaker notes</h4>" not in html
    # visitors: the document does not exist
    assert client(app).get(f"/documents/{doc_id}").status_code == 404


def test_web_members_to_public_removes_notes_at_once(app, fixtures_dir):
    lib = app.extensions["doclib"]
    lines = notes_lines(fixtures_dir)
    doc_id = upload(app, fixtures_dir, access="members")
    assert len(notes_rows(lib, doc_id)) == 5
    c = client(app, "curator")
    r = c.patch(f"/api/v1/documents/{doc_id}", headers=csrf(c), json={"access": "public"})
    assert r.status_code == 200, r.get_json()
    assert notes_rows(lib, doc_id) == []
    for table in lexical.tables():
        assert lexical_hits(lib, table) == 0
    assert_indexes_agree(lib)
    visitor_sees_no_notes(lib, lines)
    html = client(app).get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "Summit in numbers" in html and notes_blocks(html) == 0 and "Jordan" not in html
    # and back: members-only again brings the notes back (the file is read again)
    r = c.patch(f"/api/v1/documents/{doc_id}", headers=csrf(c), json={"access": "members"})
    assert r.status_code == 200
    assert len(notes_rows(lib, doc_id)) == 5
    res = client(app, "member").get("/api/v1/search",
                                    query_string={"q": NOTE_QUESTION}).get_json()
    assert res["results"][0]["document"]["id"] == doc_id
    assert lexical_hits(lib, "chunk_terms_l0") == 0
    assert_indexes_agree(lib)


def test_curate_form_publishing_removes_notes(app, fixtures_dir):
    lib = app.extensions["doclib"]
    doc_id = upload(app, fixtures_dir, access="members")
    c = client(app, "curator")
    html = c.get(f"/curate/documents/{doc_id}").get_data(as_text=True)
    assert 'name="notes"' in html
    r = c.post(f"/curate/documents/{doc_id}",
               data={"csrf_token": csrf_of(html), "title": "Slides", "type": "presentation",
                     "access": "public", "event": "", "workshop": "", "language": "auto",
                     "date": "", "notes": "default"})
    assert r.status_code == 302
    assert notes_rows(lib, doc_id) == []
    visitor_sees_no_notes(lib, notes_lines(fixtures_dir))
    assert_indexes_agree(lib)


def test_publishing_and_removing_notes_are_one_transaction(app, fixtures_dir, monkeypatch):
    """If the notes cannot leave the vector index, the access does not change
    either: there is no state where the document is public with its notes."""
    lib = app.extensions["doclib"]
    doc_id = upload(app, fixtures_dir, access="members")
    vi = lib.vectors

    def broken_save():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vi, "save", broken_save)
    c = client(app, "curator")
    r = c.patch(f"/api/v1/documents/{doc_id}", headers=csrf(c), json={"access": "public"})
    assert r.status_code == 507 and "disk full" in r.get_json()["error"]
    with lib.db.connect() as conn:
        access = conn.execute(select(store.documents.c.access).where(
            store.documents.c.id == doc_id)).scalar_one()
    assert access == 1 and len(notes_rows(lib, doc_id)) == 5
    assert lexical_hits(lib, "chunk_terms_l0") == 0
    monkeypatch.undo()
    assert_indexes_agree(lib)  # the in-memory copy was dropped and reloads


def test_web_upload_notes_option(app, fixtures_dir):
    lib = app.extensions["doclib"]
    public_with = upload(app, fixtures_dir, access="public", notes="include")
    assert len(notes_rows(lib, public_with)) == 5
    html = client(app).get(f"/documents/{public_with}").get_data(as_text=True)
    assert notes_blocks(html) == 5 and NOTE_EN in html
    # the same content again with exclude (an explicit edit): they go
    c = client(app, "curator")
    r = c.patch(f"/api/v1/documents/{public_with}", headers=csrf(c), json={"notes": "exclude"})
    assert r.status_code == 200 and notes_rows(lib, public_with) == []
    r = c.patch(f"/api/v1/documents/{public_with}", headers=csrf(c), json={"access": "members"})
    assert notes_rows(lib, public_with) == []  # excluded whatever the access
    r = c.patch(f"/api/v1/documents/{public_with}", headers=csrf(c), json={"notes": "default"})
    assert len(notes_rows(lib, public_with)) == 5  # members-only: the setting includes them
    assert c.get(f"/api/v1/documents/{public_with}").get_json()["document"]["notes"] \
        == "default"
    r = c.post("/api/v1/documents", headers=csrf(c),
               data={"file": (io.BytesIO(b"x"), "a.txt"), "notes": "sometimes"},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "notes" in r.get_json()["error"]
    assert_indexes_agree(lib)


def test_cli_ingest_notes_option(tmp_path, monkeypatch, fixtures_dir):
    from click.testing import CliRunner

    import doclib.embed
    from doclib.cli import main

    (tmp_path / "config.yaml").write_text("storage:\n  data_dir: data\nembed:\n"
                                          "  second_model: ''\n", encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setattr(doclib.embed, "make_embedder", lambda cfg: FakeEmbedder())
    monkeypatch.setattr("doclib.library.make_embedder", lambda cfg: FakeEmbedder())
    run = CliRunner()
    res = run.invoke(main, ["ingest", str(fixtures_dir / "slides.pptx"), "--access", "public",
                            "--notes", "include", "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    res = run.invoke(main, ["search", NOTE_QUESTION, "--json"], catch_exceptions=False)
    found = json.loads(res.output)["results"]
    assert found and any("Jordan" in p["text"] for p in found[0]["passages"])
    res = run.invoke(main, ["ingest", str(fixtures_dir / "slides.pptx"), "--notes", "exclude",
                            "--update-metadata", "--json"], catch_exceptions=False)
    assert json.loads(res.output)["status"] == "updated"
    res = run.invoke(main, ["search", NOTE_QUESTION, "--json"], catch_exceptions=False)
    assert not any("Jordan" in p["text"] for r in json.loads(res.output)["results"]
                   for p in r["passages"])
    assert out["chunks"] > json.loads(run.invoke(main, [
        "ingest", str(fixtures_dir / "slides.pptx"), "--json"]).output)["chunks"]
