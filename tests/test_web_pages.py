"""Pages, languages, API shapes and the OpenAPI document."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, csrf_of, doc_ids, login

AR_REPORT = "تقرير-ورشة-الأسر.pdf"


def test_language_from_browser_and_switcher(client_for):
    c = client_for("visitor")
    html = c.get("/", headers={"Accept-Language": "ar,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html and "ابحث في المكتبة" in html
    html = c.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in html and "Search the library" in html
    r = c.post("/lang", data={"lang": "ar", "next": "/events",
                              "csrf_token": csrf_of(html)})
    assert r.status_code == 302 and r.headers["Location"] == "/events"
    html = c.get("/events", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'dir="rtl"' in html  # the choice is remembered over the browser's
    r = c.post("/lang", data={"lang": "en", "next": "//evil.example/x",
                              "csrf_token": csrf_of(html)})
    assert r.headers["Location"] == "/"  # no open redirect


def test_search_page_results_filters_paging_and_empty_state(client_for):
    c = client_for("member")
    html = c.get("/search?q=teenagers+online").get_data(as_text=True)
    assert "<mark>" in html and "page 2" in html
    assert "#page-2" in html
    assert 'href="/search?q=teenagers+online&amp;language=ar"' in html
    assert "In Arabic" in html  # results in the other language are marked
    html = c.get("/search?q=teenagers&year=1999").get_data(as_text=True)
    assert "Nothing found" in html
    assert c.get("/search?q=x&year=abc").status_code == 400


def test_document_page_metadata_download_related(web_app, client_for):
    ids = doc_ids(web_app)
    html = client_for("visitor").get(f"/documents/{ids[AR_REPORT]}",
                                     headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert "تقرير ورشة العمل مع الأسر" in html
    assert f'href="/documents/{ids[AR_REPORT]}/file"' in html
    assert 'id="page-1"' in html
    assert "وثائق ذات صلة" in html and "ورش عمل ذات صلة" in html
    assert "<bdi>" in html


def test_event_and_workshop_pages(client_for):
    c = client_for("visitor")
    html = c.get("/events/amman-2025").get_data(as_text=True)
    assert "Amman" in html and "Early prevention in schools" in html
    assert "Steering Committee" not in html
    wid = re.search(r'href="/workshops/(\d+)"', html).group(1)
    assert c.get(f"/workshops/{wid}").status_code == 200
    assert c.get("/workshops/999999").status_code == 404
    assert c.get("/events/nope").status_code == 404


def test_related_workshops_across_languages(web_app, client_for):
    c = client_for("visitor")
    # English question, workshop with an Arabic title only
    res = c.get("/api/v1/workshops/related",
                query_string={"q": "released prisoners need housing and a job"}).get_json()
    assert res["ok"] and res["results"]
    top = res["results"][0]["workshop"]
    assert set(top) >= {"id", "event", "number", "title"}
    assert set(top["title"]) == {"en", "ar"}
    assert res["results"][0]["reason"]


def test_api_search_shape(client_for):
    res = client_for("visitor").get("/api/v1/search?q=schools&k=2").get_json()
    assert res["ok"] is True and res["query"] == "schools"
    assert {"total", "results", "facets"} <= set(res)
    r = res["results"][0]
    assert set(r["document"]) >= {"id", "title", "language", "type", "event", "workshop",
                                  "access"}
    assert {"text", "page", "highlighted"} <= set(r["passages"][0])


def test_api_events_and_workshops_create(web_app):
    c = web_app.test_client()
    login(c, "curator")
    h = {"X-CSRF-Token": csrf_of(c.get("/login").get_data(as_text=True))}
    r = c.post("/api/v1/events", headers=h, json={
        "slug": "rabat-2026", "title": {"ar": "قمة الرباط"}, "city": "Rabat",
        "start": "2026-03-01", "end": "2026-03-03", "description": {"en": "Next summit"}})
    assert r.status_code == 201 and r.get_json()["event"]["title"] == {"en": "",
                                                                        "ar": "قمة الرباط"}
    assert c.post("/api/v1/events", headers=h, json={"slug": "rabat-2026",
                                                     "title": {"en": "x"}}).status_code == 409
    assert c.post("/api/v1/events", headers=h, json={"slug": "Bad Slug!",
                                                     "title": {"en": "x"}}).status_code == 400
    r = c.post("/api/v1/events/rabat-2026/workshops", headers=h,
               json={"number": 1, "title": {"en": "Mental health services"}})
    assert r.status_code == 201 and r.get_json()["workshop"]["number"] == 1
    listed = c.get("/api/v1/events/rabat-2026/workshops").get_json()["workshops"]
    assert [w["title"]["en"] for w in listed] == ["Mental health services"]


def test_api_patch_document(web_app):
    c = web_app.test_client()
    login(c, "curator")
    ids = doc_ids(web_app)
    h = {"X-CSRF-Token": csrf_of(c.get("/login").get_data(as_text=True))}
    r = c.patch(f"/api/v1/documents/{ids[AR_REPORT]}", headers=h,
                json={"title": "تقرير الأسر", "year": 2020})
    assert r.status_code == 400 and "year" in r.get_json()["error"]
    r = c.patch(f"/api/v1/documents/{ids[AR_REPORT]}", headers=h, json={"title": "تقرير الأسر"})
    assert r.status_code == 200 and r.get_json()["document"]["title"] == "تقرير الأسر"
    c.patch(f"/api/v1/documents/{ids[AR_REPORT]}", headers=h,
            json={"title": "تقرير ورشة العمل مع الأسر"})


def test_openapi_describes_every_api_route(web_app, client_for):
    spec = client_for("visitor").get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    described = {(path, m.upper()) for path, ops in spec["paths"].items()
                 for m in ops if m != "parameters"}
    for rule in web_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        path = path.replace("{doc_id}", "{id}").replace("{job_id}", "{id}") \
            .replace("{workshop_id}", "{id}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in described, f"{method} {path} missing from openapi.json"


def test_translations_complete_and_compiled():
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "i18n.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_templates_have_no_untranslated_text():
    """Visible English in templates must go through the catalogue."""
    allowed = {"doclib", "English", "العربية", "×", "·", "–", "#"}
    for path in (REPO / "src/doclib/web/templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"{[{%#].*?[}%#]}", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        for word in re.findall(r"[A-Za-z][A-Za-z ]{2,}", text):
            assert word.strip() in allowed, f"{path.name}: untranslated {word!r}"


def test_curation_pages(web_app, client_for):
    c = client_for("curator")
    ids = doc_ids(web_app)
    html = c.get("/curate/").get_data(as_text=True)
    assert "Upload documents" in html and "Steering Committee" in html
    html = c.get(f"/curate/documents/{ids[AR_REPORT]}").get_data(as_text=True)
    assert 'name="title"' in html and "Replace the file" in html
    r = c.post(f"/curate/documents/{ids[AR_REPORT]}",
               data={"csrf_token": csrf_of(html), "title": "تقرير ورشة العمل مع الأسر",
                     "type": "report", "access": "public", "event": "amman-2025",
                     "workshop": "2", "language": "ar", "date": ""})
    assert r.status_code == 302


def test_curation_table_shows_and_sorts_by_file_language_date_and_uploader(web_app, client_for):
    c = client_for("curator")
    ids = doc_ids(web_app)

    def order(query: str) -> list[int]:
        html = c.get(f"/curate/{query}").get_data(as_text=True)
        assert "File name" in html and "Uploaded by" in html and "Added" in html
        return [int(x) for x in re.findall(r'name="ids" value="(\d+)"', html)]

    by_name = sorted(ids, key=lambda n: n)
    assert order("?sort=filename&dir=asc") == [ids[n] for n in by_name]
    assert order("?sort=filename&dir=desc") == [ids[n] for n in reversed(by_name)]
    # newest first by default: the date each was added
    lib = web_app.extensions["doclib"]
    from sqlalchemy import select

    from doclib import store
    with lib.db.connect() as conn:
        added = {r.id: r.created_at for r in conn.execute(
            select(store.documents.c.id, store.documents.c.created_at))}
    assert order("") == sorted(added, key=lambda d: (added[d], d), reverse=True)
    html = c.get("/curate/?sort=filename").get_data(as_text=True)
    assert 'aria-sort="ascending"' in html and "command line" in html  # ingested by the CLI
    assert c.get("/curate/?sort=password_hash").status_code == 400
    assert c.get("/curate/?sort=title&dir=sideways").status_code == 400


def test_recent_documents_are_the_last_added(web_app, client_for):
    lib = web_app.extensions["doclib"]
    from doclib.auth import principal_for_role
    from doclib.documents import listing

    recent = listing(lib, principal_for_role("visitor"), recent=True)["documents"]
    stamps = [d["added"] for d in recent]
    assert stamps and stamps == sorted(stamps, reverse=True)


def test_admin_adds_and_changes_accounts(web_app):
    c = web_app.test_client()
    login(c, "admin")
    html = c.get("/admin/users").get_data(as_text=True)
    t = csrf_of(html)
    r = c.post("/admin/users", data={"csrf_token": t, "email": "new@example.org",
                                     "password": "new-pass-123", "role": "member"})
    assert r.status_code == 302
    html = c.get("/admin/users").get_data(as_text=True)
    assert "new@example.org" in html
    uid = re.search(r'action="/admin/users/(\d+)"[^<]*<input[^>]*>\s*<input type="hidden" '
                    r'name="action" value="role">', html)
    assert uid
    bad = c.post("/admin/users", data={"csrf_token": t, "email": "x@example.org",
                                       "password": "short", "role": "member"})
    assert bad.status_code == 400


def test_cli_users_and_serve_help(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage:\n  data_dir: .\n", encoding="utf-8")
    env = {"DOCLIB_CONFIG": str(cfg), "PATH": str(Path(sys.executable).parent)}
    doclib = [sys.executable, "-m", "doclib"]
    r = subprocess.run(doclib + ["users", "add", "a@example.org", "--role", "admin"],
                       input="password-123\n", capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(doclib + ["users", "token", "a@example.org"], capture_output=True,
                       text=True, env=env)
    assert r.stdout.startswith("dl_")
    r = subprocess.run(doclib + ["serve", "--help"], capture_output=True, text=True, env=env)
    assert "gunicorn" in r.stdout


def test_delete_asks_for_confirmation_first(tmp_path):
    from conftest import build_web

    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "curator")
    ids = doc_ids(app)
    t = csrf_of(c.get("/curate/").get_data(as_text=True))
    r = c.post("/curate/delete", data={"csrf_token": t, "ids": [ids[AR_REPORT]]})
    assert r.status_code == 200 and "Move these documents to the trash?" in r.get_data(as_text=True)
    assert doc_ids(app) == ids
    r = c.post("/curate/delete", data={"csrf_token": t, "ids": [ids[AR_REPORT]],
                                       "confirm": "yes"})
    assert r.status_code == 302 and AR_REPORT not in doc_ids(app)
    app.extensions["doclib_jobs"].shutdown()


def test_recent_uploads_show_file_names_not_server_paths(web_app, client_for):
    # the sample library was ingested from the command line, by absolute path
    from conftest import SAMPLE

    html = client_for("curator").get("/curate/").get_data(as_text=True)
    assert "amman-2025-summary-report.pdf" in html
    assert str(SAMPLE) not in html


def test_a_document_moved_to_another_event_leaves_the_old_events_workshop(web_app):
    c = web_app.test_client()
    login(c, "curator")
    ids = doc_ids(web_app)
    h = {"X-CSRF-Token": csrf_of(c.get("/login").get_data(as_text=True))}
    doc = f"/api/v1/documents/{ids[AR_REPORT]}"
    before = c.get(doc).get_json()["document"]
    assert before["workshop"] and before["event"] == "amman-2025"
    c.post("/api/v1/events", headers=h, json={"slug": "tunis-2027", "title": {"en": "Tunis"}})
    try:
        moved = c.patch(doc, headers=h, json={"event": "tunis-2027"}).get_json()["document"]
        assert moved["event"] == "tunis-2027" and moved["workshop"] is None
    finally:
        back = c.patch(doc, headers=h, json={"event": "amman-2025",
                                             "workshop": before["workshop"]["number"]})
        assert back.get_json()["document"]["workshop"] == before["workshop"]


def test_event_and_workshop_pages_and_api_list_the_same_documents(app):
    """An event's and a workshop's page and their API answer are one data
    dict (``documents.event_view`` / ``workshop_view``): the same documents,
    past the HTML page's old limit of 200 (the API's was 500)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from doclib import store
    from doclib.audience import Access

    lib = app.extensions["doclib"]
    now = datetime.now(UTC).isoformat()
    with lib.db.begin() as conn:
        ev = conn.execute(select(store.events.c.id).where(store.events.c.slug == "amman-2025")
                          ).scalar_one()
        wid = conn.execute(select(store.workshops.c.id).where(store.workshops.c.event_id == ev)
                           .order_by(store.workshops.c.number)).scalars().first()
        first = conn.execute(select(store.new_id(store.documents))).scalar_one()
        conn.execute(store.documents.insert(), [
            {"id": first + i, "sha256": f"{i:064x}", "original_filename": f"note-{i}.txt",
             "size": 1,
             "kind": "txt", "title": f"Note {i}", "event_id": ev, "workshop_id": wid,
             "access": Access.public.value, "status": "ready", "year": 2025,
             "created_at": now, "updated_at": now} for i in range(210)])
    c = app.test_client()

    def listed(html: str) -> set[int]:
        return {int(x) for x in re.findall(r'href="/documents/(\d+)"', html)}

    for page, api in [("/events/amman-2025", "/api/v1/events/amman-2025"),
                      (f"/workshops/{wid}", f"/api/v1/workshops/{wid}")]:
        data = c.get(api).get_json()
        assert data["total"] == len(data["documents"]) >= 210
        assert listed(c.get(page).get_data(as_text=True)) == {d["id"] for d in data["documents"]}
    assert c.get(f"/api/v1/workshops/{wid}").get_json()["event"]["slug"] == "amman-2025"
