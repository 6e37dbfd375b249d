"""`doclib serve`: the app under gunicorn (production) or Flask's dev server."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from .config import Config


def _stop_jobs(app: Any) -> None:
    """Stop the app's ingestion thread: its running job ends between two
    batches and is queued again for the next start (not left "processing",
    and the worker does not wait for a long job to end)."""
    runner = getattr(app, "extensions", {}).get("doclib_jobs")
    if runner is not None:
        runner.stop()


def _worker_exit(server: Any, worker: Any) -> None:
    # gunicorn calls it in the worker after SIGTERM (or any exit)
    _stop_jobs(getattr(worker, "wsgi", None))


def run(config: Config, host: str, port: int, workers: int, dev: bool = False) -> None:
    from .web import create_app

    if dev:
        app = create_app(config)

        def on_term(signum: int, frame: Any) -> None:
            _stop_jobs(app)
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_term)
        app.run(host=host, port=port, debug=False, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "sync",
                       "timeout": 120, "graceful_timeout": 30, "accesslog": "-",
                       "errorlog": "-", "loglevel": "info", "forwarded_allow_ips": "",
                       "limit_request_line": 8190, "worker_exit": _worker_exit}
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # each worker builds its own app (own index copy, own job thread);
            # one OpenMP thread per worker: workers are the parallelism, and
            # FAISS's default (one thread per core in every worker) was
            # measured to cost 40 % of the throughput (92.6 -> 53.7 req/s)
            import faiss

            faiss.omp_set_num_threads(1)
            return create_app(config)

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _App().run()
