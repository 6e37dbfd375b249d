"""Login, logout and changing one's own password.  A new server-side
session at every login; logout, a new password and disabling an account
delete sessions; attempts are throttled per (account, client), per account
and, for unknown accounts, per client (``accounts.LoginThrottle``)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, session
from flask_babel import gettext as _

from .. import accounts
from .redirects import safe_next
from .security import (
    SESSION_COOKIE,
    audit,
    clear_session_cookie,
    client_address,
    lib,
    requires,
    set_session_cookie,
    who,
)

bp = Blueprint("auth", __name__)


def _too_many() -> str:
    return _("Too many failed attempts. Wait a few minutes and try again.")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=nxt, error=None, email="")
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    cfg = lib().config.web
    throttle, client = accounts.LoginThrottle.of(cfg), client_address()
    with lib().db.begin() as conn:
        if throttle.blocked(conn, email, client):
            return render_template("login.html", next=nxt, email=email, error=_too_many()), 429
        user = accounts.authenticate(conn, email, password)
        if user is None:
            throttle.failed(conn, email, client)
            known = accounts.user_by_email(conn, email)
            # the address typed is not kept: it may be a password typed in the wrong field
            audit(conn, "login.failed", "", "" if known else "unknown account",
                  user_id=known.id if known else None)
            return render_template("login.html", next=nxt, email=email,
                                   error=_("Wrong e-mail or password.")), 401
        throttle.succeeded(conn, email, client)
        accounts.end_session(conn, request.cookies.get(SESSION_COOKIE))
        sid = accounts.start_session(conn, user.id, accounts.SessionLifetime.of(cfg))
        audit(conn, "login", user_id=user.id)
    session.clear()  # a new CSRF token with the new session
    session["csrf"] = secrets.token_urlsafe(32)
    resp = make_response(redirect(nxt))
    set_session_cookie(resp, sid)
    return resp


@bp.post("/logout")
def logout() -> Any:
    with lib().db.begin() as conn:
        accounts.end_session(conn, request.cookies.get(SESSION_COOKIE))
        if who().is_authenticated:
            audit(conn, "logout")
    session.clear()
    resp = make_response(redirect("/"))
    clear_session_cookie(resp)
    return resp


@bp.route("/account/password", methods=["GET", "POST"])
@requires("change_password")
def change_password() -> Any:
    """The current password is asked (and its guesses throttled like logins);
    the account's other sessions end, this one stays."""
    if request.method == "GET":
        return render_template("account_password.html", error=None)
    f = request.form
    me = who()
    assert me.user_id is not None
    throttle, client = accounts.LoginThrottle.of(lib().config.web), client_address()
    new = f.get("new", "")
    with lib().db.begin() as conn:
        if throttle.blocked(conn, me.email, client):
            return render_template("account_password.html", error=_too_many()), 429
        if not accounts.check_password(conn, me.user_id, f.get("current", "")):
            throttle.failed(conn, me.email, client)
            return render_template("account_password.html",
                                   error=_("The current password is wrong.")), 400
        if len(new) < 8:
            return render_template("account_password.html", error=_(
                "The new password needs at least 8 characters.")), 400
        if new != f.get("confirm", ""):
            return render_template("account_password.html", error=_(
                "The new password and its confirmation differ.")), 400
        throttle.succeeded(conn, me.email, client)
        accounts.set_password(conn, me.user_id, new,
                              keep_session=request.cookies.get(SESSION_COOKIE))
        audit(conn, "password.change")
    flash(_("Your password was changed; your other sessions have ended."))
    return redirect("/")
