"""Login and logout.  A new server-side session at every login; logout and
disabling an account delete it; attempts are throttled per (account,
client), per account and, for unknown accounts, per client
(``accounts.LoginThrottle``)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, session
from flask_babel import gettext as _

from .. import accounts
from .redirects import safe_next
from .security import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    lib,
    set_session_cookie,
    who,
)

bp = Blueprint("auth", __name__)


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
            return render_template("login.html", next=nxt, email=email, error=_(
                "Too many failed attempts. Wait a few minutes and try again.")), 429
        user = accounts.authenticate(conn, email, password)
        if user is None:
            throttle.failed(conn, email, client)
            return render_template("login.html", next=nxt, email=email,
                                   error=_("Wrong e-mail or password.")), 401
        throttle.succeeded(conn, email, client)
        accounts.end_session(conn, request.cookies.get(SESSION_COOKIE))
        sid = accounts.start_session(conn, user.id, accounts.SessionLifetime.of(cfg))
        accounts.audit(conn, user.id, "login")
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
            accounts.audit(conn, who().user_id, "logout")
    session.clear()
    resp = make_response(redirect("/"))
    clear_session_cookie(resp)
    return resp
