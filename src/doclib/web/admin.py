"""Account administration (admins only): add, change role, disable, enable,
reset a password (a generated one, shown once)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _

from .. import accounts
from ..errors import N_, BadRequest
from .security import SESSION_COOKIE, audit, lib, requires, who

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
    with lib().db.begin() as conn:
        uid = accounts.add_user(conn, f.get("email", ""), f.get("password", ""),
                                f.get("role", "member"), f.get("name", ""))
        audit(conn, "user.add", str(uid))
    flash(_("Account added."))
    return redirect("/admin/users")


@bp.post("/users/<int:user_id>")
@requires("manage_users")
def change_user(user_id: int) -> Any:
    f = request.form
    action = f.get("action")
    if user_id == who().user_id and action in ("disable", "role"):
        raise BadRequest(N_("you cannot disable your own account or change your own role"))
    if action == "reset-password":
        return _reset_password(user_id)
    with lib().db.begin() as conn:
        if action == "role":
            accounts.set_role(conn, user_id, f.get("role", ""))
        elif action == "disable":
            accounts.set_active(conn, user_id, False)
        elif action == "enable":
            accounts.set_active(conn, user_id, True)
        else:
            raise BadRequest(N_("unknown action"))
        audit(conn, f"user.{action}", str(user_id), f.get("role", ""))
    flash(_("Account updated."))
    return redirect("/admin/users")


def _reset_password(user_id: int) -> Any:
    """A generated password, shown in this answer only (never stored in
    clear, never flashed into a cookie); the account's sessions end."""
    password = accounts.generated_password()
    with lib().db.begin() as conn:
        user = accounts.get_user(conn, user_id)
        accounts.set_password(conn, user_id, password,
                              keep_session=request.cookies.get(SESSION_COOKIE))
        audit(conn, "user.reset-password", str(user_id))
        rows = accounts.list_users(conn)
    return render_template("admin_users.html", users=rows, roles=accounts.ACCOUNT_ROLES,
                           reset={"email": user.email, "password": password})
