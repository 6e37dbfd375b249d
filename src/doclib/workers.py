"""Embedding worker processes for batch ingestion (``doclib ingest --workers N``).

Embedding is ~96 % of an ingestion's time (issue 12), and it is CPU-bound
Python and BLAS: two threads in one process scale ×1.2, two processes
×1.94 (measured).  ``EmbedPool`` starts N processes (spawned, not forked:
the parent holds threads and a loaded model), each with one BLAS/OpenMP
thread and its own copy of the configured models, loaded once; the
ingestion threads send them their passages batch by batch.  Everything
else (extraction in its own child process, the database, both indexes,
the single writer) stays where it was: a worker only turns text into
vectors.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np

from .config import Config
from .errors import DoclibError

_lib: Any = None


def _start(config: Config) -> None:
    """In each worker: one BLAS thread, the models loaded once."""
    global _lib
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # the second model is off or not installed
        pass
    from .library import Library

    _lib = Library(config, migrate=False)
    _lib.embedder.embed_passages(["warm up"])
    if _lib.second_embedder is not None:
        _lib.second_embedder.embed_passages(["warm up"])


def _embed(pairs: list[tuple[str, str]]) -> tuple[str, np.ndarray, list[dict[str, Any]]]:
    vectors = _lib.embedder.embed_passages([t for _, t in pairs])
    return _lib.embedder.id, np.asarray(vectors, np.float32), _lib.second_vectors(pairs)


class EmbedPool:
    """``processes`` worker processes embedding (language, text) pairs with
    ``config``'s models; ``expect`` is the id of the parent's embedder (a
    worker whose model differs is an error, never a mixed index)."""

    def __init__(self, config: Config, processes: int, expect: str) -> None:
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn"),
                                         initializer=_start, initargs=(config,))
        self.processes = processes
        self.expect = expect

    def embed(self, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Both models' vectors of (language, text) pairs (``_embed`` in a
        worker); waits for them."""
        model, vectors, second = self._pool.submit(_embed, pairs).result()
        if model != self.expect:
            raise DoclibError(f"an ingestion worker embeds with {model}, the library with "
                              f"{self.expect}")
        return vectors, second

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
