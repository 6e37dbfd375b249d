"""`doclib serve`: the app under gunicorn (production) or Flask's dev server."""

from __future__ import annotations

import os
from typing import Any

from .config import Config


def run(config: Config, host: str, port: int, workers: int, dev: bool = False) -> None:
    from .web import create_app

    if dev:
        create_app(config).run(host=host, port=port, debug=False, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "sync",
                       "timeout": 120, "graceful_timeout": 30, "accesslog": "-",
                       "errorlog": "-", "loglevel": "info", "forwarded_allow_ips": "",
                       "limit_request_line": 8190}
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
