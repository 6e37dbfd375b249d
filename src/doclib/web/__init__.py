"""The web application: ``create_app(config)`` wires the library, accounts,
security, translations and blueprints.  Nothing else configures Flask."""

from __future__ import annotations

import gc
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from .. import config as config_mod
from ..embed import Embedder
from ..jobs import Runner
from ..library import Library

log = logging.getLogger("doclib")


def _secret_key(cfg: config_mod.Config) -> str:
    if cfg.web.secret_key:
        return cfg.web.secret_key
    path = Path(cfg.index_dir) / "secret_key"
    if not path.exists():
        # the workers of one service start at once: each writes a whole key
        # to a file of its own and links it in; the first link wins, the
        # others read that key (an O_EXCL create let a second worker fail to
        # boot, or read the file before the first had written it)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _warm_up(lib: Library) -> threading.Thread | None:
    """Load the index, the first model and the thesaurus now, before the
    worker takes requests (its first search would otherwise wait seconds
    for them); the second model (5 s of the 8 a start took at 100k
    passages, issue 12) loads in a background thread, and searches go on
    without its re-scoring until it is there.  That thread then embeds the
    chunks that lack a second-model vector; it is returned.  A failure is
    logged: the search path reports it to whoever asks."""
    try:
        lib.warm_up(second=False)
    except Exception as e:
        log.warning("warm-up failed: %s", e)
        return None
    # what was loaded lives as long as the worker: out of the cyclic
    # collector's reach, whose full passes over ~500k objects paused
    # searches by up to 300 ms at 100k chunks (issue 12)
    gc.collect()
    gc.freeze()

    def second() -> None:
        try:
            lib.warm_up_second()
            gc.freeze()
            if lib.second_embedder is None or not lib.lacking_second_vectors(limit=1):
                return
            n = lib.ensure_second_vectors(wait=False)
            log.info("embedded %d chunks with the second model", n)
        except Exception as e:
            log.warning("second model: %s", e)

    t = threading.Thread(target=second, name="doclib-second-model", daemon=True)
    t.start()
    return t


def _purge_trash(lib: Library) -> None:
    """Delete for good what stayed in the trash past ``storage.trash_days``
    (also done by doclib compact and check --repair); a failure is logged."""
    from ..trash import purge_expired

    try:
        n = purge_expired(lib, via="web")
        if n:
            log.info("deleted for good %d documents past the trash's retention", n)
    except Exception as e:
        log.warning("purging the trash failed: %s", e)


def create_app(config: config_mod.Config | None = None, *,
               embedder: Embedder | None = None,
               overrides: dict[str, Any] | None = None) -> Flask:
    cfg = config or config_mod.load()
    if overrides:
        cfg = config_mod.with_overrides(cfg, overrides)
    lib = Library(cfg, embedder=embedder)

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(cfg),
        MAX_CONTENT_LENGTH=cfg.storage.max_upload_mb * 1024 * 1024,
        SESSION_COOKIE_NAME="doclib_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
        BABEL_DEFAULT_LOCALE=cfg.web.default_language,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["doclib"] = lib
    app.extensions["doclib_config"] = cfg
    app.extensions["doclib_jobs"] = Runner(lib)
    if cfg.web.warm_up:
        app.extensions["doclib_backfill"] = _warm_up(lib)
    _purge_trash(lib)

    if cfg.web.trusted_proxies:
        from .proxies import TrustedProxies

        app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.web.trusted_proxies,  # type: ignore
                                      cfg.web.proxy_networks)

    from . import i18n, security

    i18n.init(app)
    security.init(app)

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth_views import bp as auth_bp
    from .curate import bp as curate_bp
    from .curate_events import bp as curate_events_bp
    from .pages import bp as pages_bp

    for bp in (pages_bp, auth_bp, admin_bp, curate_bp, curate_events_bp, api_bp):
        app.register_blueprint(bp)
    return app
