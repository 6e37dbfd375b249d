"""The audit log: who did what, when, through which door (web, api, cli).

``record`` is the one function every change calls, with the connection of
the transaction that makes the change: the row commits with the change or
not at all.  ``query`` reads it for curators and admins (the web page
/curate/audit, the API, ``doclib audit``), filtered by action, account,
document and dates, newest first, a page at a time.

A row names a document by its id only (``document_id``), never by title or
file name: when a document is deleted for good, nothing of its words stays
here (see erase.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from . import store, validate
from .errors import N_, BadRequest

# what the log records (the filter's choices); the web shows their names
ACTIONS = (
    "login", "login.failed", "logout", "password.change", "token.use",
    "document.upload", "document.replace", "document.edit", "document.access",
    "document.delete", "document.restore", "document.purge", "document.download",
    "version.restore", "version.download", "trash.empty",
    "job.cancel", "event.add", "event.edit", "event.import", "event.attach", "event.detach",
    "workshop.add", "workshop.edit",
    "user.add", "user.role", "user.disable", "user.enable", "user.reset-password",
    "user.password", "user.token", "user.revoke-token",
)
VIA = ("web", "api", "cli")
MAX_PAGE_SIZE = 500


def record(conn: Connection, user_id: int | None, action: str, target: str = "",
           detail: str = "", *, document_id: int | None = None, via: str = "") -> None:
    """Write one row in the caller's transaction (the change it records
    commits with it)."""
    conn.execute(store.audit.insert().values(
        at=store.now(), user_id=user_id, action=action, target=str(target)[:200],
        detail=detail[:2000], document_id=document_id, via=via))


def record_documents(conn: Connection, user_id: int | None, action: str, doc_ids: list[int],
                     detail: str = "", *, via: str = "") -> None:
    """One row per document (the log is filtered by document)."""
    for doc_id in doc_ids:
        record(conn, user_id, action, str(doc_id), detail, document_id=doc_id, via=via)


@dataclass(frozen=True)
class Filter:
    action: str | None = None
    user: str | None = None  # an e-mail address, or "cli" for the command line's rows
    document: int | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None  # YYYY-MM-DD, inclusive

    @classmethod
    def parse(cls, args: Any) -> Filter:
        """From a query string or options; a bad value is a 400 naming it."""
        def get(name: str) -> str | None:
            v = args.get(name)
            return str(v).strip() if v not in (None, "") else None

        action = get("action")
        if action is not None and action not in ACTIONS:
            raise BadRequest(N_("action must be one of %(choices)s"),
                             choices=", ".join(ACTIONS))
        user = get("user")
        if user is not None:
            user = validate.string(user, "user", 320).lower()
        document = validate.optional_integer(get("document"), "document", 1, validate.MAX_ID)
        since, until = (validate.date(v, name) if v else None
                        for name, v in (("since", get("since")), ("until", get("until"))))
        if since and until and since > until:
            raise BadRequest(N_("since must not be after until"))
        return cls(action, user, document, since, until)

    def args(self) -> dict[str, str]:
        """The filter as query-string arguments (for the pages' links)."""
        out = {"action": self.action, "user": self.user, "since": self.since,
               "until": self.until,
               "document": str(self.document) if self.document else None}
        return {k: v for k, v in out.items() if v}


def query(conn: Connection, f: Filter, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Rows matching ``f``, newest first: {"total", "entries": [...]} with
    each entry's account e-mail (None for the command line or a visitor)."""
    a, u = store.audit, store.users
    cond = []
    if f.action:
        cond.append(a.c.action == f.action)
    if f.user == "cli":
        cond.append(a.c.via == "cli")
    elif f.user:
        cond.append(u.c.email == f.user)
    if f.document:
        cond.append(a.c.document_id == f.document)
    if f.since:
        cond.append(a.c.at >= f.since)
    if f.until:
        cond.append(a.c.at < f.until + "T99")  # every time of that day
    base = select(a, u.c.email).select_from(a.outerjoin(u, u.c.id == a.c.user_id))\
        .where(*cond)
    total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(base.order_by(a.c.id.desc()).limit(limit).offset(offset)).all()
    return {"total": int(total), "entries": [
        {"id": r.id, "at": r.at, "user": r.email, "user_id": r.user_id, "action": r.action,
         "target": r.target, "detail": r.detail, "document": r.document_id,
         "via": r.via or ""} for r in rows]}
