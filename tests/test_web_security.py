"""SECURITY.md's "Access" and "Web and accounts" sections, one test each,
against the real app (real SQLite, real FAISS, real Argon2)."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROLE_PASSWORDS, SAMPLE, assert_unauthorized, build_web, csrf_of, doc_ids, login
from doclib import store

MINUTES = "steering-committee-minutes-2025-11.docx"
AR_REPORT = "تقرير-ورشة-الأسر.pdf"
SECRET = "budget reallocation for the Zarqa home-visit pilot"


def token(client) -> str:
    return csrf_of(client.get("/login").get_data(as_text=True))


def wait_job(client, job_id: int, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").get_json()["job"]
        if job["status"] not in ("queued", "processing"):
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


# ------------------------------------------------------------------ access
def test_member_only_phrase_not_found_by_visitor_but_k_public_hits(web_app, client_for):
    visitor = client_for("visitor")
    res = visitor.get("/api/v1/search", query_string={"q": SECRET, "k": 3}).get_json()
    ids = doc_ids(web_app)
    shown = res["results"] + res["nearest"]  # matches, then those under the floor
    assert ids[MINUTES] not in [r["document"]["id"] for r in shown]
    assert len(shown) == 3  # filtered inside both legs, not after top-k
    body = str(shown) + str(res["facets"])
    assert "Zarqa home-visit" not in body and "Steering" not in body
    html = visitor.get("/search", query_string={"q": SECRET}).get_data(as_text=True)
    assert "Steering Committee" not in html and "40,000 euros" not in html
    member = client_for("member").get("/api/v1/search", query_string={"q": SECRET}).get_json()
    assert member["results"][0]["document"]["id"] == ids[MINUTES]


def test_guessing_ids_finds_nothing_hidden(web_app, client_for):
    visitor = client_for("visitor")
    ids = doc_ids(web_app)
    hidden = ids[MINUTES]
    answers = {visitor.get(f"/api/v1/documents/{i}").get_data() for i in (hidden, 999999)}
    assert len(answers) == 1  # identical to a missing document
    for i in range(1, max(ids.values()) + 5):
        r = visitor.get(f"/api/v1/documents/{i}")
        if r.status_code == 200:
            assert r.get_json()["document"]["access"] == "public"


def test_related_and_workshop_lists_never_show_hidden(web_app, client_for):
    visitor = client_for("visitor")
    ids = doc_ids(web_app)
    for name, doc_id in ids.items():
        if name == MINUTES:
            continue
        rel = visitor.get(f"/api/v1/documents/{doc_id}/related").get_json()["results"]
        assert ids[MINUTES] not in [r["document"]["id"] for r in rel]
    ws = visitor.get("/api/v1/workshops/related", query_string={"q": SECRET}).get_json()
    for r in ws["results"]:
        for reason in r["reason"]:
            assert not reason["document"] or reason["document"]["id"] != ids[MINUTES]
    listing = visitor.get("/api/v1/documents").get_json()
    assert ids[MINUTES] not in [d["id"] for d in listing["documents"]]
    assert visitor.get(f"/api/v1/workshops/related?document={ids[MINUTES]}").status_code == 404


def test_bulk_delete_checks_every_id(tmp_path):
    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "curator")
    ids = doc_ids(app)
    r = c.post("/api/v1/documents/delete", json={"ids": [ids[AR_REPORT], 424242]},
               headers={"X-CSRF-Token": token(c)})
    assert r.status_code == 404
    assert doc_ids(app) == ids  # nothing was deleted
    app.extensions["doclib_jobs"].shutdown()


# bulk delete takes real ids only (issue 10.11): JSON true is not document 1
@pytest.fixture(scope="module")
def bulk_app(tmp_path_factory):
    app = build_web(tmp_path_factory.mktemp("bulk"))
    yield app
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


@pytest.mark.parametrize("ids", [
    [True], [False], [1.0], ["1"], [1, 1], [1, 2, 1], [2 ** 63], [10 ** 30], [0], [-1], [],
    [None], [[1]], [{"id": 1}], [1, "x"], [1, True], "1", 1, None, {"1": 1},
], ids=repr)
def test_bulk_delete_api_takes_real_ids_only(bulk_app, ids):
    c = bulk_app.test_client()
    login(c, "curator")
    before = doc_ids(bulk_app)
    r = c.post("/api/v1/documents/delete", json={"ids": ids},
               headers={"X-CSRF-Token": token(c)})
    body = r.get_json()
    assert r.status_code == 400, body
    assert body["ok"] is False and body["status"] == 400 and "ids" in body["error"]
    assert doc_ids(bulk_app) == before  # nothing was deleted


@pytest.mark.parametrize("ids", [
    ["١"], ["1", "1"], ["1.0"], ["x"], [" 1"], ["+1"], ["1_0"], ["0"], [str(10 ** 30)],
    ["1", "x"], ["²"], [],
], ids=repr)
def test_bulk_delete_form_takes_real_ids_only(bulk_app, ids):
    c = bulk_app.test_client()
    login(c, "curator")
    before = doc_ids(bulk_app)
    for confirm in ("", "yes"):
        r = c.post("/curate/delete", data={"ids": ids, "confirm": confirm,
                                           "csrf_token": token(c)})
        assert r.status_code == 400, r.get_data(as_text=True)[:300]
        assert "ids" in r.get_data(as_text=True)
    assert doc_ids(bulk_app) == before


def test_bulk_delete_api_and_form_delete_what_they_name(tmp_path):
    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "curator")
    ids = doc_ids(app)
    r = c.post("/api/v1/documents/delete", json={"ids": [ids[AR_REPORT], ids[MINUTES]]},
               headers={"X-CSRF-Token": token(c)})
    assert r.get_json() == {"ok": True, "deleted": [ids[AR_REPORT], ids[MINUTES]]}
    left = doc_ids(app)
    assert set(left) == set(ids) - {AR_REPORT, MINUTES}
    one = next(iter(left.values()))
    page = c.post("/curate/delete", data={"ids": [str(one)], "csrf_token": token(c)})
    assert page.status_code == 200 and "confirm" in page.get_data(as_text=True)
    assert doc_ids(app) == left  # the first step only asks
    r = c.post("/curate/delete", data={"ids": [str(one)], "confirm": "yes",
                                       "csrf_token": token(c)})
    assert r.status_code == 302 and one not in doc_ids(app).values()
    app.extensions["doclib_jobs"].shutdown()


def test_disabling_an_account_ends_its_sessions_and_tokens_for_good(tmp_path):
    """Disabling ends every session and token; enabling the account again
    revives none of them (a new login or a new token is needed)."""
    from doclib import accounts

    app = build_web(tmp_path)
    member, admin = app.test_client(), app.test_client()
    login(member, "member")
    login(admin, "admin")
    ids = doc_ids(app)
    assert member.get(f"/documents/{ids[MINUTES]}").status_code == 200
    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = conn.execute(store.users.select().where(
            store.users.c.email == "member@example.org")).one().id
        tok = accounts.create_token(conn, uid)
    bearer = {"Authorization": f"Bearer {tok}"}
    assert member.get(f"/api/v1/documents/{ids[MINUTES]}", headers=bearer).status_code == 200
    cookie = member.get_cookie("doclib_session").value
    r = admin.post(f"/admin/users/{uid}", data={"action": "disable",
                                                "csrf_token": token(admin)})
    assert r.status_code == 302
    assert member.get(f"/documents/{ids[MINUTES]}").status_code == 404  # now a visitor
    page = member.get("/").get_data(as_text=True)
    assert "member@example.org" not in page
    assert_unauthorized(app.test_client().get("/api/v1/documents", headers=bearer))
    r = admin.post(f"/admin/users/{uid}", data={"action": "enable",
                                                "csrf_token": token(admin)})
    assert r.status_code == 302
    assert_unauthorized(app.test_client().get("/api/v1/documents", headers=bearer))
    replay = app.test_client()
    replay.set_cookie("doclib_session", cookie)
    assert replay.get(f"/documents/{ids[MINUTES]}").status_code == 404
    login(member, "member")  # a new login works again
    assert member.get(f"/documents/{ids[MINUTES]}").status_code == 200
    app.extensions["doclib_jobs"].shutdown()


@pytest.mark.parametrize("path", ["/library/doclib.db", "/index/vectors.faiss",
                                  "/index/manifest.json", "/static/../../library/doclib.db",
                                  "/library/files/", "/index/secret_key", "/backup"])
def test_no_route_serves_internal_files(web_app, client_for, path):
    r = client_for("admin").get(path)
    assert r.status_code == 404
    secret = (web_app.extensions["doclib"].config.index_dir / "secret_key").read_bytes()
    assert b"SQLite format" not in r.data and secret.strip() not in r.data


def test_errors_carry_no_paths_or_titles(web_app, client_for):
    ids = doc_ids(web_app)
    r = client_for("visitor").get(f"/documents/{ids[MINUTES]}")
    body = r.get_data(as_text=True)
    assert r.status_code == 404
    assert "Steering" not in body and "/tmp" not in body and "Traceback" not in body


def test_error_shape_of_every_api_error(client_for):
    c = client_for("member")
    for url, status in [("/api/v1/search?q=x&k=0", 400), ("/api/v1/search?q=x&language=fr", 400),
                        ("/api/v1/documents/424242", 404), ("/api/v1/nothing", 404),
                        ("/api/v1/jobs/1", 403), ("/api/v1/workshops/related", 400)]:
        r = c.get(url)
        data = r.get_json()
        assert r.status_code == status
        assert set(data) == {"ok", "error", "status"}
        assert data["ok"] is False and data["status"] == status and data["error"]
    r = c.post("/api/v1/events", json={})  # no CSRF header with a cookie session
    assert r.status_code == 400 and r.get_json()["ok"] is False


# ---------------------------------------------------------------- accounts
def test_session_cookie_flags_new_session_and_server_side_logout(web_app):
    c = web_app.test_client()
    before = c.get_cookie("doclib_session")
    login(c, "member")
    cookie = c.get_cookie("doclib_session")
    assert cookie is not None and before is None
    assert cookie.http_only and cookie.same_site == "Lax"
    old_value = cookie.value
    login(c, "member")  # logging in again starts a new session
    assert c.get_cookie("doclib_session").value != old_value
    current = c.get_cookie("doclib_session").value
    r = c.post("/logout", data={"csrf_token": token(c)})
    assert r.status_code == 302
    # replaying the old cookie after logout is a visitor's request
    replay = web_app.test_client()
    replay.set_cookie("doclib_session", current)
    ids = doc_ids(web_app)
    assert replay.get(f"/api/v1/documents/{ids[MINUTES]}").status_code == 404


def test_csrf_required_on_every_form(web_app):
    c = web_app.test_client()
    assert c.post("/login", data={"email": "member@example.org",
                                  "password": ROLE_PASSWORDS["member"]}).status_code == 400
    assert c.post("/lang", data={"lang": "ar"}).status_code == 400
    login(c, "admin")
    assert c.post("/admin/users", data={"email": "x@example.org", "password": "12345678",
                                        "role": "member"}).status_code == 400
    assert c.post("/logout").status_code == 400
    assert c.get("/logout").status_code == 405  # GET never changes state


def _attempt(c, email: str, password: str, **kw) -> int:
    return c.post("/login", data={"email": email, "password": password,
                                  "csrf_token": token(c)}, **kw).status_code


def _client(app, address: str):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def test_login_throttle_does_not_lock_out_the_neighbours(tmp_path):
    """Per (account, client): web.login_attempts (5); per account from every
    client: web.login_attempts_account (20); one address (an office behind
    one NAT) failing for one account does not lock out its other users."""
    app = build_web(tmp_path)
    member, admin = "member@example.org", "admin@example.org"
    office = _client(app, "10.0.0.1")
    assert [_attempt(office, member, "wrong-pass") for _ in range(6)] == [401] * 5 + [429]
    assert _attempt(office, member, ROLE_PASSWORDS["member"]) == 429  # even the right one
    assert _attempt(office, admin, ROLE_PASSWORDS["admin"]) == 302  # a colleague logs in
    # the same account from elsewhere: its own 5, until the account's 20
    for n in (2, 3):
        other = _client(app, f"10.0.0.{n}")
        assert [_attempt(other, member, "wrong-pass") for _ in range(6)] == [401] * 5 + [429]
    assert _attempt(_client(app, "10.0.0.9"), member, ROLE_PASSWORDS["member"]) == 302
    fourth = _client(app, "10.0.0.4")
    assert [_attempt(fourth, member, "wrong-pass") for _ in range(5)] == [401] * 5
    # 20 failures for the account: every client waits, the right password too
    assert _attempt(_client(app, "10.0.0.5"), member, ROLE_PASSWORDS["member"]) == 429
    assert _attempt(_client(app, "10.0.0.5"), admin, ROLE_PASSWORDS["admin"]) == 302
    app.extensions["doclib_jobs"].shutdown()


def test_login_throttle_per_client_for_unknown_accounts(tmp_path):
    """A client trying many unknown addresses (web.login_attempts_client, 50)
    waits for every account (the answer does not tell which exist)."""
    app = build_web(tmp_path)
    sprayer = _client(app, "10.0.0.66")
    codes = [_attempt(sprayer, f"guess{i}@example.org", "wrong-pass") for i in range(50)]
    assert codes == [401] * 50
    assert _attempt(sprayer, "guess99@example.org", "wrong-pass") == 429
    assert _attempt(sprayer, "admin@example.org", ROLE_PASSWORDS["admin"]) == 429
    assert _attempt(_client(app, "10.0.0.67"), "admin@example.org",
                    ROLE_PASSWORDS["admin"]) == 302
    app.extensions["doclib_jobs"].shutdown()


def test_login_throttle_sees_the_forwarded_client_only_behind_a_trusted_proxy(tmp_path):
    """With web.trusted_proxies, the client is X-Forwarded-For's, but only
    when the immediate peer is a proxy (web.proxy_addresses); anyone else
    sending the header is throttled by their own address."""
    app = build_web(tmp_path, **{"web.trusted_proxies": 1})
    member = "member@example.org"
    proxy = _client(app, "127.0.0.1")

    def via(client_ip: str) -> dict:
        return {"headers": {"X-Forwarded-For": client_ip}}

    codes = [_attempt(proxy, member, "wrong-pass", **via("203.0.113.5")) for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert _attempt(proxy, member, ROLE_PASSWORDS["member"], **via("203.0.113.6")) == 302
    # not a proxy: a new X-Forwarded-For per attempt changes nothing
    direct = _client(app, "198.51.100.7")
    codes = [_attempt(direct, member, "wrong-pass", **via(f"192.0.2.{i}")) for i in range(6)]
    assert codes == [401] * 5 + [429]
    r = direct.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in r.headers
    app.extensions["doclib_jobs"].shutdown()


# a `next=` a browser would turn into another site (WHATWG URL parsing:
# leading and trailing C0 controls and spaces stripped, tabs and newlines
# removed anywhere, a backslash read as a slash)
REDIRECT_BYPASSES = [
    "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "\\/evil.com",
    "\\\\evil.com", "/\\/evil.com",
    "/\t/evil.com", "/\n/evil.com", "/\r/evil.com", "/\r\n/evil.com", "\t//evil.com",
    " //evil.com", "\x00//evil.com", "\x1f//evil.com", "/\x00/evil.com", "//evil.com\x00",
    "/%09/evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "/%5Cevil.com", "%2F%2Fevil.com",
    "https:evil.com", "https:/evil.com", "https://evil.com", "HTTPS://evil.com",
    "http:\\\\evil.com", "ftp://evil.com", "evil.com", "@evil.com", "//evil.com@localhost",
    "javascript:alert(1)", "java\tscript:alert(1)", "\x01javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    "\ufeff//evil.com", "\u3000//evil.com", "\uff0f\uff0fevil.com", "/\u2028/evil.com",
]


def _same_site(location: str) -> bool:
    """A browser reads a printable-ASCII string that starts with one slash
    not followed by another slash or a backslash as a path on this host."""
    return re.fullmatch(r"/(?![/\\])[!-~]*", location) is not None


@pytest.mark.parametrize("target", REDIRECT_BYPASSES)
def test_login_never_redirects_to_another_site(web_app, target):
    c = web_app.test_client()
    page = c.get("/login", query_string={"next": target}).get_data(as_text=True)
    shown = re.search(r'action="/login".*?name="next" value="([^"]*)"', page, re.S).group(1)
    assert shown == "/"
    r = c.post("/login", data={"email": "member@example.org",
                               "password": ROLE_PASSWORDS["member"],
                               "csrf_token": csrf_of(page), "next": target})
    assert r.status_code == 302
    assert r.headers["Location"] == "/", r.headers["Location"]
    # the language switch takes the same `next`
    r = c.post("/lang", data={"lang": "ar", "csrf_token": token(c), "next": target})
    assert r.headers["Location"] == "/"


@pytest.mark.parametrize("target,expected", [
    ("/search?q=x&k=3", "/search?q=x&k=3"),
    ("/documents/3#page-2", "/documents/3#page-2"),
    ("/search?q=%D8%AA%D9%82%D8%B1%D9%8A%D8%B1", "/search?q=%D8%AA%D9%82%D8%B1%D9%8A%D8%B1"),
    ("/search?q=تقرير", "/search?q=%D8%AA%D9%82%D8%B1%D9%8A%D8%B1"),
    ("/events\\amman-2025", "/events/amman-2025"),  # a browser reads \\ as /
    ("\\evil.com", "/evil.com"),  # a path on this site to a browser too
    ("/search?q=a\tb", "/search?q=ab"),  # a browser drops the tab
    ("/search?q=//x", "/search?q=//x"),
])
def test_login_keeps_same_site_targets(web_app, target, expected):
    c = web_app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"email": "member@example.org",
                               "password": ROLE_PASSWORDS["member"],
                               "csrf_token": csrf_of(page), "next": target})
    assert r.headers["Location"] == expected
    assert _same_site(r.headers["Location"])


def test_passwords_are_argon2id_and_rehashed(web_app):
    from argon2 import PasswordHasher

    from doclib import accounts

    lib = web_app.extensions["doclib"]
    with lib.db.begin() as conn:
        user = accounts.user_by_email(conn, "member@example.org")
        assert user.password_hash.startswith("$argon2id$")
        weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(
            ROLE_PASSWORDS["member"])
        conn.execute(store.users.update().where(store.users.c.id == user.id)
                     .values(password_hash=weak))
        assert accounts.authenticate(conn, "member@example.org", ROLE_PASSWORDS["member"])
        assert accounts.user_by_email(conn, "member@example.org").password_hash != weak


def test_api_tokens(web_app):
    from doclib import accounts

    lib = web_app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = accounts.user_by_email(conn, "curator@example.org").id
        tok = accounts.create_token(conn, uid)
    c = web_app.test_client()
    h = {"Authorization": f"Bearer {tok}"}
    ids = doc_ids(web_app)
    assert c.get(f"/api/v1/documents/{ids[MINUTES]}", headers=h).status_code == 200
    # no CSRF needed with a token; a bad token is refused, never a visitor
    r = c.post("/api/v1/events", json={"slug": "token-event", "title": {"en": "T"}}, headers=h)
    assert r.status_code == 201
    bad = {"Authorization": "Bearer nope"}
    assert c.get(f"/api/v1/documents/{ids[MINUTES]}", headers=bad).status_code == 401


def test_a_token_that_does_not_authenticate_is_401(tmp_path):
    """A wrong, revoked or disabled account's token is refused (401), never
    answered as a visitor's request: the caller meant to be someone."""
    from doclib import accounts

    app = build_web(tmp_path)
    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        member = accounts.user_by_email(conn, "member@example.org").id
        curator = accounts.user_by_email(conn, "curator@example.org").id
        revoked = accounts.create_token(conn, member)
        disabled = accounts.create_token(conn, curator)
        valid = accounts.create_token(conn, member)
        conn.execute(store.api_tokens.delete().where(
            store.api_tokens.c.token_hash == accounts.token_hash(revoked)))
        accounts.set_active(conn, curator, False)
    c = app.test_client()
    ok = c.get("/api/v1/search", query_string={"q": SECRET},
               headers={"Authorization": f"Bearer {valid}"})
    assert ok.status_code == 200 and ok.get_json()["results"]
    headers = [f"Bearer {revoked}", f"Bearer {disabled}", "Bearer dl_wrong", "Bearer ",
               "Bearer", f"Basic {valid}", valid, "", f"bearer {revoked}"]
    for value in headers:
        h = {"Authorization": value}
        assert_unauthorized(c.get("/api/v1/search", query_string={"q": SECRET}, headers=h))
        assert_unauthorized(c.get("/api/v1/documents", headers=h))
        assert_unauthorized(c.post("/api/v1/events", json={"slug": "x", "title": {"en": "X"}},
                             headers=h))
        page = c.get("/search", query_string={"q": SECRET}, headers=h)
        assert page.status_code == 401 and "WWW-Authenticate" in page.headers
        assert "Steering Committee" not in page.get_data(as_text=True)
        assert c.get("/", headers=h).status_code == 401
    # with a valid session cookie too: the header still decides
    login(c, "member")
    assert_unauthorized(c.get("/api/v1/search", query_string={"q": SECRET},
                        headers={"Authorization": f"Bearer {revoked}"}))
    app.extensions["doclib_jobs"].shutdown()


def test_api_change_without_credentials_is_401(web_app):
    """No token and no session: a POST (PATCH, DELETE) to the API is 401 in
    the API's error shape, not a message about a form's CSRF token."""
    ids = doc_ids(web_app)
    c = web_app.test_client()
    for r in (c.post("/api/v1/events", json={"slug": "x", "title": {"en": "X"}}),
              c.post("/api/v1/documents/delete", json={"ids": [ids[MINUTES]]}),
              c.patch(f"/api/v1/documents/{ids[AR_REPORT]}", json={"access": "members"}),
              c.delete(f"/api/v1/documents/{ids[AR_REPORT]}"),
              c.post("/api/v1/documents", data={"file": (io.BytesIO(b"x"), "a.txt")},
                     content_type="multipart/form-data")):
        assert_unauthorized(r)
        assert "form" not in r.get_json()["error"]
    # a session that no longer exists is no credential either
    stale = web_app.test_client()
    stale.set_cookie("doclib_session", "gone")
    assert_unauthorized(stale.post("/api/v1/events", json={"slug": "x", "title": {"en": "X"}}))
    assert doc_ids(web_app) == ids
    # pages' forms still answer a missing CSRF token as before
    assert c.post("/lang", data={"lang": "ar"}).status_code == 400


def test_security_headers_everywhere(web_app, client_for):
    ids = doc_ids(web_app)
    c = client_for("member")
    for url in ["/", "/api/v1/search?q=x", "/documents/424242", "/api/v1/documents/424242",
                f"/documents/{ids[MINUTES]}/file"]:
        r = c.get(url)
        h = r.headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        r.close()


def _vary(r) -> set[str]:
    return {v.strip().lower() for v in r.headers.get("Vary", "").split(",") if v.strip()}


def test_authenticated_responses_are_never_cached(web_app, client_for):
    """Issue 10.9: whatever a caller with credentials receives (downloads
    included) is ``no-store``, without validators a cache could reuse; what
    can differ by caller says so in ``Vary``.  A visitor's public download
    may stay cacheable."""
    from doclib import accounts

    ids = doc_ids(web_app)
    lib = web_app.extensions["doclib"]
    with lib.db.begin() as conn:
        tok = accounts.create_token(conn, accounts.user_by_email(conn, "member@example.org").id)
    member = client_for("member")
    bearer = web_app.test_client()
    auth = {"Authorization": f"Bearer {tok}"}
    urls = [f"/documents/{ids[MINUTES]}/file", f"/api/v1/documents/{ids[MINUTES]}/file",
            f"/documents/{ids[AR_REPORT]}/file", f"/api/v1/documents/{ids[MINUTES]}",
            f"/documents/{ids[MINUTES]}", "/api/v1/search?q=budget", "/search?q=budget", "/",
            "/api/v1/documents/424242"]
    for client, headers in ((member, {}), (bearer, auth)):
        for url in urls:
            r = client.get(url, headers=headers)
            assert r.status_code in (200, 404), url
            assert r.headers["Cache-Control"] == "no-store", (url, r.headers)
            assert "ETag" not in r.headers and "Last-Modified" not in r.headers, url
            assert {"cookie", "authorization"} <= _vary(r), url
            r.close()
    # a member's conditional request gets the document, never a 304 from a validator
    visitor = client_for("visitor")
    public = visitor.get(f"/documents/{ids[AR_REPORT]}/file")
    assert public.status_code == 200 and "no-store" not in public.headers["Cache-Control"]
    assert {"cookie", "authorization"} <= _vary(public)
    etag = public.headers.get("ETag")
    public.close()
    r = member.get(f"/documents/{ids[AR_REPORT]}/file", headers={"If-None-Match": etag or "*"})
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    r.close()
    # a visitor's pages and answers vary by caller too; a page that carries the
    # caller's CSRF token (every page: the language switch) is theirs alone
    for url in ("/", "/search?q=budget", "/api/v1/search?q=budget",
                f"/api/v1/documents/{ids[MINUTES]}"):
        r = visitor.get(url)
        assert {"cookie", "authorization"} <= _vary(r), url
        assert (r.headers["Cache-Control"] == "no-store") == (not url.startswith("/api/")), url


def test_download_with_arabic_name(web_app, client_for):
    ids = doc_ids(web_app)
    r = client_for("visitor").get(f"/documents/{ids[AR_REPORT]}/file")
    cd = r.headers["Content-Disposition"]
    assert cd.startswith("attachment;")
    assert "filename*=UTF-8''" + quote(AR_REPORT) in cd
    assert "\n" not in cd and "\r" not in cd
    assert r.data.startswith(b"%PDF")
    assert r.headers["Content-Type"] == "application/pdf"
    r.close()


def test_forwarded_headers_ignored_without_proxy(web_app):
    c = web_app.test_client()
    r = c.post("/login", data={"email": "member@example.org",
                               "password": ROLE_PASSWORDS["member"],
                               "csrf_token": token(c)},
               headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
    assert r.status_code == 302
    assert not c.get_cookie("doclib_session").secure  # the header was not trusted


def test_forwarded_headers_trusted_with_proxy(tmp_path):
    from conftest import FakeEmbedder, make_config
    from doclib.web import create_app

    app = create_app(make_config(tmp_path, **{"web.trusted_proxies": 1}),
                     embedder=FakeEmbedder())
    c = app.test_client()
    r = c.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in r.headers


# ----------------------------------------------------------------- uploads
def test_upload_flow_arabic_filename_and_search(tmp_path):
    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "curator")
    data = "ورشة جديدة عن حماية الأطفال من الدعاية المتطرفة على الإنترنت.\n".encode()
    r = c.post("/api/v1/documents", headers={"X-CSRF-Token": token(c)},
               data={"file": (io.BytesIO(data), "تقرير.txt"), "access": "public",
                     "type": "report", "event": "amman-2025", "workshop": "3"},
               content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    job = wait_job(c, r.get_json()["job"])
    assert job["status"] == "ready", job
    doc = c.get(f"/api/v1/documents/{job['document_id']}").get_json()["document"]
    assert doc["filename"] == "تقرير.txt" and doc["workshop"]["number"] == 3
    res = c.get("/api/v1/search", query_string={"q": "الدعاية المتطرفة"}).get_json()
    assert res["results"][0]["document"]["id"] == job["document_id"]
    app.extensions["doclib_jobs"].shutdown()


@pytest.mark.parametrize("name,content,message", [
    ("evil.exe", b"MZ\x90\x00", "not accepted"),
    ("fake.pdf", b"hello, I am text", "content is TXT"),
    ("empty.txt", b"", "empty"),
])
def test_bad_uploads_get_a_clear_4xx_and_store_nothing(web_app, client_for, name, content,
                                                       message):
    c = client_for("curator")
    lib = web_app.extensions["doclib"]
    before = doc_ids(web_app)
    r = c.post("/api/v1/documents", headers={"X-CSRF-Token": token(c)},
               data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")
    assert r.status_code in (400, 415) and message in r.get_json()["error"]
    assert doc_ids(web_app) == before
    incoming = lib.config.library_dir / "incoming"
    assert not incoming.exists() or not list(incoming.iterdir())


def test_too_large_upload_is_413(tmp_path):
    from conftest import FakeEmbedder, make_config
    from doclib import accounts
    from doclib.web import create_app

    app = create_app(make_config(tmp_path, **{"storage.max_upload_mb": 1}),
                     embedder=FakeEmbedder())
    with app.extensions["doclib"].db.begin() as conn:
        uid = accounts.add_user(conn, "curator@example.org", "curator-pass-1", "curator")
        tok = accounts.create_token(conn, uid)
    c = app.test_client()
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            b"\r\n" + b"x" * (2 * 1024 * 1024) + b"\r\n--b--\r\n")
    # raw bytes (an in-memory stream): the test client spools big dict bodies to a file
    r = c.post("/api/v1/documents", data=body, content_type="multipart/form-data; boundary=b",
               headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 413
    assert r.get_json() == {"ok": False, "status": 413,
                            "error": "the upload is larger than the limit of 1 MiB"}


def test_upload_errors_say_what_was_wrong(web_app, client_for):
    """Issue 10.13: too many form parts, an overlong form field and a long
    file name each get a message about themselves (not "larger than 100
    MiB", not "file type 'none'"); nothing is stored."""
    c = client_for("curator")
    before = doc_ids(web_app)
    h = {"X-CSRF-Token": token(c)}
    parts = {f"f{i}": "x" for i in range(1200)}
    r = c.post("/api/v1/documents", headers=h, content_type="multipart/form-data",
               data={**parts, "file": (io.BytesIO(b"some text"), "a.txt")})
    err = r.get_json()["error"]
    assert r.status_code == 413 and "parts" in err and "MiB" not in err, err
    # raw bytes (an in-memory stream): the test client spools big dict bodies to a file
    body = (b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
            + b"x" * 600_000 + b"\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"a.txt\"\r\n\r\nsome text\r\n--b--\r\n")
    r = c.post("/api/v1/documents", headers=h, data=body,
               content_type="multipart/form-data; boundary=b")
    err = r.get_json()["error"]
    assert r.status_code == 413 and "field" in err and "MiB" not in err, err
    r = c.post("/api/v1/documents", headers=h, content_type="multipart/form-data",
               data={"file": (io.BytesIO(b"some text"), "n" * 300 + ".txt")})
    err = r.get_json()["error"]
    assert r.status_code == 400 and "name" in err and "type" not in err, err
    assert "255" in err
    page = c.post("/curate/upload", content_type="multipart/form-data",
                  data={"csrf_token": token(c), "type": "report", **parts,
                        "file": (io.BytesIO(b"some text"), "a.txt")})
    assert page.status_code == 413 and "parts" in page.get_data(as_text=True)
    assert doc_ids(web_app) == before


def test_failed_upload_is_explained_to_curators(tmp_path):
    from pypdf import PdfWriter

    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "curator")
    buf = io.BytesIO()
    w = PdfWriter()
    w.add_blank_page(width=100, height=100)
    w.write(buf)
    r = c.post("/api/v1/documents", headers={"X-CSRF-Token": token(c)},
               data={"file": (io.BytesIO(buf.getvalue()), "blank.pdf")},
               content_type="multipart/form-data")
    job = wait_job(c, r.get_json()["job"])
    assert job["status"] == "empty" and "no extractable text" in job["report"]["error"]
    page = c.get("/curate/").get_data(as_text=True)
    assert "no extractable text" in page
    app.extensions["doclib_jobs"].shutdown()


# ------------------------------------------------------------ property
ACCESS = st.sampled_from(["public", "members", "curators"])


@pytest.fixture(scope="module")
def prop_app(tmp_path_factory):
    app = build_web(tmp_path_factory.mktemp("prop-web"))
    yield app
    app.extensions["doclib_jobs"].shutdown()


@settings(max_examples=15, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(levels=st.lists(ACCESS, min_size=4, max_size=4),
       role=st.sampled_from(["visitor", "member", "curator"]),
       query=st.sampled_from(["budget", "teenagers online", "الأسر", "schools", "Zarqa"]))
def test_property_every_endpoint_stays_in_the_visible_set(prop_app, levels, role, query):
    lib = prop_app.extensions["doclib"]
    rank = {"public": 0, "members": 1, "curators": 2}
    ids = sorted(doc_ids(prop_app).values())
    with lib.db.begin() as conn:
        for doc_id, level in zip(ids, levels, strict=True):
            conn.execute(store.documents.update().where(store.documents.c.id == doc_id)
                         .values(access=rank[level]))
    c = prop_app.test_client()
    if role != "visitor":
        login(c, role)
    limit = {"visitor": 0, "member": 1, "curator": 2}[role]
    visible = {d for d, lv in zip(ids, levels, strict=True) if rank[lv] <= limit}
    seen: set[int] = set()
    res = c.get("/api/v1/search", query_string={"q": query, "k": 20}).get_json()
    seen |= {r["document"]["id"] for r in res["results"]}
    assert sum(f["count"] for f in res["facets"]["type"]) <= len(visible)
    seen |= {d["id"] for d in c.get("/api/v1/documents").get_json()["documents"]}
    ev = c.get("/api/v1/events/amman-2025").get_json()
    seen |= {d["id"] for d in ev["documents"]}
    ws = c.get("/api/v1/workshops/related", query_string={"q": query}).get_json()
    seen |= {p["document"]["id"] for r in ws["results"] for p in r["reason"] if p["document"]}
    for w in ev["workshops"]:
        seen |= {d["id"] for d in c.get(f"/api/v1/workshops/{w['id']}").get_json()["documents"]}
    for d in ids:
        r = c.get(f"/api/v1/documents/{d}/related")
        if d in visible:
            seen |= {x["document"]["id"] for x in r.get_json()["results"]}
        else:
            assert r.status_code == 404
            assert c.get(f"/api/v1/documents/{d}").status_code == 404
            f = c.get(f"/api/v1/documents/{d}/file")
            assert f.status_code == 404
            f.close()
    assert seen <= visible, (seen - visible, levels, role)


def test_sample_library_is_present():
    assert (SAMPLE / "catalogue.yaml").exists()


def test_workers_starting_at_once_share_one_whole_secret_key(tmp_path):
    """Two gunicorn workers create the session key at the same moment: none
    may fail to boot (an O_EXCL create made the second one raise, and the
    service stopped) and all must read the same, whole key."""
    import threading

    from conftest import make_config
    from doclib.web import _secret_key

    for run in range(20):
        cfg = make_config(tmp_path / str(run))
        keys, errors = [], []
        start = threading.Barrier(8)

        def boot(cfg=cfg, keys=keys, errors=errors, start=start):
            start.wait()
            try:
                keys.append(_secret_key(cfg))
            except Exception as e:  # noqa: BLE001 - the test reports any failure
                errors.append(e)

        threads = [threading.Thread(target=boot) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(set(keys)) == 1 and len(keys[0]) == 64
        assert [p.name for p in cfg.index_dir.iterdir() if "secret" in p.name] == ["secret_key"]
