"""The vector leg alone at 100k and 1M passages: exact (flat) against
approximate (HNSW) through doclib's own ``VectorIndex``, by the share of
the library the caller may see.

Vectors: the real embeddings of the quality pool's passages (bench/pools.py,
built by bench/scale.py in ``--data-dir``), replicated with Gaussian noise
(sigma ``--noise`` per dimension, then normalised) up to N, 4 passages a
document; every copy is near its original, so a query's top 10 holds near
duplicates: a harder case for HNSW than a library of distinct texts.
Queries: the dev and ARCD questions embedded by the bundled model.  A
caller's allow-list is every passage of a random share of the documents
(100 %, 50 % like a visitor, 10 %, 1 %), made as doclib makes it.

Per size, kind and share: build seconds, bytes per vector, search p50/p99
(k = 200 like the dense leg, one thread), recall@10 against exact search
and the share of exact search's top-10 passages found whichever copy.
Writes bench/results/ann.json and ann.md.

Usage: .venv/bin/python bench/ann.py [--sizes 100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from doclib.index.vector import Allowed, VectorIndex  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SHARES = (1.0, 0.5, 0.1, 0.01)


def base_vectors(data_dir: Path) -> np.ndarray:
    from scale import source_library

    src = source_library(data_dir)
    db = sqlite3.connect(src / "library" / "doclib.db")
    rows = db.execute("SELECT embedding FROM chunks ORDER BY id").fetchall()
    db.close()
    return np.stack([np.frombuffer(r[0], np.float32) for r in rows])


def grown(base: np.ndarray, n: int, noise: float, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    reps = -(-n // len(base))
    out = np.empty((reps * len(base), base.shape[1]), np.float32)
    for r in range(reps):
        part = base + (rng.normal(0, noise, base.shape).astype(np.float32) if r else 0)
        out[r * len(base):(r + 1) * len(base)] = part / np.linalg.norm(part, axis=1,
                                                                       keepdims=True)
    return out[:n]


def query_vectors(limit: int) -> np.ndarray:
    from doclib.config import EmbedConfig
    from doclib.embed import USEEmbedder
    from scale import questions

    return np.asarray(USEEmbedder(EmbedConfig()).embed_queries(questions(limit)), np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.012)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--ef-search", type=int, default=128)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "benchdata" / "scale"))
    ap.add_argument("--out", default=str(RESULTS / "ann.json"))
    args = ap.parse_args()
    import faiss

    base = base_vectors(Path(args.data_dir))
    qs = query_vectors(args.queries)
    rng = np.random.default_rng(5)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        vecs = grown(base, n, args.noise)
        ids = np.arange(n, dtype=np.int64) + 1
        docs = (ids - 1) // 4 + 1
        allowed = {}
        for share in SHARES:
            keep = np.unique(docs)[rng.random(docs.max()) < share] if share < 1 else None
            allowed[share] = None if keep is None else Allowed(ids[np.isin(docs, keep)])
        exact_top: dict[float, list[np.ndarray]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for kind in ("flat", "hnsw"):
                faiss.omp_set_num_threads(os.cpu_count() or 1)  # building: every core
                vi = VectorIndex(Path(tmp) / kind, vecs.shape[1], "bench", kind=kind,
                                 ef_search=args.ef_search)
                t = time.perf_counter()
                vi.replace_all(ids, vecs, docs)
                built = time.perf_counter() - t
                vi.save()
                size = (Path(tmp) / kind / "vectors.faiss").stat().st_size
                faiss.omp_set_num_threads(1)  # searching: one thread, as doclib serve
                for share in SHARES:
                    al = allowed[share]
                    if al is not None:
                        al.bitmap()  # made once per visible set in doclib
                    lat, tops = [], []
                    for q in qs:
                        t = time.perf_counter()
                        _s, got = vi.search(q, args.k, al)
                        lat.append((time.perf_counter() - t) * 1000)
                        tops.append(got[:10])
                    if kind == "flat":
                        exact_top[share] = tops
                    pairs = list(zip(tops, exact_top[share], strict=True))
                    recall = float(np.mean([len(set(a.tolist()) & set(b.tolist())) / max(len(b), 1)
                                            for a, b in pairs]))
                    # the same passages, whichever noisy copy of each (see the docstring)
                    nb = len(base)
                    content = float(np.mean([len(set(((a - 1) % nb).tolist())
                                                 & set(((b - 1) % nb).tolist()))
                                             / max(len(set(((b - 1) % nb).tolist())), 1)
                                             for a, b in pairs]))
                    row = {"n": n, "kind": kind, "share": share, "build_s": built,
                           "bytes_per_vector": size / n, "p50_ms": float(np.percentile(lat, 50)),
                           "p99_ms": float(np.percentile(lat, 99)), "recall10": recall,
                           "content_recall10": content,
                           "allowed": int(al.size) if al is not None else n}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                del vi
    lines = ["| passages | index | build s | bytes/vector | visible | p50 / p99 ms | "
             "recall@10 vs exact | same passages |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['kind']} | {r['build_s']:.0f} | "
                     f"{r['bytes_per_vector']:.0f} | {r['share']:.0%} | {r['p50_ms']:.1f} / "
                     f"{r['p99_ms']:.1f} | {r['recall10']:.3f} | {r['content_recall10']:.3f} |")
    md = "\n".join(lines)
    print(md)
    RESULTS.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "k": args.k, "noise": args.noise,
                                          "ef_search": args.ef_search}, indent=1))
    Path(args.out).with_suffix(".md").write_text(md + "\n")


if __name__ == "__main__":
    main()
