"""Curation on the web (issue 9.7, 9.8, 9.12): events and workshops made
and edited by curators, documents put in and taken out; several files per
upload, each with its report; refused forms that come back with what was
typed; errors in the interface language (the core's too), the API's in
English.  Role x route x status for the new pages is in
test_web_permissions.py."""

from __future__ import annotations

import io
import re
import time

import pytest
from sqlalchemy import select

from conftest import csrf_of, doc_ids, login
from doclib import store

REPORT = "amman-2025-summary-report.pdf"
MINUTES = "steering-committee-minutes-2025-11.docx"
ALREADY = "This file is already in the library as"


def curator(app, lang: str | None = None):
    c = app.test_client()
    login(c, "curator")
    if lang:
        c.set_cookie("lang", lang)
    return c


def token(c) -> str:
    return csrf_of(c.get("/curate/").get_data(as_text=True))


def errors_in(html: str) -> list[str]:
    import html as html_mod

    return [html_mod.unescape(m) for m in
            re.findall(r'class="error" role="alert"[^>]*>([^<]*)<', html)]


def audit_rows(app, action: str) -> list[tuple[str, str]]:
    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        return [(r.target, r.detail) for r in conn.execute(
            select(store.audit).where(store.audit.c.action == action))]


def event_row(app, slug: str):
    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        return conn.execute(select(store.events).where(store.events.c.slug == slug)).first()


def doc_event(app, doc_id: int) -> tuple[str | None, int | None]:
    from doclib.auth import principal_for_role
    from doclib.documents import detail

    d = detail(app.extensions["doclib"], principal_for_role("curator"), doc_id)
    return d["event"], (d["workshop"] or {}).get("number")


def wait_jobs(c, ids, timeout: float = 60) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = [c.get(f"/api/v1/jobs/{i}").get_json()["job"] for i in ids]
        if all(j["status"] not in ("queued", "processing") for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError("jobs did not finish")


EVENT = {"slug": "tunis-2026", "title_en": "Tunis summit 2026", "title_ar": "قمة تونس 2026",
         "city": "Tunis", "start": "2026-05-02", "end": "2026-05-03",
         "description_en": "Second summit.", "description_ar": "القمة الثانية."}


# ------------------------------------------------------------ events
def test_curator_creates_and_edits_an_event_audited(app):
    c = curator(app)
    r = c.post("/curate/events", data={**EVENT, "csrf_token": token(c)})
    assert r.status_code == 302 and r.headers["Location"] == "/curate/events/tunis-2026"
    row = event_row(app, "tunis-2026")
    assert (row.title_en, row.title_ar, row.city, row.start_date, row.end_date) == (
        "Tunis summit 2026", "قمة تونس 2026", "Tunis", "2026-05-02", "2026-05-03")
    assert audit_rows(app, "event.add") == [("tunis-2026", "")]
    page = c.get("/curate/events/tunis-2026").get_data(as_text=True)
    assert 'value="Tunis summit 2026"' in page and "القمة الثانية." in page
    r = c.post("/curate/events/tunis-2026", data={
        **EVENT, "slug": "renamed", "title_en": "Tunis summit", "description_ar": "وصف جديد",
        "csrf_token": token(c)})
    assert r.status_code == 302
    row = event_row(app, "tunis-2026")  # the slug stays: pages and documents name it
    assert (row.title_en, row.description_ar) == ("Tunis summit", "وصف جديد")
    assert event_row(app, "renamed") is None
    assert audit_rows(app, "event.edit") == [("tunis-2026", "")]
    # the public page has the curator's way in; a member's has none
    assert "/curate/events/tunis-2026" in c.get("/events/tunis-2026").get_data(as_text=True)
    m = app.test_client()
    login(m, "member")
    assert "/curate/events/" not in m.get("/events/tunis-2026").get_data(as_text=True)


@pytest.mark.parametrize("change,status,field,message", [
    ({"slug": "Tunis 2026"}, 400, "e-slug", "slug"),
    ({"slug": "amman-2025"}, 409, "e-slug", "exists already"),
    ({"title_en": "", "title_ar": ""}, 400, "e-title-en", "title in at least one language"),
    ({"start": "2026-02-30"}, 400, "e-start", "not a date that exists"),
    ({"end": "2026-05-01"}, 400, "e-end", "end is before start"),
    ({"city": "x" * 201}, 400, "e-city", "longer than 200"),
])
def test_refused_event_form_keeps_what_was_typed(app, change, status, field, message):
    c = curator(app)
    before = audit_rows(app, "event.add")
    r = c.post("/curate/events", data={**EVENT, **change, "csrf_token": token(c)})
    html = r.get_data(as_text=True)
    assert r.status_code == status, html[:300]
    [error] = errors_in(html)
    assert message in error
    # every field comes back as typed, the one named marked
    for name in ("title_ar", "city", "start", "description_en"):
        value = {**EVENT, **change}[name]
        assert (f'>{value}</textarea>' if name.startswith("desc") else
                f'value="{value}"') in html, name
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html)
    assert event_row(app, "tunis-2026") is None and audit_rows(app, "event.add") == before


def test_workshops_added_edited_and_refused(app):
    c = curator(app)
    c.post("/curate/events", data={**EVENT, "csrf_token": token(c)})
    r = c.post("/curate/events/tunis-2026/workshops", data={
        "number": "1", "title_en": "Schools", "title_ar": "المدارس",
        "description_en": "Teachers.", "csrf_token": token(c)})
    assert r.status_code == 302
    wid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert audit_rows(app, "workshop.add") == [("tunis-2026/1", "")]
    c.post("/curate/events/tunis-2026/workshops", data={
        "number": "2", "title_en": "Families", "csrf_token": token(c)})
    # a number taken by another workshop: refused, what was typed kept
    r = c.post(f"/curate/workshops/{wid}", data={
        "number": "2", "title_en": "Schools and teachers", "title_ar": "المدارس والمعلمون",
        "csrf_token": token(c)})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "exists already" in errors_in(html)[0]
    assert 'value="Schools and teachers"' in html and 'value="المدارس والمعلمون"' in html
    r = c.post(f"/curate/workshops/{wid}", data={
        "number": "x", "title_en": "Schools", "csrf_token": token(c)})
    assert r.status_code == 400 and "number must be a whole number" in r.get_data(as_text=True)
    r = c.post(f"/curate/workshops/{wid}", data={
        "number": "3", "title_en": "Schools and teachers", "title_ar": "المدارس والمعلمون",
        "description_ar": "المعلمون أولًا", "csrf_token": token(c)})
    assert r.status_code == 302
    api = c.get(f"/api/v1/workshops/{wid}").get_json()["workshop"]
    assert api["number"] == 3 and api["title"] == {"en": "Schools and teachers",
                                                   "ar": "المدارس والمعلمون"}
    assert api["description"] == {"en": "", "ar": "المعلمون أولًا"}
    assert audit_rows(app, "workshop.edit") == [("tunis-2026/3", "")]
    # the new-workshop form of the event page keeps what was typed too
    r = c.post("/curate/events/tunis-2026/workshops", data={
        "number": "3", "title_en": "Twice", "csrf_token": token(c)})
    assert r.status_code == 409 and 'value="Twice"' in r.get_data(as_text=True)


def test_documents_put_in_and_taken_out(app):
    c = curator(app)
    ids = doc_ids(app)
    c.post("/curate/events", data={**EVENT, "csrf_token": token(c)})
    r = c.post("/curate/events/tunis-2026/workshops", data={
        "number": "4", "title_en": "Schools", "csrf_token": token(c)})
    wid = int(r.headers["Location"].rsplit("/", 1)[1])
    report, minutes = ids[REPORT], ids[MINUTES]
    assert doc_event(app, report)[0] == "amman-2025"
    r = c.post("/curate/events/tunis-2026/documents", data={
        "action": "attach", "ids": [str(report), str(minutes)], "csrf_token": token(c)})
    assert r.status_code == 302
    # it left amman-2025 and that event's workshop
    assert doc_event(app, report) == ("tunis-2026", None)
    assert audit_rows(app, "event.attach") == [("tunis-2026", f"{report},{minutes}")]
    r = c.post(f"/curate/workshops/{wid}/documents", data={
        "action": "attach", "ids": [str(report)], "csrf_token": token(c)})
    assert doc_event(app, report) == ("tunis-2026", 4)
    # visitors see the public report on the workshop page, never the minutes
    html = app.test_client().get(f"/workshops/{wid}").get_data(as_text=True)
    assert f"/documents/{report}" in html
    html = app.test_client().get("/events/tunis-2026").get_data(as_text=True)
    assert f"/documents/{minutes}" not in html and f"/documents/{report}" in html
    # out of the workshop: still in the event
    c.post(f"/curate/workshops/{wid}/documents", data={
        "action": "detach", "ids": [str(report)], "csrf_token": token(c)})
    assert doc_event(app, report) == ("tunis-2026", None)
    # a document that is not in the event cannot be taken out of it
    other = ids["online-radicalisation-factsheet.md"] if \
        "online-radicalisation-factsheet.md" in ids else next(
            i for n, i in ids.items() if i not in (report, minutes))
    r = c.post("/curate/events/tunis-2026/documents", data={
        "action": "detach", "ids": [str(minutes), str(other)], "csrf_token": token(c)})
    assert r.status_code == 400 and f"document {other} is not there" in \
        errors_in(r.get_data(as_text=True))[0]
    assert doc_event(app, minutes) == ("tunis-2026", None)  # nothing changed
    r = c.post("/curate/events/tunis-2026/documents", data={
        "action": "detach", "ids": [str(minutes)], "csrf_token": token(c)})
    assert doc_event(app, minutes) == (None, None)
    assert audit_rows(app, "event.detach")[-1] == ("tunis-2026", str(minutes))
    r = c.post("/curate/events/tunis-2026/documents", data={
        "action": "attach", "csrf_token": token(c)})
    assert r.status_code == 400
    assert c.post("/curate/events/nowhere/documents", data={
        "action": "attach", "ids": [str(report)], "csrf_token": token(c)}).status_code == 404


@pytest.mark.parametrize("path", ["/curate/events", "/curate/events/amman-2025",
                                  "/curate/events/amman-2025/workshops",
                                  "/curate/events/amman-2025/documents",
                                  "/curate/workshops/1", "/curate/workshops/1/documents"])
def test_every_curation_form_needs_its_csrf_token(app, path):
    c = curator(app)
    before = {a: audit_rows(app, a) for a in ("event.add", "event.edit", "workshop.add")}
    ids = doc_ids(app)
    data = {**EVENT, "number": "7", "action": "attach", "ids": [str(ids[REPORT])]}
    for sent in ({}, {"csrf_token": "forged"}):
        r = c.post(path, data={**data, **sent})
        assert r.status_code == 400 and "form expired" in r.get_data(as_text=True)
    assert event_row(app, "tunis-2026") is None
    assert {a: audit_rows(app, a) for a in before} == before
    assert doc_event(app, ids[REPORT])[0] == "amman-2025"


# ------------------------------------------------------------ uploads
def test_several_files_without_the_script(app):
    """The plain form sends several files with one description: each is
    checked and queued on its own (a refused one does not stop the
    others), their reports are on one page, a known file says where it
    already is and changes nothing."""
    c = curator(app)
    ids = doc_ids(app)
    from conftest import SAMPLE

    known = (SAMPLE / MINUTES).read_bytes()
    r = c.post("/curate/upload", content_type="multipart/form-data", data={
        "csrf_token": token(c), "type": "report", "access": "public",
        "file": [(io.BytesIO(b"Quokka gardens in the first file."), "one.txt"),
                 (io.BytesIO("# حدائق\n\nنص عربي عن الحدائق".encode()), "two.md"),
                 (io.BytesIO(b"MZ\x00\x01"), "three.exe"),
                 (io.BytesIO(known), "copy-of-minutes.docx")]})
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/curate/uploads?jobs=")
    job_ids = [int(x) for x in r.headers["Location"].split("=")[1].split(",")]
    assert len(job_ids) == 3
    jobs = wait_jobs(c, job_ids)
    assert [j["status"] for j in jobs] == ["ready", "ready", "unchanged"]
    html = c.get(r.headers["Location"]).get_data(as_text=True)
    assert html.count('class="report"') == 3 and "http-equiv" not in html
    assert ALREADY in html and f'href="/documents/{ids[MINUTES]}"' in html
    # the refused file is named with its reason, once
    assert any(e.startswith("three.exe: file type '.exe' is not accepted")
               for e in errors_in(html))
    assert "three.exe" not in c.get("/curate/").get_data(as_text=True)
    with app.test_client() as c2:
        login(c2, "curator")
        r2 = c2.post("/curate/upload", content_type="multipart/form-data", data={
            "csrf_token": token(c2), "type": "report",
            "file": [(io.BytesIO(b"MZ\x00\x01"), "a.exe"), (io.BytesIO(b""), "b.txt")]})
        # nothing queued: the form again, each file's reason on it
        assert r2.status_code == 400
        errs = errors_in(r2.get_data(as_text=True))
        assert any(e.startswith("a.exe: file type '.exe'") for e in errs)
        assert any(e.startswith("b.txt: the file is empty") for e in errs)
    # the minutes stayed members-only: the public access of the form did not reach them
    assert app.test_client().get(f"/documents/{ids[MINUTES]}").status_code == 404


def test_several_files_refused_before_any_is_stored(app):
    c = curator(app)
    before = doc_ids(app)
    files = [(io.BytesIO(b"Alpha words."), "a.txt"), (io.BytesIO(b"Beta words."), "b.txt")]
    r = c.post("/curate/upload", content_type="multipart/form-data", data={
        "csrf_token": token(c), "type": "report", "title": "One title for both",
        "date": "2026-07", "file": files})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "only when you upload one file" in errors_in(html)[0]
    assert 'value="One title for both"' in html and 'value="2026-07"' in html
    assert re.search(r'id="f-title"[^>]*aria-invalid="true"', html)
    files = [(io.BytesIO(b"Alpha words."), "a.txt"), (io.BytesIO(b"Beta words."), "b.txt")]
    r = c.post("/curate/upload", content_type="multipart/form-data", data={
        "csrf_token": token(c), "access": "public", "event": "amman-2025", "file": files})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and errors_in(html)[0].startswith("type:")
    # no type was chosen: none is offered as chosen; the rest is kept
    assert '<option value="" selected disabled>' in html
    assert '<option value="public" selected>' in html
    assert '<option value="amman-2025" selected>' in html
    assert doc_ids(app) == before


def test_one_file_asking_for_json_as_the_upload_script_does(app):
    c = curator(app)
    h = {"Accept": "application/json", "X-CSRF-Token": token(c)}
    r = c.post("/curate/upload", headers=h, content_type="multipart/form-data", data={
        "type": "minutes", "access": "curators", "title": "Draft minutes", "language": "en",
        "file": (io.BytesIO(b"Draft minutes about the wombat fund."), "draft.txt")})
    assert r.status_code == 202, r.get_data(as_text=True)
    body = r.get_json()
    assert body["ok"] is True and body["report_url"] == f"/curate/jobs/{body['job']}/report"
    [job] = wait_jobs(c, [body["job"]])
    frag = c.get(body["report_url"]).get_data(as_text=True)
    assert frag.lstrip().startswith('<div class="report" data-status="ready"')
    assert "<html" not in frag
    d = c.get(f"/api/v1/documents/{job['document_id']}").get_json()["document"]
    assert (d["title"], d["access"], d["type"]) == ("Draft minutes", "curators", "minutes")
    # refused: the error shape, in the interface's language
    c.set_cookie("lang", "ar")
    r = c.post("/curate/upload", headers=h, content_type="multipart/form-data", data={
        "type": "report", "workshop": "x", "event": "amman-2025",
        "file": (io.BytesIO(b"text"), "x.txt")})
    assert r.status_code == 400
    assert r.get_json() == {"ok": False, "status": 400, "error":
                            "يجب أن يكون «رقم الورشة» عددًا صحيحًا مكتوبًا بالأرقام 0-9، "
                            "وأُدخل 'x'"}
    r = c.post("/curate/upload", headers={"Accept": "application/json"},
               content_type="multipart/form-data", data={"file": (io.BytesIO(b"t"), "x.txt")})
    assert r.status_code == 400 and r.get_json()["error"].startswith("انتهت صلاحية النموذج")


def test_upload_page_offers_several_files_and_no_default_type(app):
    c = curator(app)
    html = c.get("/curate/").get_data(as_text=True)
    file_input = re.search(r'<input id="f-file"[^>]*>', html).group(0)
    assert " multiple" in file_input and 'name="file"' in file_input
    assert 'src="/static/upload.js"' in html
    access = html[html.index('id="f-access"'):]
    access = access[:access.index("</select>")]
    assert '<option value="members" selected>' in access  # never public by default
    r = c.get("/static/upload.js")
    js = r.get_data(as_text=True)
    r.close()
    assert "X-CSRF-Token" in js and "application/json" in js


# ------------------------------------------------------------ errors
def test_core_errors_reach_an_arabic_reader_in_arabic(app):
    ar = app.test_client()
    ar.set_cookie("lang", "ar")
    r = ar.get("/documents/999999")
    assert r.status_code == 404 and "الوثيقة غير موجودة" in r.get_data(as_text=True)
    r = ar.get("/search?q=x&year=abc")
    assert r.status_code == 400
    assert "يجب أن يكون «السنة» عددًا صحيحًا مكتوبًا بالأرقام 0-9" in errors_in(
        r.get_data(as_text=True))[0]
    r = ar.get("/events/nowhere")
    assert r.status_code == 404
    assert errors_in(r.get_data(as_text=True)) == ["لا توجد فعالية 'nowhere'"]
    # the API answers tools in English whatever the cookie says
    r = ar.get("/api/v1/documents/999999")
    assert r.get_json() == {"ok": False, "error": "document not found", "status": 404}
    r = ar.get("/api/v1/search?q=x&year=abc")
    assert r.get_json()["error"] == "year must be a whole number written with the digits " \
                                    "0-9, got 'abc'"
    en = app.test_client()
    assert "document not found" in en.get("/documents/999999").get_data(as_text=True)


def test_arabic_curator_gets_arabic_form_errors(app):
    c = curator(app, "ar")
    r = c.post("/curate/events", data={**EVENT, "end": "2026-05-01", "csrf_token": token(c)})
    assert errors_in(r.get_data(as_text=True)) == ["تاريخ النهاية يسبق تاريخ البداية"]
    r = c.post("/curate/events", data={**EVENT, "title_en": "", "title_ar": "",
                                       "csrf_token": token(c)})
    assert errors_in(r.get_data(as_text=True)) == [
        "العنوان: تحتاج الفعالية إلى عنوان بلغة واحدة على الأقل"]
    r = c.post("/curate/events", data={**EVENT, "title_ar": "ع" * 501, "csrf_token": token(c)})
    assert errors_in(r.get_data(as_text=True)) == ["«العنوان (بالعربية)» أطول من 500 حرف"]


def test_refused_document_edit_keeps_what_was_typed(app):
    c = curator(app)
    ids = doc_ids(app)
    url = f"/curate/documents/{ids[REPORT]}"
    r = c.post(url, data={"title": "A new title", "type": "minutes", "access": "public",
                          "date": "2025-13-45", "csrf_token": token(c)})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "date is not a date that exists" in errors_in(html)[0]
    assert 'value="A new title"' in html and 'value="2025-13-45"' in html
    assert '<option value="minutes" selected>' in html
    assert re.search(r'id="f-date"[^>]*aria-invalid="true"', html)
    d = c.get(f"/api/v1/documents/{ids[REPORT]}").get_json()["document"]
    assert d["title"] != "A new title" and d["type"] != "minutes"  # nothing changed


def test_error_page_after_a_form_leads_back_to_it(app):
    c = curator(app)
    ids = doc_ids(app)
    t = token(c)
    r = c.post("/curate/delete", data={"ids": ["abc"], "csrf_token": t},
               headers={"Referer": "http://localhost/curate/?sort=title"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'href="/curate/?sort=title">Back to the form' in html
    # another site's page is never linked
    r = c.post("/curate/delete", data={"ids": ["abc"], "csrf_token": t},
               headers={"Referer": "http://evil.example/curate/"})
    assert "Back to the form" not in r.get_data(as_text=True)
    assert c.get(f"/documents/{ids[REPORT]}").status_code == 200


def test_catalogue_check_refuses_other_placeholders():
    """A translation naming a parameter its message lacks would fail when
    the page is drawn: scripts/i18n.py --check refuses it."""
    import importlib.util

    from babel.messages.catalog import Catalog

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("i18n_script", REPO / "scripts" / "i18n.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cat = Catalog(locale="ar")
    cat.add("%(field)s is longer than %(max)s characters", "«%(field)s» أطول من %(max)s حرف")
    cat.add("%(n)s files", "%(m)s ملفات")
    cat.add("no event '%(slug)s'", "لا توجد فعالية")
    assert script.mismatched(cat) == ["%(n)s files", "no event '%(slug)s'"]


def test_api_changes_an_event_and_a_workshop_with_the_same_services(app):
    c = curator(app)
    h = {"X-CSRF-Token": token(c)}
    before = c.get("/api/v1/events/amman-2025").get_json()["event"]
    r = c.patch("/api/v1/events/amman-2025", headers=h, json={"city": "Amman, Jordan"})
    assert r.status_code == 200, r.get_json()
    after = r.get_json()["event"]
    assert after == {**before, "city": "Amman, Jordan"}  # the rest kept
    assert audit_rows(app, "event.edit") == [("amman-2025", "")]
    for body, status, words in [({"slug": "other"}, 400, "unknown field(s): slug"),
                                ({"end": "1999-01-01"}, 400, "end is before start"),
                                ({"title": {"en": "", "ar": ""}}, 400, "title"),
                                ([1], 400, "JSON object")]:
        r = c.patch("/api/v1/events/amman-2025", headers=h, json=body)
        assert r.status_code == status and words in r.get_json()["error"], r.get_json()
    assert c.patch("/api/v1/events/nowhere", headers=h, json={"city": "x"}).status_code == 404
    ws = c.get("/api/v1/events/amman-2025/workshops").get_json()["workshops"]
    first, second = ws[0], ws[1]
    r = c.patch(f"/api/v1/workshops/{first['id']}", headers=h,
                json={"title": {"en": "Prevention in schools"}})
    assert r.status_code == 200
    got = r.get_json()["workshop"]
    assert got["title"] == {"en": "Prevention in schools", "ar": ""}
    assert (got["number"], got["description"]) == (first["number"], first["description"])
    r = c.patch(f"/api/v1/workshops/{first['id']}", headers=h,
                json={"number": second["number"]})
    assert r.status_code == 409 and "exists already" in r.get_json()["error"]
    r = c.patch(f"/api/v1/workshops/{first['id']}", headers=h, json={"number": "3"})
    assert r.status_code == 400 and "number must be a whole number" in r.get_json()["error"]
    # members and visitors change nothing
    m = app.test_client()
    login(m, "member")
    r = m.patch("/api/v1/events/amman-2025", headers={"X-CSRF-Token": token_of(m)},
                json={"city": "x"})
    assert r.status_code == 403
    assert app.test_client().patch(f"/api/v1/workshops/{first['id']}",
                                   json={"number": 9}).status_code == 401


def token_of(c) -> str:
    return csrf_of(c.get("/login").get_data(as_text=True))


def test_refused_describe_form_still_writes_only_what_was_changed(app):
    """A refused describe form comes back as typed but remembering the
    values the page was first shown with: when it is sent again, a field
    the curator left alone does not undo another curator's edit made
    meanwhile (the public report stays members-only)."""
    c = curator(app)
    ids = doc_ids(app)
    url = f"/curate/documents/{ids[REPORT]}"
    page = c.get(url).get_data(as_text=True)
    shown = dict(re.findall(r'<input type="hidden" name="(was-[a-z]+)" value="([^"]*)"', page))
    assert shown["was-access"] == "public"
    other = app.test_client()
    login(other, "admin")
    r = other.patch(f"/api/v1/documents/{ids[REPORT]}", json={"access": "members"},
                    headers={"X-CSRF-Token": csrf_of(other.get("/login").get_data(as_text=True))})
    assert r.status_code == 200
    form = {**shown, "title": "Amman summary", "type": "report", "access": "public",
            "notes": shown["was-notes"], "event": "amman-2025", "workshop": "",
            "language": shown["was-language"], "date": "2025-13", "csrf_token": token(c)}
    r = c.post(url, data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'value="Amman summary"' in html
    again = dict(re.findall(r'<input type="hidden" name="(was-[a-z]+)" value="([^"]*)"', html))
    assert again == shown  # not the members-only access of now
    r = c.post(url, data={**again, **{k: v for k, v in form.items() if not k.startswith("was")},
                          "date": "2025-10"})
    assert r.status_code == 302
    d = c.get(f"/api/v1/documents/{ids[REPORT]}").get_json()["document"]
    assert (d["title"], d["access"], d["date"]) == ("Amman summary", "members", "2025-10")
