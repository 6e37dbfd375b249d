"""Curation that cannot publish by accident (issue 9.1-9.3, 9.6; issue
10.1-10.2): a re-upload never rewrites an existing document's metadata, a
replacement keeps what it does not name and is all-or-nothing, and no
moment exists in which a hidden document's words count in a lower
audience's statistics."""

import io
from pathlib import Path

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


# ------------------------------------- documents that never became ready
def _cancelled(lib, path, **opts):
    """A document whose ingestion a curator cancelled (it stays, failed,
    with its original and the access it was uploaded with)."""
    from doclib.errors import Cancelled
    from doclib.jobs import CANCELLED_BY_CURATOR

    def stop():
        raise Cancelled(CANCELLED_BY_CURATOR)

    r = ingest_file(lib, path, IngestOptions(**opts), stop=stop)
    assert r.status == "cancelled" and doc_row(lib, r.document_id).status == "failed"
    return r.document_id


def test_rechunk_never_publishes_a_cancelled_upload(lib, tmp_path):
    """A curator cancels a public upload (the wrong file); a later
    doclib reindex --rechunk made it ready, public and searchable."""
    from doclib.ingest import rechunk

    p = tmp_path / "minutes.txt"
    p.write_text(MINUTES)
    doc_id = _cancelled(lib, p, access="public")
    q = tmp_path / "report.txt"
    q.write_text("A public report on youth centres and sport.\n")
    ready = ingest_file(lib, q, IngestOptions(access="public"))
    assert rechunk(lib) == {"documents": 1, "failed": 0}
    assert doc_row(lib, doc_id).status == "failed"
    assert found_by(lib, VISITOR, "zanzibarite budget") == []
    assert found_by(lib, VISITOR, "youth centres") == [ready.document_id]
    assert "zanzibarit" not in visitor_terms(lib)


def test_retrying_a_failed_document_never_widens_who_reads_it(lib, tmp_path):
    """The same content as a members-only document that failed, found by
    doclib ingest DIR --access public, retried it as a public document."""
    p = tmp_path / "minutes.txt"
    p.write_text(MINUTES)
    doc_id = _cancelled(lib, p, access="members", title="Minutes")
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "copy.txt").write_text(MINUTES)
    [again] = ingest_paths(lib, [str(folder)], IngestOptions(access="public"))
    assert again.status == "ready" and again.document_id == doc_id
    assert any("access did not change" in w for w in again.warnings), again.warnings
    assert doc_row(lib, doc_id).access == 1
    assert found_by(lib, VISITOR, "zanzibarite budget") == []
    assert found_by(lib, MEMBER, "zanzibarite budget") == [doc_id]
    assert "zanzibarit" not in visitor_terms(lib)
    # asked for (--update-metadata), it is published
    other = tmp_path / "other.txt"
    other.write_text(REDACTED)
    cancelled = _cancelled(lib, other, access="members")
    asked = ingest_file(lib, other, IngestOptions(access="public", update_existing=True))
    assert asked.status == "ready" and doc_row(lib, cancelled).access == 0


def test_retrying_a_cancelled_public_upload_as_members_only_applies(lib, tmp_path):
    """Cancelled because public was chosen by mistake, uploaded again as
    members-only: the stricter access is taken."""
    p = tmp_path / "minutes.txt"
    p.write_text(MINUTES)
    doc_id = _cancelled(lib, p, access="public")
    again = ingest_file(lib, p, IngestOptions(access="members"))
    assert again.status == "ready" and again.document_id == doc_id
    assert doc_row(lib, doc_id).access == 1
    assert found_by(lib, VISITOR, "zanzibarite budget") == []


def test_retrying_a_failed_presentation_never_shows_its_notes(lib, tmp_path, fixtures_dir):
    """A public presentation whose notes are hidden (the default) that
    failed, retried with notes=include, does not show them to visitors."""
    p = tmp_path / "slides.pptx"
    p.write_bytes((fixtures_dir / "slides.pptx").read_bytes())
    doc_id = _cancelled(lib, p, access="public")
    again = ingest_file(lib, p, IngestOptions(notes="include"))
    assert again.status == "ready" and any("speaker notes" in w for w in again.warnings)
    with lib.db.connect() as conn:
        sources = {r[0] for r in conn.execute(text(
            "SELECT source FROM chunks WHERE document_id = :d"), {"d": doc_id})}
    assert "notes" not in sources and doc_row(lib, doc_id).speaker_notes is None


def test_web_reupload_of_a_failed_curators_only_document(app, tmp_path):
    """The upload form's default (members) and an API upload naming public
    do not widen a curators-only document whose ingestion failed."""
    lib = app.extensions["doclib"]
    body = "Curators only: the plumbaginous informant list.\n"
    p = tmp_path / "list.txt"
    p.write_text(body)
    doc_id = _cancelled(lib, p, access="curators")
    c = app.test_client()
    login(c, "curator")
    job = _upload(c, body.encode(), access="public", type="other")
    assert job["status"] == "ready" and job["document_id"] == doc_id
    assert any("access" in w for w in job["report"]["warnings"])
    assert "access did not change" in c.get(f"/curate/jobs/{job['id']}").get_data(as_text=True)
    for role in (None, "member"):
        other = app.test_client()
        if role:
            login(other, role)
        assert other.get(f"/api/v1/documents/{doc_id}").status_code == 404
        res = other.get("/api/v1/search", query_string={"q": "plumbaginous informant"})
        assert doc_id not in [x["document"]["id"] for x in res.get_json()["results"]]


# ---------------------------------------------------------- catalogues
def test_catalogue_entry_left_empty_keeps_the_command_line_access(lib, tmp_path):
    """`access:` with no value in a catalogue made a file ingested with
    --access curators members-only."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "list.txt").write_text(MINUTES)
    (folder / "catalogue.yaml").write_text(
        "documents:\n  - file: list.txt\n    access:\n    type:\n    title: List\n")
    [r] = ingest_paths(lib, [str(folder)], IngestOptions(access="curators"))
    assert r.status == "ready" and doc_row(lib, r.document_id).access == 2
    assert found_by(lib, MEMBER, "zanzibarite budget") == []


def test_catalogue_entry_naming_no_file_is_refused(lib, tmp_path):
    """An entry whose file name matches no file of the folder was ignored:
    the file it meant took --access public."""
    from doclib.errors import BadRequest

    folder = tmp_path / "lib"
    (folder / "minutes").mkdir(parents=True)
    (folder / "minutes" / "m.txt").write_text(MINUTES)
    (folder / "catalogue.yaml").write_text(
        "events:\n  - slug: ev-1\n    title: Event one\n"
        "documents:\n  - file: m.txt\n    access: members\n")
    with pytest.raises(BadRequest, match="does not hold: m.txt"):
        list(ingest_paths(lib, [str(folder)], IngestOptions(access="public")))
    with lib.db.connect() as conn:
        assert conn.execute(select(store.documents.c.id)).first() is None
        assert conn.execute(select(store.events.c.id)).first() is None  # nothing changed
    (folder / "catalogue.yaml").write_text(
        "documents:\n  - file: minutes/m.txt\n    access: members\n"
        "  - file: ./minutes/m.txt\n    access: public\n")
    with pytest.raises(BadRequest, match="twice"):
        list(ingest_paths(lib, [str(folder)], IngestOptions(access="public")))


def test_catalogue_names_match_as_written(lib, tmp_path):
    """./name, and an Arabic name decomposed on disk (a copy from a Mac)
    or in the catalogue, name the same file."""
    import unicodedata

    folder = tmp_path / "lib"
    folder.mkdir()
    name = "محضر-اللجنة-آمنة.txt"  # آ decomposes (NFD) into ا + madda
    assert unicodedata.normalize("NFD", name) != name
    (folder / unicodedata.normalize("NFD", name)).write_text(MINUTES)
    (folder / "b.txt").write_text(REDACTED)
    (folder / "catalogue.yaml").write_text(
        f"documents:\n  - file: {name}\n    access: members\n"
        "  - file: ./b.txt\n    access: curators\n", encoding="utf-8")
    reports = list(ingest_paths(lib, [str(folder)], IngestOptions(access="public")))
    assert sorted(doc_row(lib, r.document_id).access for r in reports) == [1, 2]
    assert found_by(lib, VISITOR, "zanzibarite budget") == []


def test_two_uploads_of_the_same_content_at_once_keep_the_first_access(lib, tmp_path):
    """A members-only upload and, while it is being embedded, a public
    upload of the same file (another curator, another worker): the second
    took the document over and its access, and the first committed it
    ready and public."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(MINUTES)
    b.write_text(MINUTES)
    calls, second = [], []

    def stop():  # the last step before the first upload commits
        calls.append(1)
        if len(calls) == 3:
            second.append(ingest_file(lib, b, IngestOptions(access="public")))

    first = ingest_file(lib, a, IngestOptions(access="members"), stop=stop)
    assert second and second[0].document_id == first.document_id
    assert any("access did not change" in w for w in second[0].warnings)
    assert first.status == "ready" and doc_row(lib, first.document_id).access == 1
    assert found_by(lib, VISITOR, "zanzibarite budget") == []
    assert "zanzibarit" not in visitor_terms(lib)


def test_catalogues_of_subfolders_and_of_a_file_given_alone(lib, tmp_path):
    """doclib ingest LIBRARY --access public read only LIBRARY's own
    catalogue: the members-only minutes described by the catalogue of
    LIBRARY/amman-2025 were published; so were they when their file was
    named alone."""
    from doclib.errors import BadRequest

    root = tmp_path / "library"
    event = root / "amman-2025"
    event.mkdir(parents=True)
    (event / "minutes.txt").write_text(MINUTES)
    (event / "catalogue.yaml").write_text(
        "events:\n  - slug: amman-2025\n    title: Amman 2025\n"
        "documents:\n  - file: minutes.txt\n    access: members\n    event: amman-2025\n")
    (root / "report.txt").write_text("A public report on youth centres and sport.\n")
    reports = {Path(r.path).name: r for r in
               ingest_paths(lib, [str(root)], IngestOptions(access="public"))}
    minutes = doc_row(lib, reports["minutes.txt"].document_id)
    assert minutes.access == 1 and minutes.event_id is not None
    assert doc_row(lib, reports["report.txt"].document_id).access == 0
    assert found_by(lib, VISITOR, "zanzibarite budget") == []
    # a file named alone takes its folder's catalogue
    (event / "minutes2.txt").write_text(REDACTED)
    (event / "catalogue.yaml").write_text(
        "documents:\n  - file: minutes.txt\n    access: members\n"
        "  - file: minutes2.txt\n    access: curators\n")
    [alone] = ingest_paths(lib, [str(event / "minutes2.txt")], IngestOptions(access="public"))
    assert doc_row(lib, alone.document_id).access == 2
    # the same file described by two catalogues is an error
    (root / "catalogue.yaml").write_text(
        "documents:\n  - file: amman-2025/minutes.txt\n    access: public\n")
    with pytest.raises(BadRequest, match="two catalogues"):
        list(ingest_paths(lib, [str(root)], IngestOptions()))


def test_an_edit_that_restricts_a_document_during_its_replacement_wins(lib, tmp_path):
    """A new version uploaded as public; while it is being embedded a
    curator makes the document curators-only: the replacement, committing
    after, made it public again."""
    from doclib import curation

    curator = principal_for_role("curator")
    p = tmp_path / "minutes.txt"
    p.write_text(REDACTED)
    first = ingest_file(lib, p, IngestOptions(access="members"))
    q = tmp_path / "new.txt"
    q.write_text(MINUTES)
    calls = []

    def stop():  # the last step before the replacement commits
        calls.append(1)
        if len(calls) == 3:
            curation.update(lib, curator, first.document_id, {"access": "curators"})

    new = ingest_file(lib, q, IngestOptions(access="public"), replace_id=first.document_id,
                      stop=stop)
    assert len(calls) >= 3 and new.status == "ready", new
    assert doc_row(lib, first.document_id).access == 2
    assert any("access" in w for w in new.warnings), new.warnings
    assert found_by(lib, MEMBER, "zanzibarite budget") == []
    assert "zanzibarit" not in visitor_terms(lib)
    # without an edit meanwhile, the replacement's access is taken
    r = tmp_path / "final.txt"
    r.write_text("Steering committee minutes, final: published.\n")
    assert ingest_file(lib, r, IngestOptions(access="public"),
                       replace_id=first.document_id).status == "ready"
    assert doc_row(lib, first.document_id).access == 0


def _edit_form(c, doc_id):
    """The values the curation page's Describe form posts as rendered."""
    import html
    import re

    page = c.get(f"/curate/documents/{doc_id}").get_data(as_text=True)
    form = page[page.index(f'action="/curate/documents/{doc_id}"'):]
    form = form[:form.index("</form>")]
    values = {m[1]: html.unescape(m[2]) for m in
              re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)}
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', m[2]) or \
            re.search(r'<option value="([^"]*)"', m[2])
        values[m[1]] = chosen[1]
    return values


def test_a_stale_edit_page_does_not_undo_a_restriction(app):
    """Curator A opens a public document's Describe page; curator B makes
    it members-only; A fixes a typo in the title and saves: the form sent
    the access it was rendered with and published the document again."""
    a, b = app.test_client(), app.test_client()
    login(a, "curator")
    login(b, "curator")
    job = _upload(a, b"A report on the quillwort youth centre pilot.\n", access="public",
                  type="report", title="Quillwort pilt")
    doc_id = job["document_id"]
    form = _edit_form(a, doc_id)
    assert form["access"] == "public"
    r = b.patch(f"/api/v1/documents/{doc_id}", json={"access": "members"},
                headers={"X-CSRF-Token": _token(b)})
    assert r.status_code == 200
    form["title"] = "Quillwort pilot"
    assert a.post(f"/curate/documents/{doc_id}", data=form).status_code == 302
    doc = a.get(f"/api/v1/documents/{doc_id}").get_json()["document"]
    assert (doc["title"], doc["access"]) == ("Quillwort pilot", "members")
    assert app.test_client().get(f"/api/v1/documents/{doc_id}").status_code == 404
    # a field the curator did change is written, stale page or not
    form = _edit_form(a, doc_id)
    b.patch(f"/api/v1/documents/{doc_id}", json={"title": "Quillwort"},
            headers={"X-CSRF-Token": _token(b)})
    form["access"] = "curators"
    assert a.post(f"/curate/documents/{doc_id}", data=form).status_code == 302
    doc = a.get(f"/api/v1/documents/{doc_id}").get_json()["document"]
    assert (doc["title"], doc["access"]) == ("Quillwort", "curators")


def test_an_edit_while_a_replacement_waits_in_the_queue_wins(app, monkeypatch):
    """A new version sent as public waits behind other uploads; meanwhile
    a curator makes the document curators-only; when the job ran, it
    published the document."""
    from doclib import jobs

    lib = app.extensions["doclib"]
    c = app.test_client()
    login(c, "curator")
    job = _upload(c, b"Draft minutes on the bryophyte safe-house list.\n", access="members",
                  type="minutes")
    doc_id = job["document_id"]
    runner = app.extensions["doclib_jobs"]
    monkeypatch.setattr(runner, "submit", lambda job_id: None)  # it waits, queued
    r = c.post(f"/api/v1/documents/{doc_id}/file", headers={"X-CSRF-Token": _token(c)},
               data={"file": (io.BytesIO(b"Final minutes on the bryophyte list.\n"), "m.txt"),
                     "access": "public"}, content_type="multipart/form-data")
    replace_job = r.get_json()["job"]
    assert c.get(f"/api/v1/jobs/{replace_job}").get_json()["job"]["status"] == "queued"
    assert c.patch(f"/api/v1/documents/{doc_id}", json={"access": "curators"},
                   headers={"X-CSRF-Token": _token(c)}).status_code == 200
    assert jobs.claim(lib, replace_job)
    jobs.run(lib, replace_job)
    done = c.get(f"/api/v1/jobs/{replace_job}").get_json()["job"]
    assert done["status"] == "ready", done
    assert any("access" in w for w in done["report"]["warnings"])
    assert doc_row(lib, doc_id).access == 2
    member = app.test_client()
    login(member, "member")
    assert member.get(f"/api/v1/documents/{doc_id}").status_code == 404
    res = member.get("/api/v1/search", query_string={"q": "bryophyte"}).get_json()
    assert doc_id not in [x["document"]["id"] for x in res["results"]]
