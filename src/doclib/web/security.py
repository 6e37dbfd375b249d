"""Who is asking, CSRF, security headers, errors: the web's one choke point.

- The caller is resolved once per request: a Bearer API token, else the
  server-side session named by the ``doclib_session`` cookie, else a visitor.
  An ``Authorization`` header that does not authenticate (a wrong, revoked
  or expired token, a disabled account, another scheme) is answered 401,
  never served as a visitor: the caller meant to be someone and must learn
  it failed.  A session past its idle or absolute lifetime is a visitor's
  (its cookie is dropped).
- Every state-changing request from a browser carries the CSRF token; a
  state-changing API request without credentials is answered 401 (no API
  change is open to visitors).
- Every response gets the security headers, errors and downloads included.
  A response to a caller with credentials (a session cookie or an
  ``Authorization`` header), downloads included, is ``no-store`` without
  validators; what can differ by caller says ``Vary: Cookie, Authorization``.
- Ids in paths are ASCII digits up to SQLite's largest integer (400 naming
  the id beyond it), checked after the view's permission.
- Errors render in one shape: ``{"ok": false, "error", "status"}`` under
  /api/ (in English, for tools), an error page elsewhere (or the same JSON
  shape when the page's own script asks for JSON), in the interface
  language: the core's errors too (``i18n.translate_error``).  An error page
  after a form leads back to that form.  Neither carries paths, titles or
  tracebacks.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .. import accounts, validate
from .. import audit as audit_log
from ..auth import VISITOR, Principal, can
from ..errors import N_, DoclibError
from ..jobs import Runner
from ..library import Library
from .i18n import translate
from .redirects import safe_next

SESSION_COOKIE = "doclib_session"
log = logging.getLogger("doclib.web")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def lib() -> Library:
    from flask import current_app

    return current_app.extensions["doclib"]  # type: ignore[no-any-return]


def runner() -> Runner:
    from flask import current_app

    return current_app.extensions["doclib_jobs"]  # type: ignore[no-any-return]


def who() -> Principal:
    return g.get("principal", VISITOR)  # type: ignore[no-any-return]


def is_api() -> bool:
    return request.path.startswith("/api/")


def via() -> str:
    """Where a change came from, for the audit log: the API or the pages."""
    return "api" if is_api() else "web"


def audit(conn: Any, action: str, target: str = "", detail: str = "", *,
          document_id: int | None = None, user_id: int | None = None) -> None:
    """An audit row for this request's caller (or ``user_id``), in the
    caller's transaction (``audit.record``)."""
    audit_log.record(conn, user_id if user_id is not None else who().user_id, action, target,
                     detail, document_id=document_id, via=via())


def csrf_token() -> str:
    g.csrf_used = True  # the answer now carries this caller's token: not for caches
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def client_address() -> str:
    return request.remote_addr or "unknown"


BAD_TOKEN = N_("the Authorization header does not authenticate: the API token is wrong, "
               "revoked or expired, or its account is disabled (send Authorization: Bearer "
               "TOKEN)")
NO_CREDENTIALS = N_("log in or send an API token")
FORM_EXPIRED = N_("the form expired or was not sent from this site; reload the page and try "
                  "again")
NOT_ALLOWED = N_("your account may not do this")


def _resolve_principal() -> Any:
    """Set ``g.principal``; a 401 response when an Authorization header
    does not authenticate."""
    g.principal = VISITOR
    g.via_token = False
    auth = request.headers.get("Authorization")
    with lib().db.begin() as conn:
        if auth is not None:
            scheme, _, credentials = auth.strip().partition(" ")
            credentials = credentials.strip()
            user = accounts.token_user(conn, credentials) \
                if scheme.lower() == "bearer" and credentials else None
            if user is None:
                return unauthorized(BAD_TOKEN, invalid_token=True)
            g.principal = accounts.principal(user)
            g.via_token = True
            return None
        sid = request.cookies.get(SESSION_COOKIE)
        user = accounts.session_user(conn, sid, accounts.SessionLifetime.of(lib().config.web))
        if user is not None:
            g.principal = accounts.principal(user)
        elif sid:
            g.drop_session_cookie = True
    return None


def _check_csrf() -> Any:
    if request.method in ("GET", "HEAD", "OPTIONS") or g.get("via_token"):
        return None
    if is_api() and not who().is_authenticated:
        return unauthorized(NO_CREDENTIALS)
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        return error_response(400, FORM_EXPIRED)
    return None


def wants_json() -> bool:
    """The API, or a page's own script that asks for JSON (Accept)."""
    if is_api():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def error_response(status: int, message: str, /, **params: Any) -> Any:
    """The one error shape.  ``message`` is a template (``N_``) with its
    ``params``: English under /api/, the interface language elsewhere."""
    if is_api():
        text = message % {k: str(v) for k, v in params.items()} if params else message
    else:
        text = translate(message, params)
    if wants_json():
        resp = jsonify({"ok": False, "error": text, "status": status})
        resp.status_code = status
        return resp
    return render_template("error.html", status=status, message=text,
                           back=_form_page()), status


def _form_page() -> str | None:
    """After a form was sent: the page it came from on this site (the
    error page leads back to it), else None."""
    if request.method != "POST" or not request.referrer:
        return None
    ref = urlsplit(request.referrer)
    if (ref.scheme, ref.netloc) != (request.scheme, request.host):
        return None
    target = safe_next(ref.path + (f"?{ref.query}" if ref.query else ""))
    return target if target != "/" or ref.path == "/" else None


def unauthorized(message: str, invalid_token: bool = False) -> Any:
    """401 in the error shape, with the challenge RFC 6750 asks for."""
    resp = make_response(error_response(401, message))
    resp.headers["WWW-Authenticate"] = 'Bearer realm="doclib"' + (
        ', error="invalid_token"' if invalid_token else "")
    return resp


def requires(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """First line of a view: visitors are sent to log in (pages) or get 401
    (API); logged-in callers without the role get 403.  Then the ids in the
    path are checked (400 naming the id when out of range)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            p = who()
            if not can(p, action):
                if not p.is_authenticated:
                    if is_api():
                        return unauthorized(NO_CREDENTIALS)
                    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
                return error_response(403, NOT_ALLOWED)
            for name, value in kwargs.items():
                if isinstance(value, int):
                    validate.ident(value, _PATH_IDS.get(name, name), text=False)
            return fn(*args, **kwargs)

        return wrapper

    return deco


def set_session_cookie(resp: Any, sid: str) -> None:
    resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax",
                    secure=request.is_secure, path="/")


def clear_session_cookie(resp: Any) -> None:
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax",
                       secure=request.is_secure)


def private_request() -> bool:
    """The caller sent credentials: whatever it gets must not be stored by
    a cache (nor answered from one by a validator)."""
    return (who().is_authenticated or "Authorization" in request.headers
            or SESSION_COOKIE in request.cookies)


def _no_store(resp: Any) -> None:
    resp.headers["Cache-Control"] = "no-store"
    for name in ("ETag", "Last-Modified", "Expires"):
        resp.headers.pop(name, None)


_PATH_IDS = {"doc_id": "document id", "job_id": "job id", "workshop_id": "workshop id",
             "version_id": "version id",
             "user_id": "user id"}


class AsciiInt(IntegerConverter):
    """``<int:...>`` in ASCII digits only (werkzeug's ``\\d`` also matches
    '١'); the range is checked by ``requires``, after the permission."""

    regex = r"[0-9]+"


def _too_large(e: HTTPException, max_upload_mb: int) -> tuple[str, dict[str, Any]]:
    """What exceeded which limit: werkzeug raises the same 413 for the
    body's size, the number of form parts and a form field's size; the
    frame that raised it tells which."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    where = (os.path.basename(code.co_filename), code.co_name) if code else ("", "")
    if (request.content_length or 0) <= max_upload_mb * 1024 * 1024:
        if where == ("multipart.py", "next_event"):
            return (N_("the form has more than %(n)s parts (fields and files); send fewer"),
                    {"n": request.max_form_parts})
        if where in (("multipart.py", "receive_data"), ("formparser.py", "parse")):
            limit = request.max_form_memory_size or 0
            return (N_("a form field (other than the file) is larger than %(n)s kB"),
                    {"n": limit // 1000})
    return N_("the upload is larger than the limit of %(n)s MiB"), {"n": max_upload_mb}


class _CsrfSessions(SecureCookieSessionInterface):
    """Flask's signed cookie (it only holds the CSRF token), Secure over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)


def init(app: Flask) -> None:
    app.session_interface = _CsrfSessions()
    app.url_map.converters["int"] = AsciiInt  # before any blueprint adds a rule

    @app.before_request
    def _before() -> Any:
        return _resolve_principal() or _check_csrf()

    @app.after_request
    def _headers(resp: Any) -> Any:
        h = resp.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"
        # a caller's own answers, and pages that carry the caller's CSRF
        # token or set a cookie, are never kept by a cache
        if private_request() or g.get("csrf_used") or h.getlist("Set-Cookie"):
            _no_store(resp)
        else:
            h.setdefault("Cache-Control", "no-cache")
        if request.endpoint != "static":
            resp.vary.update(("Cookie", "Authorization")
                             + (() if is_api() else ("Accept-Language",)))
        if request.is_secure:
            h["Strict-Transport-Security"] = "max-age=31536000"
        if g.get("drop_session_cookie"):
            clear_session_cookie(resp)
        return resp

    @app.errorhandler(DoclibError)
    def _domain(e: DoclibError) -> Any:
        return error_response(e.status, e.template, **e.params)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Any:
        code = e.code or 500
        if code == 413:
            template, params = _too_large(
                e, app.extensions["doclib_config"].storage.max_upload_mb)
            return error_response(413, template, **params)
        messages = {404: N_("not found"), 405: N_("method not allowed"),
                    400: N_("bad request")}
        return error_response(code, messages.get(code, e.name.lower()))

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        return error_response(500, N_("internal error"))

    @app.context_processor
    def _ctx() -> dict[str, Any]:
        return {"csrf_token": csrf_token, "who": who(), "can": can}
