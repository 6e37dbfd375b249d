"""Accounts: users, server-side sessions, API tokens and the login throttle.

Sessions live in the database (the cookie only carries a random id), so
logging out or disabling an account ends them at once, in every worker; a
session also ends when unused for ``web.session_idle_hours`` or
``web.session_max_days`` after its login, checked here on every request.
API tokens are named, may expire, are revoked one by one or all at once,
and record their last use; a revoked token keeps its row and is never
revived (disabling an account revokes its tokens; enabling it again does
not bring them back).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.engine import Connection

from . import audit as audit_log
from . import store
from .auth import Principal, can, hash_password, new_token, token_hash, verify_password
from .errors import N_, BadRequest, Conflict, Forbidden, NotFound

if TYPE_CHECKING:
    from .library import Library

_EMAIL = re.compile(r"[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s]{1,50}")
ACCOUNT_ROLES = ("member", "curator", "admin")
# a dummy hash so unknown accounts cost as much time as known ones
_DUMMY_HASH = None


def _norm_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise BadRequest(N_("a valid e-mail address is needed"))
    return email


def add_user(conn: Connection, email: str, password: str, role: str, name: str = "") -> int:
    email = _norm_email(email)
    if role not in ACCOUNT_ROLES:
        raise BadRequest(N_("role must be one of %(choices)s"), choices=", ".join(ACCOUNT_ROLES))
    u = store.users
    if conn.execute(select(u.c.id).where(u.c.email == email)).first():
        raise Conflict(N_("an account for %(email)s exists"), email=email)
    return store.inserted_id(conn.execute(u.insert().values(
        email=email, name=(name or "").strip()[:200], role=role,
        password_hash=hash_password(password), active=1, session_version=1,
        created_at=store.now())))


def get_user(conn: Connection, user_id: int) -> Any:
    row = conn.execute(select(store.users).where(store.users.c.id == user_id)).first()
    if row is None:
        raise NotFound(N_("no such account"))
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
        raise BadRequest(N_("role must be one of %(choices)s"), choices=", ".join(ACCOUNT_ROLES))
    get_user(conn, user_id)
    conn.execute(store.users.update().where(store.users.c.id == user_id).values(role=role))


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    """Disabling ends every session and revokes every token of the account
    for good: enabling it again revives none of them."""
    user = get_user(conn, user_id)
    conn.execute(store.users.update().where(store.users.c.id == user_id).values(
        active=1 if active else 0, session_version=user.session_version + 1))
    if not active:
        end_sessions(conn, user_id)
        revoke_tokens(conn, user_id)


def set_password(conn: Connection, user_id: int, password: str,
                 keep_session: str | None = None) -> None:
    """A new password ends the account's sessions (but ``keep_session``, the
    one of the owner changing it); its API tokens stay."""
    digest = hash_password(password)
    get_user(conn, user_id)
    conn.execute(store.users.update().where(store.users.c.id == user_id)
                 .values(password_hash=digest))
    s = store.sessions
    keep = _sid_hash(keep_session) if keep_session else ""
    conn.execute(delete(s).where(s.c.user_id == user_id, s.c.id != keep))


# ------------------------------------------------------------ use-cases
# Each checks the caller, owns its transaction and writes its audit row: the
# admin pages and the command line (which acts as no account) call them.
ACCOUNT_ACTIONS = ("role", "disable", "enable")


def _may_manage(who: Principal) -> None:
    if not can(who, "manage_users"):
        raise Forbidden(N_("admins only"))


def create_account(lib: Library, who: Principal, email: str, password: str, role: str,
                   name: str = "", via: str = "") -> int:
    """A new account (``add_user``'s checks), audited: its id."""
    _may_manage(who)
    with lib.db.begin() as conn:
        uid = add_user(conn, email, password, role, name)
        audit_log.record(conn, who.user_id, "user.add", str(uid), role, via=via)
    return uid


def change_account(lib: Library, who: Principal, user_id: int, action: str, role: str = "",
                   via: str = "") -> None:
    """Change an account's role, or disable or enable it, audited
    (``user.role`` with the new role, ``user.disable``, ``user.enable``).
    Nobody disables their own account or changes their own role: the last
    admin cannot lock everyone out."""
    _may_manage(who)
    if action not in ACCOUNT_ACTIONS:
        raise BadRequest(N_("unknown action"))
    if who.user_id is not None and user_id == who.user_id and action in ("disable", "role"):
        raise BadRequest(N_("you cannot disable your own account or change your own role"))
    with lib.db.begin() as conn:
        if action == "role":
            set_role(conn, user_id, role)
        else:
            set_active(conn, user_id, action == "enable")
        audit_log.record(conn, who.user_id, f"user.{action}", str(user_id), role, via=via)


def reset_password(lib: Library, who: Principal, user_id: int, keep_session: str | None = None,
                   via: str = "") -> tuple[Any, str]:
    """A generated password for an admin to hand over (never stored in
    clear); the account's sessions end but ``keep_session``.  Audited: the
    account's row and the password."""
    _may_manage(who)
    password = generated_password()
    with lib.db.begin() as conn:
        user = get_user(conn, user_id)
        set_password(conn, user_id, password, keep_session=keep_session)
        audit_log.record(conn, who.user_id, "user.reset-password", str(user_id), via=via)
    return user, password


def generated_password() -> str:
    """A password for an admin to hand over (about 95 bits)."""
    return secrets.token_urlsafe(12)


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


def check_password(conn: Connection, user_id: int, password: str) -> bool:
    return verify_password(get_user(conn, user_id).password_hash, password)[0]


# ---------------------------------------------------------------- sessions
_TOUCH = timedelta(minutes=1)  # last_seen / last_used_at are written at most this often


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    t = datetime.fromisoformat(stamp)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionLifetime:
    """A session ends after ``idle`` without a request or ``absolute`` after
    its login, whichever comes first."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, web: Any) -> SessionLifetime:
        return cls(timedelta(hours=web.session_idle_hours),
                   timedelta(days=web.session_max_days))

    def expired(self, created_at: str, last_seen: str, now: datetime) -> bool:
        created, seen = _parse(created_at), _parse(last_seen)
        return (created is None or seen is None or now - seen >= self.idle
                or now - created >= self.absolute)

    def end_expired(self, conn: Connection) -> None:
        now = _now()
        s = store.sessions
        conn.execute(delete(s).where(or_(s.c.last_seen <= _stamp(now - self.idle),
                                         s.c.created_at <= _stamp(now - self.absolute))))


def start_session(conn: Connection, user_id: int, lifetime: SessionLifetime) -> str:
    """A new random session id (the cookie value); only its hash is stored.
    Sessions that expired meanwhile, anyone's, are deleted on the way."""
    lifetime.end_expired(conn)
    sid = secrets.token_urlsafe(32)
    conn.execute(store.sessions.insert().values(id=_sid_hash(sid), user_id=user_id,
                                                created_at=store.now(), last_seen=store.now()))
    return sid


def session_user(conn: Connection, sid: str | None, lifetime: SessionLifetime) -> Any | None:
    """The active user of a live session, else None (an expired session is
    deleted).  Each request renews the idle clock."""
    if not sid:
        return None
    s, u = store.sessions, store.users
    key = _sid_hash(sid)
    row = conn.execute(select(s.c.created_at, s.c.last_seen, s.c.user_id)
                       .where(s.c.id == key)).first()
    if row is None:
        return None
    now = _now()
    if lifetime.expired(row.created_at, row.last_seen, now):
        conn.execute(delete(s).where(s.c.id == key))
        return None
    user = conn.execute(select(u).where(u.c.id == row.user_id)).first()
    if user is None or not user.active:
        return None
    if now - (_parse(row.last_seen) or now) >= _TOUCH:
        conn.execute(s.update().where(s.c.id == key).values(last_seen=_stamp(now)))
    return user


def end_session(conn: Connection, sid: str | None) -> None:
    if sid:
        conn.execute(delete(store.sessions).where(store.sessions.c.id == _sid_hash(sid)))


def end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(store.sessions).where(store.sessions.c.user_id == user_id))


# ------------------------------------------------------------------ tokens
_TOKEN_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


def _live(now: datetime) -> Any:
    t = store.api_tokens
    return and_(t.c.revoked_at.is_(None),
                or_(t.c.expires_at.is_(None), t.c.expires_at > _stamp(now)))


def token_status(row: Any, now: datetime | None = None) -> str:
    """active, expired or revoked."""
    if row.revoked_at:
        return "revoked"
    expires = _parse(row.expires_at)
    return "expired" if expires is not None and expires <= (now or _now()) else "active"


def create_token(conn: Connection, user_id: int, name: str = "",
                 expires_at: datetime | None = None) -> str:
    """A new token (shown once; its sha256 is stored).  Names are unique
    among the account's live tokens; the default is token-N."""
    user = get_user(conn, user_id)
    if not user.active:
        raise Conflict(f"the account {user.email} is disabled: it gets no token "
                       "(enable it first)")
    now = _now()
    if expires_at is not None and expires_at <= now:
        raise BadRequest("the expiry is in the past")
    t = store.api_tokens
    live = {r.name for r in conn.execute(select(t.c.name).where(t.c.user_id == user_id,
                                                                 _live(now)))}
    name = (name or "").strip()
    if not name:
        n = conn.execute(select(func.count()).select_from(t)
                         .where(t.c.user_id == user_id)).scalar_one() + 1
        while f"token-{n}" in live:
            n += 1
        name = f"token-{n}"
    if not _TOKEN_NAME.fullmatch(name) or name.isdigit():
        raise BadRequest("a token name has 1 to 100 characters, not only digits")
    if name in live:
        raise Conflict(f"{user.email} has a token named {name!r}: revoke it or choose "
                       "another name")
    token, digest = new_token()
    conn.execute(t.insert().values(user_id=user_id, token_hash=digest, created_at=_stamp(now),
                                   name=name, expires_at=expires_at and _stamp(expires_at)))
    return token


def token_user(conn: Connection, token: str) -> Any | None:
    """The active user of a live token (not revoked, not expired), else
    None; records the token's last use."""
    t, u = store.api_tokens, store.users
    row = conn.execute(select(t.c.id, t.c.user_id, t.c.revoked_at, t.c.expires_at,
                              t.c.last_used_at, t.c.name)
                       .where(t.c.token_hash == token_hash(token))).first()
    now = _now()
    if row is None or token_status(row, now) != "active":
        return None
    user = conn.execute(select(u).where(u.c.id == row.user_id)).first()
    if user is None or not user.active:
        return None
    last = _parse(row.last_used_at)
    if last is None or now - last >= _TOUCH:
        # the audit log records a token's use as often as its last use (once a minute)
        conn.execute(t.update().where(t.c.id == row.id).values(last_used_at=_stamp(now)))
        audit_log.record(conn, user.id, "token.use", f"token {row.id}", row.name, via="api")
    return user


def list_tokens(conn: Connection, user_id: int | None = None) -> list[Any]:
    """Every token (live, expired, revoked) with its account's e-mail."""
    t, u = store.api_tokens, store.users
    q = (select(t.c.id, t.c.name, t.c.created_at, t.c.expires_at, t.c.revoked_at,
                t.c.last_used_at, u.c.email).join(u, u.c.id == t.c.user_id)
         .order_by(u.c.email, t.c.id))
    if user_id is not None:
        q = q.where(t.c.user_id == user_id)
    return list(conn.execute(q).all())


def revoke_token(conn: Connection, user_id: int, which: str) -> str:
    """Revoke one live token of the account, named or numbered ``which``;
    returns its name."""
    t = store.api_tokens
    which = (which or "").strip()
    match = t.c.id == int(which) if which.isdigit() else t.c.name == which
    row = conn.execute(select(t.c.id, t.c.name).where(t.c.user_id == user_id, match,
                                                      _live(_now()))).first()
    if row is None:
        raise NotFound(f"no active token {which!r} for this account")
    conn.execute(t.update().where(t.c.id == row.id).values(revoked_at=store.now()))
    return str(row.name)


def revoke_tokens(conn: Connection, user_id: int) -> int:
    """Revoke every token of the account that is not revoked yet."""
    t = store.api_tokens
    return int(conn.execute(t.update().where(t.c.user_id == user_id, t.c.revoked_at.is_(None))
                            .values(revoked_at=store.now())).rowcount)


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
          detail: str = "", via: str = "") -> None:
    """``audit.record`` (kept for callers of this name)."""
    audit_log.record(conn, user_id, action, target, detail, via=via)
