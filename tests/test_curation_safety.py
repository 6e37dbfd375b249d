"""Curation that cannot publish by accident (issue 9.1-9.3, 9.6; issue
10.1-10.2): a re-upload never rewrites an existing document's metadata, a
replacement keeps what it does not name and is all-or-nothing, and no
moment exists in which a hidden document's words count in a lower
audience's statistics."""

import io

import pytest
from sqlalchemy import select, text

from conftest import build_web, login
from doclib import store
from doclib.auth import principal_for_role
from doclib.ingest import IngestOptions, ingest_file, ingest_paths
from doclib.search import search

VISITOR = principal_for_role("visitor")
MEMBER = principal_for_role("member")
MINUTES = "Steering committee minutes: the zanzibarite budget line was cut.\n"
REDACTED = "Steering committee minutes: a budget line was discussed.\n"


def doc_row(lib, doc_id):
    with lib.db.connect() as conn:
        return conn.execute(select(store.documents).where(
            store.documents.c.id == doc_id)).one()


def visitor_terms(lib) -> str:
    with lib.db.connect() as conn:
        return " ".join(r[0] for r in conn.execute(text("SELECT terms FROM chunk_terms_l0")))


def found_by(lib, who, query):
    return [r["document"]["id"] for r in search(lib, who, query)["results"]]


# ------------------------------------------------------------ write path
def test_same_content_never_changes_metadata_unless_asked(lib, tmp_path):
    p = tmp_path / "minutes.txt"
    p.write_text(MINUTES)
    first = ingest_file(lib, p, IngestOptions(access="members", doc_type="minutes",
                                             title="Minutes"))
    again = ingest_file(lib, p, IngestOptions(access="public", doc_type="presentation",
                                             title="Slides"))
    assert again.status == "unchanged" and again.document_id == first.document_id
    assert again.existing and again.title == "Minutes"
    assert any("already in the library" in w and "access" in w for w in again.warnings)
    row = doc_row(lib, first.document_id)
    assert (row.access, row.doc_type, row.title) == (1, "minutes", "Minutes")
    assert first.document_id not in found_by(lib, VISITOR, "zanzibarite budget")
    asked = ingest_file(lib, p, IngestOptions(access="public", update_existing=True))
    assert asked.status == "updated" and doc_row(lib, first.document_id).access == 0


def test_replacement_that_names_a_title(lib, tmp_path):
    """A new version with a title in its options becomes ready under that
    title (it raised TypeError: the staged values and the computed title
    were both passed to dict() as keywords)."""
    p = tmp_path / "minutes.txt"
    p.write_text(MINUTES)
    first = ingest_file(lib, p, IngestOptions(access="members", title="Minutes"))
    q = tmp_path / "redacted.txt"
    q.write_text(REDACTED)
    new = ingest_file(lib, q, IngestOptions(title="Redacted minutes"),
                      replace_id=first.document_id)
    assert new.status == "ready" and new.error is None, new
    row = doc_row(lib, first.document_id)
    assert (row.title, row.access) == ("Redacted minutes", 1)


def test_same_content_from_another_path_keeps_metadata(lib, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "m.txt").write_text(MINUTES)
    (tmp_path / "b" / "copy.txt").write_text(MINUTES)
    [first] = ingest_paths(lib, [str(tmp_path / "a")], IngestOptions(access="members"))
    [again] = ingest_paths(lib, [str(tmp_path / "b")], IngestOptions(access="public"))
    assert again.status == "unchanged" and again.document_id == first.document_id
    assert doc_row(lib, first.document_id).access == 1


def test_changed_file_at_same_path_keeps_metadata_unless_asked(lib, tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    p = folder / "minutes.txt"
    p.write_text(MINUTES)
    [first] = ingest_paths(lib, [str(folder)], IngestOptions(access="members"))
    p.write_text(MINUTES + "A second paragraph about prevention in schools.\n")
    [again] = ingest_paths(lib, [str(folder)], IngestOptions(access="public"))
    assert again.status == "ready" and again.document_id == first.document_id
    assert any("already in the library" in w for w in again.warnings)
    assert doc_row(lib, first.document_id).access == 1
    assert first.document_id not in found_by(lib, VISITOR, "prevention in schools")
    p.write_text(MINUTES + "A third version.\n")
    [asked] = ingest_paths(lib, [str(folder)], IngestOptions(access="public",
                                                             update_existing=True))
    assert asked.status == "ready" and doc_row(lib, first.document_id).access == 0


def test_replace_keeps_access_it_does_not_name(lib, tmp_path):
    p, q = tmp_path / "v1.txt", tmp_path / "v2.txt"
    p.write_text(MINUTES)
    q.write_text(REDACTED)
    first = ingest_file(lib, p, IngestOptions(access="public", doc_type="report"))
    r = ingest_file(lib, q, IngestOptions(), replace_id=first.document_id)
    assert r.status == "ready"
    row = doc_row(lib, first.document_id)
    assert (row.access, row.doc_type) == (0, "report")


def test_failed_replacement_keeps_previous_version(lib, tmp_path):
    from pypdf import PdfWriter

    p = tmp_path / "report.txt"
    p.write_text(MINUTES)
    first = ingest_file(lib, p, IngestOptions(access="members"))
    before = doc_row(lib, first.document_id)
    blank = tmp_path / "blank.pdf"
    w = PdfWriter()
    w.add_blank_page(width=100, height=100)
    with open(blank, "wb") as f:
        w.write(f)
    r = ingest_file(lib, blank, IngestOptions(access="public"), replace_id=first.document_id)
    assert r.status == "empty" and "previous version was kept" in r.error
    after = doc_row(lib, first.document_id)
    assert (after.status, after.access, after.stored_name, after.sha256) == \
        ("ready", before.access, before.stored_name, before.sha256)
    assert lib.files.path(after.stored_name).read_text() == MINUTES
    assert first.document_id in found_by(lib, MEMBER, "zanzibarite budget")
    # the broken upload is not kept
    stored = {str(x.relative_to(lib.files.root)) for x in lib.files.root.rglob("*")
              if x.is_file()}
    assert stored == {before.stored_name}


def test_no_moment_where_hidden_words_count_for_visitors(lib, tmp_path, monkeypatch):
    """Members-only minutes replaced by a public redacted version: while the
    new version is being extracted and embedded, and after, the visitors'
    lexical table never holds the old words."""
    p, q = tmp_path / "minutes.txt", tmp_path / "redacted.txt"
    p.write_text(MINUTES)
    q.write_text(REDACTED)
    first = ingest_file(lib, p, IngestOptions(access="members"))
    seen = []
    real = lib.embedder.embed_passages

    def spy(texts):
        seen.append(("zanzibarit" in visitor_terms(lib),
                     doc_row(lib, first.document_id).access))
        return real(texts)

    monkeypatch.setattr(lib.embedder, "embed_passages", spy)
    r = ingest_file(lib, q, IngestOptions(access="public"), replace_id=first.document_id)
    assert r.status == "ready" and seen == [(False, 1)]
    assert "zanzibarit" not in visitor_terms(lib)
    assert doc_row(lib, first.document_id).access == 0
    assert found_by(lib, VISITOR, "budget line discussed")[0] == first.document_id


# ------------------------------------------------------------------ web
def _token(c):
    from conftest import csrf_of

    return csrf_of(c.get("/curate/").get_data(as_text=True))


def _wait(c, job_id):
    import time

    for _ in range(300):
        job = c.get(f"/api/v1/jobs/{job_id}").get_json()["job"]
        if job["status"] not in ("queued", "processing"):
            return job
        time.sleep(0.05)
    pytest.fail("job did not finish")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_web(tmp_path_factory.mktemp("curation"))
    yield app
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


def _upload(c, data, **form):
    r = c.post("/api/v1/documents", headers={"X-CSRF-Token": _token(c)},
               data={"file": (io.BytesIO(data), "minutes.txt"), **form},
               content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    return _wait(c, r.get_json()["job"])


def test_reupload_with_public_selected_does_not_publish(app):
    c = app.test_client()
    login(c, "curator")
    body = b"Minutes of the steering committee on the quokkafield case.\n"
    job = _upload(c, body, access="members", type="minutes")
    doc_id = job["document_id"]
    again = _upload(c, body, access="public", type="presentation", title="Oops")
    assert again["status"] == "unchanged" and again["document_id"] == doc_id
    doc = c.get(f"/api/v1/documents/{doc_id}").get_json()["document"]
    assert (doc["access"], doc["type"]) == ("members", "minutes")
    visitor = app.test_client()
    assert visitor.get(f"/api/v1/documents/{doc_id}").status_code == 404
    res = visitor.get("/api/v1/search", query_string={"q": "quokkafield"}).get_json()
    assert doc_id not in [x["document"]["id"] for x in res["results"]]
    page = c.get(f"/curate/jobs/{again['id']}").get_data(as_text=True)
    assert "already in the library as" in page and f'href="/curate/documents/{doc_id}"' in page
    # a replacement that names no access keeps the document's (public stays public)
    pub = _upload(c, b"A public report on youth centres and sport.\n",
                  access="public", type="report")
    r = c.post(f"/api/v1/documents/{pub['document_id']}/file",
               headers={"X-CSRF-Token": _token(c)},
               data={"file": (io.BytesIO(b"A public report on youth centres, revised.\n"),
                              "r.txt")}, content_type="multipart/form-data")
    assert _wait(c, r.get_json()["job"])["status"] == "ready"
    assert visitor.get(f"/api/v1/documents/{pub['document_id']}").status_code == 200


@pytest.mark.parametrize("field,value", [("workshop", "99"), ("event", "no-such-event"),
                                         ("access", "everyone"), ("type", "poem"),
                                         ("date", "20x5"), ("workshop", "²"),
                                         ("date", "2025-13-45"), ("date", "2025-02-30"),
                                         ("date", "2025-00"), ("workshop", "١"),
                                         ("title", "x" * 501)])
def test_metadata_validated_in_the_request(app, field, value):
    c = app.test_client()
    login(c, "curator")
    form = {"type": "report", "event": "amman-2025", field: value}
    r = c.post("/api/v1/documents", headers={"X-CSRF-Token": _token(c)},
               data={"file": (io.BytesIO(b"some text"), "x.txt"), **form},
               content_type="multipart/form-data")
    assert r.status_code == 400, r.get_json()
    body = r.get_json()
    assert body["ok"] is False and field in body["error"]


def test_upload_form_has_no_default_type(app):
    c = app.test_client()
    login(c, "curator")
    page = c.get("/curate/").get_data(as_text=True)
    select_html = page[page.index('id="f-type"'):]
    select_html = select_html[:select_html.index("</select>")]
    assert "required" in select_html
    assert '<option value="" selected disabled>' in select_html
    assert select_html.count(" selected") == 1
    r = c.post("/curate/upload", data={"csrf_token": _token(c),
                                       "file": (io.BytesIO(b"text"), "x.txt")},
               content_type="multipart/form-data")
    assert r.status_code == 400 and "type" in r.get_data(as_text=True)
