"""Roles, the one permission check, the visible-set query, password hashing.

Access is hierarchical: a visitor sees ``public``; a member also sees
``members``; curators and admins see everything.  Every surface asks
``visible_documents_sql`` (retrieval, listings, facets, related items) or
``can`` (single objects); nothing else decides visibility.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import N_, BadRequest
from .models import ROLES, Access

# role -> the highest access level it may read
_MAX_ACCESS = {"visitor": Access.public, "member": Access.members,
               "curator": Access.curators, "admin": Access.curators}

# action -> roles allowed
_ACTIONS = {
    "read": ("visitor", "member", "curator", "admin"),  # further limited by document access
    "upload": ("curator", "admin"),
    "edit": ("curator", "admin"),
    "delete": ("curator", "admin"),
    "manage_events": ("curator", "admin"),
    "view_jobs": ("curator", "admin"),
    "view_audit": ("curator", "admin"),
    "manage_users": ("admin",),
    "change_password": ("member", "curator", "admin"),  # one's own
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a role and, when logged in, a user id."""

    role: str = "visitor"
    user_id: int | None = None
    email: str = ""
    name: str = ""

    @property
    def max_access(self) -> Access:
        return _MAX_ACCESS[self.role]

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


VISITOR = Principal()


def principal_for_role(role: str) -> Principal:
    """A principal with a role but no account (the CLI's ``--as``)."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return Principal(role=role)


def can(who: Principal, action: str, document: dict[str, Any] | None = None) -> bool:
    """The single permission check."""
    if who.role not in _ACTIONS.get(action, ()):
        return False
    if document is not None:
        if int(document["access"]) > who.max_access:
            return False
        # documents that are not ready are only for those who manage them
        if document.get("status") != "ready" and who.max_access < Access.curators:
            return False
    return True


def visible_documents_sql(who: Principal, alias: str = "d") -> tuple[str, dict[str, Any]]:
    """SQL condition on the documents table for the caller's visible set."""
    cond = f"{alias}.access <= :max_access AND {alias}.status = 'ready'"
    return cond, {"max_access": int(who.max_access)}


# ---------------------------------------------------------------- passwords
def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()  # Argon2id, library defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise BadRequest(N_("passwords need at least 8 characters"))
    return str(_hasher().hash(password))


def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """(ok, new hash if the parameters changed and it should be rehashed)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    ph = _hasher()
    try:
        ph.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, (ph.hash(password) if ph.check_needs_rehash(stored_hash) else None)


def new_token() -> tuple[str, str]:
    """(token shown once, sha256 stored)."""
    token = "dl_" + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
