"""Accounts: users, server-side sessions, API tokens and the login throttle.

Sessions live in the database (the cookie only carries a random id), so
logging out or disabling an account ends them at once, in every worker.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from . import store
from .auth import Principal, hash_password, new_token, token_hash, verify_password
from .errors import BadRequest, Conflict, NotFound

_EMAIL = re.compile(r"[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,50}")
ACCOUNT_ROLES = ("member", "curator", "admin")
# a dummy hash so unknown accounts cost as much time as known ones
_DUMMY_HASH = None


def _norm_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise BadRequest("a valid e-mail address is needed")
    return email


def add_user(conn: Connection, email: str, password: str, role: str, name: str = "") -> int:
    email = _norm_email(email)
    if role not in ACCOUNT_ROLES:
        raise BadRequest(f"role must be one of {', '.join(ACCOUNT_ROLES)}")
    u = store.users
    if conn.execute(select(u.c.id).where(u.c.email == email)).first():
        raise Conflict(f"an account for {email} exists")
    return int(conn.execute(u.insert().values(
        email=email, name=(name or "").strip()[:200], role=role,
        password_hash=hash_password(password), active=1, session_version=1,
        created_at=store.now())).inserted_primary_key[0])


def get_user(conn: Connection, user_id: int) -> Any:
    row = conn.execute(select(store.users).where(store.users.c.id == user_id)).first()
    if row is None:
        raise NotFound("no such account")
    return row


def user_by_email(conn: Connection, email: str) -> Any:
    return conn.execute(select(store.users).where(
        store.users.c.email == (email or "").strip().lower())).first()


def require_user_by_email(conn: Connection, email: str) -> Any:
    user = user_by_email(conn, email)
    if user is None:
        raise NotFound(f"no account {email}")
    return user


def list_users(conn: Connection) -> list[Any]:
    return list(conn.execute(select(store.users).order_by(store.users.c.email)).all())


def set_role(conn: Connection, user_id: int, role: str) -> None:
    if role not in ACCOUNT_ROLES:
        raise BadRequest(f"role must be one of {', '.join(ACCOUNT_ROLES)}")
    get_user(conn, user_id)
    conn.execute(store.users.update().where(store.users.c.id == user_id).values(role=role))


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    """Disabling ends every session and token of the account at once."""
    user = get_user(conn, user_id)
    conn.execute(store.users.update().where(store.users.c.id == user_id).values(
        active=1 if active else 0, session_version=user.session_version + 1))
    if not active:
        end_sessions(conn, user_id)


def authenticate(conn: Connection, email: str, password: str) -> Any | None:
    """The user row when the password is right and the account active."""
    global _DUMMY_HASH
    user = user_by_email(conn, email)
    if user is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_password(secrets.token_hex(8))
        verify_password(_DUMMY_HASH, password)
        return None
    ok, rehash = verify_password(user.password_hash, password)
    if not ok or not user.active:
        return None
    if rehash:
        conn.execute(store.users.update().where(store.users.c.id == user.id)
                     .values(password_hash=rehash))
    return user


def principal(user: Any) -> Principal:
    return Principal(role=user.role, user_id=user.id, email=user.email, name=user.name)


# ---------------------------------------------------------------- sessions
def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start_session(conn: Connection, user_id: int) -> str:
    """A new random session id (the cookie value); only its hash is stored."""
    sid = secrets.token_urlsafe(32)
    conn.execute(store.sessions.insert().values(id=_sid_hash(sid), user_id=user_id,
                                                created_at=store.now(), last_seen=store.now()))
    return sid


def _active_user(conn: Connection, link: Any, key: Any, value: str) -> Any | None:
    """The active user a session or token row (``link``) points to."""
    u = store.users
    row = conn.execute(select(u).join(link, link.c.user_id == u.c.id)
                       .where(key == value)).first()
    return row if row is not None and row.active else None


def session_user(conn: Connection, sid: str | None) -> Any | None:
    if not sid:
        return None
    return _active_user(conn, store.sessions, store.sessions.c.id, _sid_hash(sid))


def end_session(conn: Connection, sid: str | None) -> None:
    if sid:
        conn.execute(delete(store.sessions).where(store.sessions.c.id == _sid_hash(sid)))


def end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(store.sessions).where(store.sessions.c.user_id == user_id))


# ------------------------------------------------------------------ tokens
def create_token(conn: Connection, user_id: int) -> str:
    get_user(conn, user_id)
    token, digest = new_token()
    conn.execute(store.api_tokens.insert().values(user_id=user_id, token_hash=digest,
                                                  created_at=store.now()))
    return token


def token_user(conn: Connection, token: str) -> Any | None:
    t = store.api_tokens
    return _active_user(conn, t, t.c.token_hash, token_hash(token))


# ---------------------------------------------------------------- throttle
@dataclass(frozen=True)
class LoginThrottle:
    """Failed logins within ``window_s``, counted three ways:

    - per (account, client): ``per_account_client`` (web.login_attempts);
    - per account, every client together: ``per_account``, higher, against
      guessing from many addresses;
    - per client, failures with unknown e-mail addresses only:
      ``per_client_unknown``, much higher, against trying address lists.

    One client failing for one account therefore never locks out the other
    accounts behind the same address.  Unknown addresses are counted per
    account too, and a client over its limit waits for every account, so
    the answers do not tell which accounts exist.
    """

    per_account_client: int
    per_account: int
    per_client_unknown: int
    window_s: int

    @classmethod
    def of(cls, web: Any) -> LoginThrottle:
        return cls(web.login_attempts, web.login_attempts_account, web.login_attempts_client,
                   web.login_window_s)

    @staticmethod
    def _keys(email: str, client: str) -> tuple[str, str, str]:
        email = email[:320]
        return f"account:{email}", f"account+client:{email} {client}", f"unknown-from:{client}"

    def blocked(self, conn: Connection, email: str, client: str) -> bool:
        since = int(time.time()) - self.window_s
        f = store.login_failures
        conn.execute(delete(f).where(f.c.at < since))
        limits = (self.per_account, self.per_account_client, self.per_client_unknown)
        for key, limit in zip(self._keys(email, client), limits, strict=True):
            n = conn.execute(select(func.count()).select_from(f)
                             .where(f.c.key == key, f.c.at >= since)).scalar_one()
            if n >= limit:
                return True
        return False

    def failed(self, conn: Connection, email: str, client: str) -> None:
        account, pair, unknown = self._keys(email, client)
        keys = [account, pair] + ([unknown] if user_by_email(conn, email) is None else [])
        now = int(time.time())
        for key in keys:
            conn.execute(store.login_failures.insert().values(key=key, at=now))

    def succeeded(self, conn: Connection, email: str, client: str) -> None:
        """The (account, client) count starts again; the account's count
        runs out with its window (a success does not reset it for others)."""
        pair = self._keys(email, client)[1]
        conn.execute(delete(store.login_failures).where(store.login_failures.c.key == pair))


def audit(conn: Connection, user_id: int | None, action: str, target: str = "",
          detail: str = "") -> None:
    conn.execute(store.audit.insert().values(at=store.now(), user_id=user_id, action=action,
                                             target=target[:200], detail=detail[:2000]))
