"""Roles, the one permission check for actions, password hashing.

What a caller may see of the documents is its audience's to decide
(``audience.py``): ``Principal.audience``, built once per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cached_property

from .audience import Audience
from .errors import N_, BadRequest
from .models import ROLES

# action -> roles allowed
_ACTIONS = {
    "read": ("visitor", "member", "curator", "admin"),  # which documents: the audience's
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

    @cached_property
    def audience(self) -> Audience:
        """Which documents this caller may see (made once per principal)."""
        return Audience.of_role(self.role)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None


VISITOR = Principal()


def principal_for_role(role: str) -> Principal:
    """A principal with a role but no account (the CLI's ``--as``)."""
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return Principal(role=role)


def can(who: Principal, action: str) -> bool:
    """The single permission check for actions (which documents: the
    caller's ``audience``)."""
    return who.role in _ACTIONS.get(action, ())


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
