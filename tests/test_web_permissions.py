"""Role x route x expected status, over a real app and the sample library."""

import pytest

from conftest import csrf_of, doc_ids

MINUTES = "steering-committee-minutes-2025-11.docx"
REPORT = "amman-2025-summary-report.pdf"
ROLES = ["visitor", "member", "curator", "admin"]

# (method, path template, {role: status}); {M} = member-only doc, {P} = public doc
CASES = [
    ("GET", "/", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/search?q=budget", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/documents/{P}", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/documents/{M}", dict(visitor=404, member=200, curator=200, admin=200)),
    ("GET", "/documents/{M}/file", dict(visitor=404, member=200, curator=200, admin=200)),
    ("GET", "/documents/999999", dict(visitor=404, member=404, curator=404, admin=404)),
    ("GET", "/events/amman-2025", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/workshops?q=schools", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/curate/", dict(visitor=302, member=403, curator=200, admin=200)),
    ("GET", "/curate/documents/{P}", dict(visitor=302, member=403, curator=200, admin=200)),
    ("GET", "/admin/users", dict(visitor=302, member=403, curator=403, admin=200)),
    ("GET", "/api/v1/search?q=budget", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/api/v1/documents", dict(visitor=200, member=200, curator=200, admin=200)),
    ("GET", "/api/v1/documents/{M}", dict(visitor=404, member=200, curator=200, admin=200)),
    ("GET", "/api/v1/documents/{M}/file", dict(visitor=404, member=200, curator=200,
                                               admin=200)),
    ("GET", "/api/v1/documents/{M}/related", dict(visitor=404, member=200, curator=200,
                                                  admin=200)),
    ("GET", "/api/v1/workshops/related?document={M}", dict(visitor=404, member=200,
                                                           curator=200, admin=200)),
    ("GET", "/api/v1/jobs/999999", dict(visitor=401, member=403, curator=404, admin=404)),
    ("PATCH", "/api/v1/documents/{M}", dict(visitor=401, member=403)),
    ("DELETE", "/api/v1/documents/{P}", dict(visitor=401, member=403)),
    ("POST", "/api/v1/documents/delete", dict(visitor=401, member=403)),
    ("POST", "/api/v1/events", dict(visitor=401, member=403)),
    ("POST", "/api/v1/events/amman-2025/workshops", dict(visitor=401, member=403)),
    ("PATCH", "/api/v1/events/amman-2025", dict(visitor=401, member=403)),
    ("PATCH", "/api/v1/workshops/1", dict(visitor=401, member=403)),
    ("POST", "/api/v1/documents", dict(visitor=401, member=403)),
    ("POST", "/curate/upload", dict(visitor=302, member=403)),
    ("GET", "/curate/uploads?jobs=999999", dict(visitor=302, member=403, curator=404,
                                                admin=404)),
    ("GET", "/curate/jobs/999999/report", dict(visitor=302, member=403, curator=404,
                                               admin=404)),
    ("GET", "/curate/events", dict(visitor=302, member=403, curator=200, admin=200)),
    ("GET", "/curate/events/amman-2025", dict(visitor=302, member=403, curator=200,
                                              admin=200)),
    ("GET", "/curate/events/nowhere", dict(visitor=302, member=403, curator=404, admin=404)),
    ("GET", "/curate/workshops/1", dict(visitor=302, member=403, curator=200, admin=200)),
    ("GET", "/curate/workshops/999999", dict(visitor=302, member=403, curator=404,
                                             admin=404)),
    ("POST", "/curate/events", dict(visitor=302, member=403)),
    ("POST", "/curate/events/amman-2025", dict(visitor=302, member=403)),
    ("POST", "/curate/events/amman-2025/workshops", dict(visitor=302, member=403)),
    ("POST", "/curate/events/amman-2025/documents", dict(visitor=302, member=403)),
    ("POST", "/curate/workshops/1", dict(visitor=302, member=403)),
    ("POST", "/curate/workshops/1/documents", dict(visitor=302, member=403)),
    ("POST", "/curate/delete", dict(visitor=302, member=403)),
    ("POST", "/curate/documents/{P}", dict(visitor=302, member=403)),
    ("POST", "/admin/users", dict(visitor=302, member=403, curator=403)),
    ("POST", "/admin/users/1", dict(visitor=302, member=403, curator=403)),
]

PARAMS = [(m, p, role, want[role]) for m, p, want in CASES for role in ROLES if role in want]


@pytest.mark.parametrize("method,path,role,status", PARAMS,
                         ids=[f"{m} {p} as {r}" for m, p, r, _ in PARAMS])
def test_role_route_status(web_app, client_for, method, path, role, status):
    ids = doc_ids(web_app)
    client = client_for(role)
    url = path.format(M=ids[MINUTES], P=ids[REPORT])
    headers = {}
    if method != "GET":
        headers["X-CSRF-Token"] = csrf_of(client.get("/login").get_data(as_text=True))
    body = {"json": {"title": "x"}} if method in ("PATCH",) else {}
    if method == "POST" and "/api/" in url:
        body = {"json": {"ids": [ids[REPORT]], "slug": "x", "title": {"en": "x"},
                         "number": 9}}
    if method == "POST" and "/api/" not in url:
        body = {"data": {"csrf_token": headers["X-CSRF-Token"]}}
    r = client.open(url, method=method, headers=headers, **body)
    try:
        assert r.status_code == status, r.get_data(as_text=True)[:300]
        if status == 404 and "/api/v1/documents" in url:
            assert r.get_json() == {"ok": False, "error": "document not found", "status": 404}
    finally:
        r.close()
