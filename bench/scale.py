"""Search at scale: latency by library size, as a visitor and as a member.

The libraries are made honestly and reproducibly:

1. The source is the quality benchmark's pool (bench/pools.py: the XQuAD-R
   dev articles, the 153 ARCD articles and English distractors; real text,
   ingested through doclib's pipeline with the bundled models: real
   embeddings).  It is built in ``--data-dir`` (or reused from there).
2. A library of N chunks is a copy of it, replicated inside doclib's own
   tables until it holds N chunks: each copy of a document is a new
   document (its own id and hash, the title marked with the copy's number),
   every other copy members-only (so half the library is hidden from
   visitors), its chunks' text and lexical terms copied, its vectors (both
   models) the source's plus Gaussian noise (sigma ``--noise`` per
   dimension, then normalised: cosine ~0.96 with the original), so copies
   are near but not equal.  The vector index is then built by doclib
   (``Library`` finds the file missing and rebuilds it from the database).
3. Questions: the dev set's and ARCD's, English and Arabic, asked through
   ``doclib.search.search`` in-process, one thread, k = 10, as a visitor
   and as a member, after a warm-up.

Prints and writes bench/results/scale.json and scale.md: per size, the
chunks, p50/p99 per role, the process's RSS, the database and index sizes,
and the start-up time (opening the library with its saved index and
answering one search).

Usage: .venv/bin/python bench/scale.py [--sizes 10000,100000] [--queries 300]
         [--data-dir /work/benchdata/scale] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from doclib import config as config_mod  # noqa: E402
from doclib.auth import principal_for_role  # noqa: E402
from doclib.library import Library  # noqa: E402
from doclib.search import search  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TERM_TABLES = ("chunk_terms", "chunk_terms_l0", "chunk_terms_l1")


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def config_for(data: Path) -> config_mod.Config:
    return config_mod.from_dict({"storage": {"data_dir": str(data)}})


def source_library(data_dir: Path) -> Path:
    """The pool library (bench/pools.py) under data_dir/source/data, built
    through doclib's pipeline the first time."""
    from pools import ingest_pool, load_pool
    from quality import bench_library

    src = data_dir / "source"
    db = src / "data" / "library" / "doclib.db"
    if not db.exists():
        lib, folder = bench_library(config_mod.from_dict({}), src)
        ingest_pool(lib, load_pool(), folder)
        lib.close()
    Library(config_for(src / "data")).close()  # the newest schema before it is copied
    return src / "data"


def replicate(source: Path, target: Path, chunks_wanted: int, noise: float, seed: int = 7
              ) -> dict[str, Any]:
    """A copy of the library ``source`` (a data dir) in ``target`` holding
    about ``chunks_wanted`` chunks (see the module's docstring)."""
    if target.exists():
        shutil.rmtree(target)
    (target / "library").mkdir(parents=True)
    src = sqlite3.connect(source / "library" / "doclib.db")
    db_path = target / "library" / "doclib.db"
    dst = sqlite3.connect(db_path)
    src.backup(dst)
    src.close()
    # the originals are not needed to search; the documents keep their names
    t = time.perf_counter()
    c = dst.cursor()
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    base_docs = c.execute("SELECT count(*), max(id) FROM documents").fetchone()
    base_chunks = c.execute("SELECT count(*), max(id) FROM chunks").fetchone()
    n_docs, max_doc = base_docs
    n_chunks, max_chunk = base_chunks
    copies = max(0, math.ceil(chunks_wanted / n_chunks) - 1)
    doc_cols = [r[1] for r in c.execute("PRAGMA table_info(documents)")]
    chunk_rows = c.execute(
        "SELECT id, document_id, ordinal, page_start, page_end, language, source, text, "
        "norm_text, embedding, embedding2, embedding2_model FROM chunks ORDER BY id").fetchall()
    emb = np.stack([np.frombuffer(r[9], np.float32) for r in chunk_rows])
    has2 = [r[10] is not None for r in chunk_rows]
    dim2 = next((len(r[10]) // 4 for r in chunk_rows if r[10] is not None), 0)
    emb2 = np.stack([np.frombuffer(r[10], np.float32) if r[10] is not None
                     else np.zeros(dim2, np.float32) for r in chunk_rows]) if dim2 else None
    rng = np.random.default_rng(seed)

    def perturbed(m: np.ndarray) -> np.ndarray:
        out = m + rng.normal(0, noise, m.shape).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)

    other = [col for col in doc_cols if col not in ("id", "sha256", "title", "access")]
    for k in range(1, copies + 1):
        doff, coff = k * max_doc, k * max_chunk
        access = "1" if k % 2 else "access"  # every other copy members-only
        c.execute(
            f"INSERT INTO documents (id, sha256, title, access, {', '.join(other)}) "
            f"SELECT id + {doff}, substr(sha256, 1, 56) || printf('%08x', {k}), "
            f"title || ' #{k}', {access}, {', '.join(other)} FROM documents WHERE id <= {max_doc}")
        e1 = perturbed(emb)
        e2 = perturbed(emb2) if emb2 is not None else None
        c.executemany(
            "INSERT INTO chunks (id, document_id, ordinal, page_start, page_end, language, "
            "source, text, norm_text, embedding, embedding2, embedding2_model) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(r[0] + coff, r[1] + doff, r[2], r[3], r[4], r[5], r[6], r[7], r[8],
              e1[i].tobytes(), e2[i].tobytes() if (e2 is not None and has2[i]) else None,
              r[11]) for i, r in enumerate(chunk_rows)])
        c.execute(f"INSERT INTO chunk_terms (rowid, terms) SELECT rowid + {coff}, terms "
                  f"FROM chunk_terms WHERE rowid <= {max_chunk}")
        for table, level in (("chunk_terms_l0", 0), ("chunk_terms_l1", 1)):
            c.execute(
                f"INSERT INTO {table} (rowid, terms) SELECT t.rowid, t.terms FROM chunk_terms t "
                f"JOIN chunks ch ON ch.id = t.rowid JOIN documents d ON d.id = ch.document_id "
                f"WHERE t.rowid > {coff} AND t.rowid <= {coff + max_chunk} "
                f"AND d.access <= {level}")
        if k % 10 == 0:
            dst.commit()
            print(f"  copy {k}/{copies}", file=sys.stderr)
    dst.commit()
    for table in TERM_TABLES:
        c.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    dst.commit()
    total = c.execute("SELECT count(*) FROM chunks").fetchone()[0]
    docs = c.execute("SELECT count(*) FROM documents").fetchone()[0]
    dst.close()
    return {"copies": copies, "chunks": int(total), "documents": int(docs),
            "source_chunks": int(n_chunks), "source_documents": int(n_docs),
            "seconds": time.perf_counter() - t}


def questions(limit: int) -> list[str]:
    from pools import load_pool

    pool = load_pool()
    qs = [q["question"] for q in pool["dev_queries"]]  # en and ar
    qs += [q["question"] for q in pool["arcd_queries"]]
    random.Random(3).shuffle(qs)
    return qs[:limit]


def timed_searches(lib: Library, role: str, qs: list[str]) -> list[float]:
    who = principal_for_role(role)
    out = []
    for q in qs:
        t = time.perf_counter()
        search(lib, who, q, k=10)
        out.append((time.perf_counter() - t) * 1000)
    return out


def startup(data: Path) -> float:
    """Seconds from a new process to its first answered search (the saved
    index loaded, the models read)."""
    code = (
        "import sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1])\n"
        "from doclib import config as c\nfrom doclib.library import Library\n"
        "from doclib.search import search, Filters\n"
        "from doclib.auth import principal_for_role\n"
        "lib = Library(c.from_dict({'storage': {'data_dir': sys.argv[2]}}))\n"
        "search(lib, principal_for_role('member'), 'youth workers', k=10)\n"
        "print(time.perf_counter() - t)\n")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "src"), str(data)],
                         capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(out.stdout.strip().splitlines()[-1])


def service_startup(data: Path) -> float:
    """Seconds from `doclib serve` (one worker) to its first answered search."""
    import http.client
    import socket
    import urllib.parse

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = data.parent / f"{data.name}-serve.yaml"
    cfg.write_text(f"storage:\n  data_dir: {data}\n", encoding="utf-8")
    t = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "doclib", "serve", "--port", str(port),
                               "--workers", "1"], env={**os.environ, "DOCLIB_CONFIG": str(cfg)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t < 120:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": "youth workers"}))
                if c.getresponse().status == 200:
                    return time.perf_counter() - t
            except OSError:
                time.sleep(0.05)
        return float("nan")
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(data: Path, qs: list[str], warmup: int, profile: bool,
            overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    t = time.perf_counter()
    lib = Library(config_mod.with_overrides(config_for(data), overrides or {}))
    lib.warm_up()
    opened = time.perf_counter() - t
    # as a service worker after its warm-up (web/__init__.py): what is loaded
    # is kept out of the cyclic collector's full passes
    gc.collect()
    gc.freeze()
    timed_searches(lib, "member", qs[:warmup])
    timed_searches(lib, "visitor", qs[:warmup])
    out: dict[str, Any] = {"open_seconds": opened}
    for role in ("visitor", "member"):
        lat = timed_searches(lib, role, qs)
        out[role] = {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
                     "mean": float(np.mean(lat)), "n": len(lat)}
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        timed_searches(lib, "member", qs[:100])
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    out["rss_mb"] = rss_mb()
    out["gc_tracked_objects"] = len(gc.get_objects())
    out["db_mb"] = (data / "library" / "doclib.db").stat().st_size / 2**20
    faiss_file = data / "index" / "vectors.faiss"
    out["faiss_mb"] = faiss_file.stat().st_size / 2**20 if faiss_file.exists() else 0.0
    lib.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--noise", type=float, default=0.012)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "benchdata" / "scale"))
    ap.add_argument("--keep", action="store_true", help="reuse libraries already replicated")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-service", action="store_true",
                    help="skip the service's start-up (it runs the installed doclib)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a configuration value for the in-process searches (YAML value), "
                         "e.g. search.lexical_common_share=1.0")
    ap.add_argument("--out", default=str(RESULTS / "scale.json"))
    args = ap.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (x.split("=", 1) for x in args.set)}
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    source = source_library(data_dir)
    qs = questions(args.queries + args.warmup)
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        target = data_dir / f"n{size}"
        marker = target / "replicated.json"
        if args.keep and marker.exists():
            made = json.loads(marker.read_text())
        else:
            made = replicate(source, target, size, args.noise)
            t = time.perf_counter()
            lib = Library(config_for(target))
            lib.index.open()
            made["index_build_seconds"] = time.perf_counter() - t
            lib.close()
            marker.write_text(json.dumps(made))
        print(f"library of {made['chunks']} chunks ({made['documents']} documents)",
              file=sys.stderr)
        res = measure(target, qs[args.warmup:], args.warmup, args.profile, overrides)
        res["startup_seconds"] = startup(target)
        res["service_startup_seconds"] = float("nan") if args.no_service else \
            service_startup(target)
        rows.append({"size": size, **made, **res})
        print(json.dumps(rows[-1], indent=1))
    RESULTS.mkdir(exist_ok=True)
    lines = ["| chunks | documents | visitor p50 / p99 ms | member p50 / p99 ms | RSS MB | "
             "DB KB/chunk | FAISS KB/chunk | first search, new process s | service answers s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['chunks']:,} | {r['documents']:,} | {r['visitor']['p50']:.1f} / "
            f"{r['visitor']['p99']:.1f} | {r['member']['p50']:.1f} / {r['member']['p99']:.1f} "
            f"| {r['rss_mb']:.0f} | {r['db_mb'] * 1024 / r['chunks']:.1f} | "
            f"{r['faiss_mb'] * 1024 / r['chunks']:.2f} | {r['startup_seconds']:.1f} | "
            f"{r['service_startup_seconds']:.1f} |")
    md = "\n".join(lines)
    print(md)
    Path(args.out).write_text(json.dumps({"rows": rows, "cpu": os.cpu_count(),
                                          "queries": args.queries, "set": args.set},
                                         indent=1))
    Path(args.out).with_suffix(".md").write_text(md + "\n")


if __name__ == "__main__":
    main()
