"""Bad input never reaches a 500 and is never stored (issue 10.10): huge
integers, non-ASCII digits ('²' passes ``str.isdigit``, '١' passes ``int``),
wrong JSON types, out-of-range values in paths and filters, impossible dates
and overlong texts, through the real app as a curator and as a visitor.
The answer is 400 in the API's error shape (an error page for pages) and
names the field; the database is exactly as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from conftest import build_web, csrf_of, doc_ids, login
from doclib.validate import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS

HUGE = str(10 ** 30)
TOO_BIG_FOR_SQLITE = str(2 ** 63)
AR_REPORT = "تقرير-ورشة-الأسر.pdf"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = build_web(tmp_path_factory.mktemp("input"))
    yield app
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


def snapshot(app) -> dict[str, list]:
    """Every row a request could store or change."""
    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
                for t in ("documents", "events", "workshops", "jobs", "chunks")}


def client(app, role):
    c = app.test_client()
    if role != "visitor":
        login(c, role)
    return c


def headers(c, role) -> dict[str, str]:
    if role == "visitor":
        return {}
    return {"X-CSRF-Token": csrf_of(c.get("/curate/").get_data(as_text=True))}


# (url, the field the error names); {doc} is a public document's id
READS = [
    ("/api/v1/search?q=x&year=²", "year"),
    ("/api/v1/search?q=x&year=١٩٩٩", "year"),
    (f"/api/v1/search?q=x&year={HUGE}", "year"),
    ("/api/v1/search?q=x&year=0", "year"),
    ("/api/v1/search?q=x&workshop=²", "workshop"),
    (f"/api/v1/search?q=x&workshop={HUGE}", "workshop"),
    (f"/api/v1/search?q=x&workshop={TOO_BIG_FOR_SQLITE}", "workshop"),
    ("/api/v1/search?q=x&page=١", "page"),
    (f"/api/v1/search?q=x&page={HUGE}", "page"),
    ("/api/v1/search?q=x&page=-1", "page"),
    ("/api/v1/search?q=x&k=²", "k"),
    ("/api/v1/search?q=x&k=1e3", "k"),
    (f"/api/v1/search?q=x&k={'9' * 5000}", "k"),
    ("/api/v1/search?q=x&event=" + "x" * 300, "event"),
    ("/api/v1/search?q=x&event=Amman%202025", "event"),
    ("/api/v1/search?q=" + "x" * 1001, "query"),
    ("/api/v1/documents?limit=²", "limit"),
    (f"/api/v1/documents?offset={HUGE}", "offset"),
    (f"/api/v1/documents?year={HUGE}", "year"),
    (f"/api/v1/documents/{HUGE}", "document id"),
    (f"/api/v1/documents/{TOO_BIG_FOR_SQLITE}", "document id"),
    ("/api/v1/documents/0", "document id"),
    (f"/api/v1/documents/{HUGE}/related", "document id"),
    (f"/api/v1/documents/{HUGE}/file", "document id"),
    ("/api/v1/documents/{doc}/related?k=²", "k"),
    (f"/api/v1/workshops/{HUGE}", "workshop id"),
    ("/api/v1/workshops/related?document=²", "document"),
    (f"/api/v1/workshops/related?document={HUGE}", "document"),
    (f"/api/v1/workshops/related?q=x&k={HUGE}", "k"),
    ("/search?q=x&year=²", "year"),
    (f"/search?q=x&page={HUGE}", "page"),
    ("/search?q=x&page=x", "page"),
    (f"/documents/{HUGE}", "document id"),
    (f"/documents/{HUGE}/file", "document id"),
    (f"/workshops/{HUGE}", "workshop id"),
]


@pytest.mark.parametrize("role", ["curator", "visitor"])
@pytest.mark.parametrize("url,field", READS, ids=[u[:60] for u, _ in READS])
def test_bad_query_and_path_values_are_400(app, role, url, field):
    c = client(app, role)
    before = snapshot(app)
    r = c.get(url.format(doc=doc_ids(app)[AR_REPORT]))
    body = r.get_data(as_text=True)
    assert r.status_code == 400, (r.status_code, body[:300])
    if url.startswith("/api/"):
        data = r.get_json()
        assert set(data) == {"ok", "error", "status"} and data["status"] == 400
        assert field in data["error"], data
    else:
        assert field in body and "Traceback" not in body
    assert snapshot(app) == before


# (method, url, JSON body, the field the error names); {doc} is a document's id
WRITES = [
    ("PATCH", "/api/v1/documents/{doc}", {"title": ["x"]}, "title"),
    ("PATCH", "/api/v1/documents/{doc}", {"title": 5}, "title"),
    ("PATCH", "/api/v1/documents/{doc}", {"title": None}, "title"),
    ("PATCH", "/api/v1/documents/{doc}", {"title": "x" * (MAX_TITLE_CHARS + 1)}, "title"),
    ("PATCH", "/api/v1/documents/{doc}", {"type": ["report"]}, "type"),
    ("PATCH", "/api/v1/documents/{doc}", {"access": ["public"]}, "access"),
    ("PATCH", "/api/v1/documents/{doc}", {"access": 0}, "access"),
    ("PATCH", "/api/v1/documents/{doc}", {"event": ["amman-2025"]}, "event"),
    ("PATCH", "/api/v1/documents/{doc}", {"event": 5}, "event"),
    ("PATCH", "/api/v1/documents/{doc}", {"workshop": "²"}, "workshop"),
    ("PATCH", "/api/v1/documents/{doc}", {"workshop": True}, "workshop"),
    ("PATCH", "/api/v1/documents/{doc}", {"workshop": 1.5}, "workshop"),
    ("PATCH", "/api/v1/documents/{doc}", {"workshop": 10 ** 30}, "workshop"),
    ("PATCH", "/api/v1/documents/{doc}", {"workshop": [3]}, "workshop"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": "2025-13-45"}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": "2025-02-30"}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": "2025-00"}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": "٢٠٢٥"}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": ["2025"]}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"date": 2025}, "date"),
    ("PATCH", "/api/v1/documents/{doc}", {"language": ["ar"]}, "language"),
    ("PATCH", "/api/v1/documents/{doc}", {"notes": ["include"]}, "notes"),
    ("PATCH", f"/api/v1/documents/{HUGE}", {"title": "x"}, "document id"),
    ("POST", "/api/v1/events", {"slug": "bad-city", "title": {"en": "E"}, "city": ["x"]},
     "city"),
    ("POST", "/api/v1/events", {"slug": 123, "title": {"en": "E"}}, "slug"),
    ("POST", "/api/v1/events", {"slug": ["ev"], "title": {"en": "E"}}, "slug"),
    ("POST", "/api/v1/events", {"slug": "bad-start", "title": {"en": "E"},
                                "start": 20250101}, "start"),
    ("POST", "/api/v1/events", {"slug": "bad-start", "title": {"en": "E"},
                                "start": "2025-13-45"}, "start"),
    ("POST", "/api/v1/events", {"slug": "bad-start", "title": {"en": "E"},
                                "start": "2025-02-30"}, "start"),
    ("POST", "/api/v1/events", {"slug": "bad-end", "title": {"en": "E"},
                                "end": "2025-W01-1"}, "end"),
    ("POST", "/api/v1/events", {"slug": "bad-title", "title": {"en": ["E"]}}, "title"),
    ("POST", "/api/v1/events", {"slug": "bad-title", "title": ["E"]}, "title"),
    ("POST", "/api/v1/events", {"slug": "long-title",
                                "title": {"ar": "ع" * (MAX_TITLE_CHARS + 1)}}, "title"),
    ("POST", "/api/v1/events", {"slug": "long-text", "title": {"en": "E"},
                                "description": {"en": "x" * (MAX_DESCRIPTION_CHARS + 1)}},
     "description"),
    ("POST", "/api/v1/events/amman-2025/workshops",
     {"number": 10 ** 30, "title": {"en": "W"}}, "number"),
    ("POST", "/api/v1/events/amman-2025/workshops", {"number": True, "title": {"en": "W"}},
     "number"),
    ("POST", "/api/v1/events/amman-2025/workshops", {"number": 7.5, "title": {"en": "W"}},
     "number"),
    ("POST", "/api/v1/events/amman-2025/workshops", {"number": "٧", "title": {"en": "W"}},
     "number"),
    ("POST", "/api/v1/events/amman-2025/workshops", {"number": 8, "title": {"en": 8}},
     "title"),
    ("POST", "/api/v1/events/amman-2025/workshops",
     {"number": 9, "title": {"en": "W"}, "description": ["x"]}, "description"),
    ("POST", "/api/v1/documents/delete", {"ids": [True]}, "ids"),
    ("GET", f"/api/v1/jobs/{HUGE}", None, "job id"),
]


@pytest.mark.parametrize("role", ["curator", "visitor"])
@pytest.mark.parametrize("method,url,body,field", WRITES,
                         ids=[f"{m} {u[:30]} {str(b)[:40]}" for m, u, b, _ in WRITES])
def test_bad_bodies_are_400_and_store_nothing(app, role, method, url, body, field):
    c = client(app, role)
    before = snapshot(app)
    r = c.open(url.format(doc=doc_ids(app)[AR_REPORT]), method=method, json=body,
               headers=headers(c, role))
    data = r.get_json()
    assert set(data) == {"ok", "error", "status"} and data["ok"] is False, data
    if role == "visitor":
        assert r.status_code == 401, data  # no API change is open to visitors
    else:
        assert r.status_code == 400, data
        assert field in data["error"], data
    assert snapshot(app) == before


def test_limits_are_inclusive_and_a_date_can_be_cleared(app):
    c = client(app, "curator")
    h = headers(c, "curator")
    doc = doc_ids(app)[AR_REPORT]
    title = "ت" * MAX_TITLE_CHARS
    for date in ("2024-02-29", "2025-03", "2025"):
        r = c.patch(f"/api/v1/documents/{doc}", json={"date": date, "title": title}, headers=h)
        assert r.status_code == 200, r.get_json()
        got = r.get_json()["document"]
        assert (got["date"], got["year"], got["title"]) == (date, int(date[:4]), title)
    for cleared in (None, ""):
        c.patch(f"/api/v1/documents/{doc}", json={"date": "2024-02-29"}, headers=h)
        r = c.patch(f"/api/v1/documents/{doc}", json={"date": cleared}, headers=h)
        assert r.status_code == 200, r.get_json()
        got = r.get_json()["document"]
        # no date of its own: the year of its event (Amman 2025) again
        assert got["date"] is None and got["year"] == 2025
    r = c.post("/api/v1/events", headers=h, json={
        "slug": "long-event", "title": {"en": "x" * MAX_TITLE_CHARS},
        "description": {"ar": "ع" * MAX_DESCRIPTION_CHARS}, "start": "2024-02-29"})
    assert r.status_code == 201, r.get_json()
    r = c.post("/api/v1/events/long-event/workshops", headers=h,
               json={"number": 2, "title": {"en": "W"}})
    assert r.status_code == 201, r.get_json()
