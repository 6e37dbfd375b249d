"""Account administration (admins only): add, change role, disable, enable,
reset a password (a generated one, shown once)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _

from .. import accounts
from .security import SESSION_COOKIE, lib, requires, via, who

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@bp.get("/users")
@requires("manage_users")
def users() -> Any:
    with lib().db.connect() as conn:
        rows = accounts.list_users(conn)
    return render_template("admin_users.html", users=rows, roles=accounts.ACCOUNT_ROLES)


@bp.post("/users")
@requires("manage_users")
def add_user() -> Any:
    f = request.form
    accounts.create_account(lib(), who(), f.get("email", ""), f.get("password", ""),
                            f.get("role", "member"), f.get("name", ""), via())
    flash(_("Account added."))
    return redirect("/admin/users")


@bp.post("/users/<int:user_id>")
@requires("manage_users")
def change_user(user_id: int) -> Any:
    f = request.form
    action = f.get("action", "")
    if action == "reset-password":
        return _reset_password(user_id)
    accounts.change_account(lib(), who(), user_id, action,
                            f.get("role", "") if action == "role" else "", via())
    flash(_("Account updated."))
    return redirect("/admin/users")


def _reset_password(user_id: int) -> Any:
    """A generated password, shown in this answer only (never stored in
    clear, never flashed into a cookie); the account's sessions end."""
    user, password = accounts.reset_password(lib(), who(), user_id,
                                             request.cookies.get(SESSION_COOKIE), via())
    with lib().db.connect() as conn:
        rows = accounts.list_users(conn)
    return render_template("admin_users.html", users=rows, roles=accounts.ACCOUNT_ROLES,
                           reset={"email": user.email, "password": password})
