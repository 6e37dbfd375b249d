"""Accounts over their whole life: sessions that expire (idle and absolute),
API tokens (named, expiring, revocable, listed, dead for good once their
account is disabled), passwords set from the CLI, reset by an admin and
changed by their owner.  Real app, real SQLite, real Argon2, the real CLI."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

import doclib.embed
from conftest import (
    ROLE_PASSWORDS,
    FakeEmbedder,
    assert_unauthorized,
    build_web,
    csrf_of,
    doc_ids,
    login,
)
from doclib import config as config_mod
from doclib import store
from doclib.cli import main

CURATOR = "cur@example.org"
MINUTES = "steering-committee-minutes-2025-11.docx"  # a members-only sample document


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="seconds")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """One data folder used by the real CLI (click runner) and a real app."""
    from doclib.web import create_app

    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage:\n  data_dir: data\nembed:\n  second_model: ''\n", encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(cfg))
    monkeypatch.setattr(doclib.embed, "make_embedder", lambda cfg: FakeEmbedder())
    monkeypatch.setattr("doclib.library.make_embedder", lambda cfg: FakeEmbedder())
    runner = CliRunner()

    def cli(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    assert cli("users", "add", CURATOR, "--role", "curator",
               input="curator-pass-1\n").exit_code == 0
    app = create_app(config_mod.load(cfg), embedder=FakeEmbedder())
    app.testing = True
    app.cli_ = cli
    yield app
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


def _api(app, tok: str):
    return app.test_client().get("/api/v1/documents", headers={"Authorization": f"Bearer {tok}"})


def _login(app, email: str, password: str):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"email": email, "password": password,
                               "csrf_token": csrf_of(page)})
    return c, r


# ---------------------------------------------------------------- sessions
def _set_session_times(app, email: str, created: str, last_seen: str) -> None:
    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = conn.execute(store.users.select().where(store.users.c.email == email)).one().id
        conn.execute(store.sessions.update().where(store.sessions.c.user_id == uid)
                     .values(created_at=created, last_seen=last_seen))


def _is_member(app, c) -> bool:
    ids = doc_ids(app)
    return c.get(f"/api/v1/documents/{ids[MINUTES]}").status_code == 200


@pytest.mark.parametrize("created,last_seen,alive", [
    ({"days": 730}, {"days": 730}, False),  # untouched for two years
    ({"hours": 13}, {"hours": 13}, False),  # idle longer than web.session_idle_hours (12)
    ({"days": 31}, {"minutes": 1}, False),  # in use, but older than web.session_max_days (30)
    ({"days": 29}, {"hours": 11}, True),  # within both
])
def test_sessions_expire_when_idle_and_after_their_lifetime(web_app, created, last_seen,
                                                            alive):
    """Checked on the server from the session's own times, not left to the
    cookie: a replayed cookie of an expired session is a visitor's."""
    c = web_app.test_client()
    login(c, "member")
    assert _is_member(web_app, c)
    _set_session_times(web_app, "member@example.org", _ago(**created), _ago(**last_seen))
    assert _is_member(web_app, c) is alive
    if not alive:
        lib = web_app.extensions["doclib"]
        with lib.db.connect() as conn:  # the expired session is gone, not only refused
            uid = conn.execute(store.users.select().where(
                store.users.c.email == "member@example.org")).one().id
            sids = conn.execute(store.sessions.select().where(
                store.sessions.c.user_id == uid)).all()
        assert sids == []


def test_a_session_in_use_stays_alive(web_app):
    """A request renews the idle clock (last_seen), so a session in use lives
    until its absolute lifetime."""
    c = web_app.test_client()
    login(c, "curator")
    _set_session_times(web_app, "curator@example.org", _ago(hours=20), _ago(hours=11))
    assert _is_member(web_app, c)
    lib = web_app.extensions["doclib"]
    with lib.db.connect() as conn:
        uid = conn.execute(store.users.select().where(
            store.users.c.email == "curator@example.org")).one().id
        rows = conn.execute(store.sessions.select().where(
            store.sessions.c.user_id == uid)).all()
    assert rows and all(r.last_seen >= _ago(minutes=5) for r in rows)


# ------------------------------------------------------------------ tokens
def test_tokens_are_named_listed_expiring_and_revocable(site):
    cli = site.cli_
    first = cli("users", "token", CURATOR, "--name", "ci")
    assert first.exit_code == 0, first.output
    t1 = first.stdout.strip()
    assert t1.startswith("dl_") and "\n" not in t1  # stdout is the token alone
    second = cli("users", "token", CURATOR, "--name", "laptop", "--expires", "30d")
    t2 = second.stdout.strip()
    # a new token does not leave the others unknown
    assert "1 other active token" in second.stderr and "ci" in second.stderr
    assert cli("users", "token", CURATOR, "--name", "ci").exit_code == 2  # names are unique
    assert _api(site, t1).status_code == 200

    listing = cli("users", "tokens", CURATOR).output
    ci = next(line for line in listing.splitlines() if " ci " in f" {line} ")
    laptop = next(line for line in listing.splitlines() if "laptop" in line)
    expiry = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert "active" in ci and "never used" not in ci  # last used: just now
    assert expiry in laptop and "never used" in laptop

    res = cli("users", "revoke-token", CURATOR, "ci")
    assert res.exit_code == 0, res.output
    assert_unauthorized(_api(site, t1))
    assert _api(site, t2).status_code == 200
    lib = site.extensions["doclib"]
    with lib.db.begin() as conn:  # laptop's 30 days are over
        conn.execute(store.api_tokens.update().where(store.api_tokens.c.name == "laptop")
                     .values(expires_at=_ago(hours=1)))
    assert_unauthorized(_api(site, t2))
    listing = cli("users", "tokens", CURATOR).output
    assert re.search(r"\bci\b.*revoked", listing) and re.search(r"laptop.*expired", listing)
    assert cli("users", "revoke-token", CURATOR, "nothing").exit_code == 2


def test_disabled_account_gets_no_token_and_enabling_revives_none(site):
    cli = site.cli_
    tok = cli("users", "token", CURATOR).stdout.strip()
    c, r = _login(site, CURATOR, "curator-pass-1")
    assert r.status_code == 302 and _api(site, tok).status_code == 200
    assert cli("users", "disable", CURATOR).exit_code == 0
    refused = cli("users", "token", CURATOR)
    assert refused.exit_code == 2 and "disabled" in refused.output
    assert refused.stdout == ""
    res = cli("users", "enable", CURATOR)
    assert res.exit_code == 0, res.output
    assert_unauthorized(_api(site, tok))  # the old token stays dead
    assert CURATOR not in c.get("/").get_data(as_text=True)  # so does the old session
    assert "revoked" in cli("users", "tokens", CURATOR).output
    fresh = cli("users", "token", CURATOR).stdout.strip()
    assert _api(site, fresh).status_code == 200


def test_cli_sets_a_password_and_ends_the_sessions(site):
    cli = site.cli_
    c, r = _login(site, CURATOR, "curator-pass-1")
    assert r.status_code == 302
    res = cli("users", "password", CURATOR, input="a-new-password-9\n")
    assert res.exit_code == 0, res.output
    assert CURATOR not in c.get("/").get_data(as_text=True)
    assert _login(site, CURATOR, "curator-pass-1")[1].status_code == 401
    assert _login(site, CURATOR, "a-new-password-9")[1].status_code == 302
    short = cli("users", "password", CURATOR, input="short\n")
    assert short.exit_code == 2 and "8 characters" in short.output
    assert cli("users", "password", "nobody@example.org", input="whatever-123\n").exit_code == 2


# --------------------------------------------------------------- passwords
def test_admin_resets_a_password_shown_once(tmp_path):
    app = build_web(tmp_path)
    member, admin = app.test_client(), app.test_client()
    login(member, "member")
    login(admin, "admin")
    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        uid = conn.execute(store.users.select().where(
            store.users.c.email == "member@example.org")).one().id
    page = admin.get("/admin/users").get_data(as_text=True)
    r = admin.post(f"/admin/users/{uid}", data={"action": "reset-password",
                                                "csrf_token": csrf_of(page)})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    m = re.search(r'<output[^>]*id="new-password"[^>]*>([^<]+)</output>', html)
    assert m, html
    new = m.group(1).strip()
    assert len(new) >= 12 and "member@example.org" in html
    assert "no-store" in r.headers["Cache-Control"]
    assert new not in admin.get("/admin/users").get_data(as_text=True)  # shown once
    assert "member@example.org" not in member.get("/").get_data(as_text=True)  # logged out
    assert _login(app, "member@example.org", ROLE_PASSWORDS["member"])[1].status_code == 401
    assert _login(app, "member@example.org", new)[1].status_code == 302
    # members may not reset anyone's password
    c = app.test_client()
    login(c, "curator")
    t = csrf_of(c.get("/").get_data(as_text=True))
    assert c.post(f"/admin/users/{uid}", data={"action": "reset-password",
                                               "csrf_token": t}).status_code == 403
    app.extensions["doclib_jobs"].shutdown()


def test_users_change_their_own_password(tmp_path):
    app = build_web(tmp_path)
    assert app.test_client().get("/account/password").status_code == 302  # visitors log in
    c, elsewhere = app.test_client(), app.test_client()
    login(c, "member")
    login(elsewhere, "member")
    page = c.get("/account/password")
    assert page.status_code == 200
    t = csrf_of(page.get_data(as_text=True))
    wrong = c.post("/account/password", data={"csrf_token": t, "current": "not-my-password",
                                              "new": "changed-pass-77",
                                              "confirm": "changed-pass-77"})
    assert wrong.status_code == 400 and "current password" in wrong.get_data(as_text=True)
    mismatch = c.post("/account/password", data={
        "csrf_token": t, "current": ROLE_PASSWORDS["member"], "new": "changed-pass-77",
        "confirm": "changed-pass-78"})
    assert mismatch.status_code == 400
    short = c.post("/account/password", data={
        "csrf_token": t, "current": ROLE_PASSWORDS["member"], "new": "short",
        "confirm": "short"})
    assert short.status_code == 400 and "8 characters" in short.get_data(as_text=True)
    ok = c.post("/account/password", data={
        "csrf_token": t, "current": ROLE_PASSWORDS["member"], "new": "changed-pass-77",
        "confirm": "changed-pass-77"})
    assert ok.status_code == 302
    assert "member@example.org" in c.get("/").get_data(as_text=True)  # this session stays
    assert "member@example.org" not in elsewhere.get("/").get_data(as_text=True)  # others end
    assert _login(app, "member@example.org", ROLE_PASSWORDS["member"])[1].status_code == 401
    assert _login(app, "member@example.org", "changed-pass-77")[1].status_code == 302
    app.extensions["doclib_jobs"].shutdown()


def test_guessing_the_current_password_is_throttled(tmp_path):
    app = build_web(tmp_path)
    c = app.test_client()
    login(c, "member")
    t = csrf_of(c.get("/account/password").get_data(as_text=True))
    codes = [c.post("/account/password", data={"csrf_token": t, "current": f"guess-{i}xx",
                                                "new": "changed-pass-77",
                                                "confirm": "changed-pass-77"}).status_code
             for i in range(6)]
    assert codes == [400] * 5 + [429]
    app.extensions["doclib_jobs"].shutdown()


def test_upgrade_keeps_tokens_and_revokes_those_of_disabled_accounts(tmp_path):
    """A data folder from before revision 0007: its tokens get a name and
    keep working, except those of accounts already disabled (revoked, so
    that enabling the account does not revive them)."""
    from sqlalchemy import text

    from conftest import make_config
    from doclib import accounts
    from doclib.library import Library
    from doclib.web import create_app

    cfg = make_config(tmp_path)
    lib = Library(cfg, embedder=FakeEmbedder())
    with lib.db.begin() as conn:
        active = accounts.add_user(conn, "a@example.org", "password-123", "member")
        disabled = accounts.add_user(conn, "d@example.org", "password-123", "member")
    lib.db.downgrade("0006")
    assert lib.db.current_revision() == "0006"
    tokens = {}
    with lib.db.begin() as conn:  # the old schema: no name, expiry, revocation
        for uid in (active, disabled):
            tokens[uid], digest = accounts.new_token()
            conn.execute(text("INSERT INTO api_tokens(user_id, token_hash, created_at) "
                              "VALUES (:u, :h, :t)"), {"u": uid, "h": digest, "t": store.now()})
        conn.execute(text("UPDATE users SET active = 0 WHERE id = :u"), {"u": disabled})
    lib.close()
    app = create_app(cfg, embedder=FakeEmbedder())  # migrates at start
    db = app.extensions["doclib"].db
    assert db.current_revision() == db.head_revision()
    with app.extensions["doclib"].db.begin() as conn:
        accounts.set_active(conn, disabled, True)
        listed = {r.email: r for r in accounts.list_tokens(conn)}
    assert _api(app, tokens[active]).status_code == 200
    assert_unauthorized(_api(app, tokens[disabled]))
    assert listed["a@example.org"].name.startswith("token-")
    assert accounts.token_status(listed["d@example.org"]) == "revoked"
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()


def test_account_use_cases_own_the_rules_audit_and_the_transaction(lib, tmp_path):
    """``accounts.create_account`` / ``change_account`` (the admin pages'
    and the CLI's one call each): only admins; nobody disables their own
    account or changes their own role, from any edge; each change audited
    in its transaction, a refused one leaves nothing."""
    from sqlalchemy import select

    from doclib import accounts
    from doclib.auth import principal_for_role
    from doclib.errors import BadRequest, Forbidden

    cli = principal_for_role("admin")  # the command line: every right, no account
    admin_id = accounts.create_account(lib, cli, "boss@example.org", "boss-pass-123", "admin",
                                       via="cli")
    with lib.db.connect() as conn:
        boss = accounts.principal(accounts.get_user(conn, admin_id))
    uid = accounts.create_account(lib, boss, "m@example.org", "member-pass-1", "member",
                                  via="web")
    with pytest.raises(Forbidden):
        accounts.create_account(lib, principal_for_role("curator"), "x@example.org",
                                "xxxx-pass-1", "member")
    for action, role in [("disable", ""), ("role", "member")]:
        with pytest.raises(BadRequest, match="your own"):
            accounts.change_account(lib, boss, admin_id, action, role, via="web")
    with pytest.raises(BadRequest, match="unknown action"):
        accounts.change_account(lib, boss, uid, "delete", via="web")
    accounts.change_account(lib, boss, uid, "role", "curator", via="web")
    accounts.change_account(lib, boss, uid, "disable", via="web")
    with lib.db.connect() as conn:
        assert accounts.get_user(conn, admin_id).role == "admin"
        assert accounts.get_user(conn, admin_id).active
        user = accounts.get_user(conn, uid)
        assert (user.role, user.active) == ("curator", 0)
        a = store.audit
        rows = conn.execute(select(a.c.user_id, a.c.action, a.c.target, a.c.detail, a.c.via)
                            .order_by(a.c.id)).all()
    assert [tuple(r) for r in rows] == [
        (None, "user.add", str(admin_id), "admin", "cli"),
        (admin_id, "user.add", str(uid), "member", "web"),
        (admin_id, "user.role", str(uid), "curator", "web"),
        (admin_id, "user.disable", str(uid), "", "web")]
