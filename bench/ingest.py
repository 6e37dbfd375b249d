"""Batch ingestion throughput: `doclib ingest FOLDER --workers N`, end to end.

The articles of the quality pool (bench/pools.py: the XQuAD-R dev articles
in English and Arabic, ARCD's Arabic articles; real text), written as text
files into one folder, are ingested by the real command line into a new
library for each number of workers, both models on (the default
configuration).  Prints and writes bench/results/ingest.json: per run the
files, words, passages, seconds, passages/s and words/s.

``--into DATA_DIR``: ingest into a copy of an existing library instead of
a new one (a large library made by bench/scale.py, e.g.
/work/benchdata/scale/n100000): what a batch costs when the library is
already big (the vector index is saved as the batch goes).  That library
holds these articles already: each file then starts with a line of its own
("Ingestion bench copy: ...") so it is a new file, not a known one.

``--pdf N``: N copies of each real text PDF of the fixtures instead of the
articles (pages/s as the issue counts them); ``--no-fork-server``: a new
interpreter per extraction, as before stop 18.

Usage: .venv/bin/python bench/ingest.py [--workers 1,2] [--limit 120]
           [--into DATA_DIR] [--pdf N] [--no-fork-server] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

RESULTS = ROOT / "bench" / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--limit", type=int, default=120, help="articles")
    ap.add_argument("--no-second", action="store_true",
                    help="the second model off (embed.second_model: '')")
    ap.add_argument("--into", default=None,
                    help="ingest into a copy of this library (a data_dir)")
    ap.add_argument("--no-fork-server", action="store_true",
                    help="a new interpreter per extraction (extract.fork_server: false)")
    ap.add_argument("--pdf", type=int, default=0,
                    help="instead of the articles, this many copies of the real PDFs of "
                         "tests/fixtures/documents (LibreOffice, Chromium; Arabic and "
                         "English), each made a new file by a comment after its end")
    ap.add_argument("--out", default=str(RESULTS / "ingest.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="doclib-ingest-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        words, files = write_pdfs(folder, args.pdf) if args.pdf else \
            write_articles(folder, args.limit, bool(args.into))
        for n in [int(x) for x in args.workers.split(",")]:
            data = Path(tmp) / f"lib-{n}"
            if args.into:
                shutil.copytree(args.into, data)
            cfg = Path(tmp) / f"config-{n}.yaml"
            cfg.write_text(f"storage:\n  data_dir: {data}\n" + (
                "embed:\n  second_model: ''\n" if args.no_second else "") + (
                "extract:\n  fork_server: false\n" if args.no_fork_server else ""),
                encoding="utf-8")
            env = {**os.environ, "DOCLIB_CONFIG": str(cfg), "OMP_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1"}
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "doclib", "ingest", str(folder),
                                  "--access", "public", "--workers", str(n)],
                                 capture_output=True, text=True, env=env, check=True)
            took = time.perf_counter() - t
            line = out.stderr.strip().splitlines()[-1]
            passages = int(re.search(r"(\d+) passages\)", line).group(1))
            pages = int(re.search(r"(\d+) pages,", line).group(1))
            row = {"workers": n, "files": files, "words": words, "passages": passages,
                   "pages": pages, "pages_per_s": pages / took,
                   "fork_server": not args.no_fork_server, "input": "pdf" if args.pdf else "txt",
                   "seconds": took, "passages_per_s": passages / took,
                   "words_per_s": words / took, "second_model": not args.no_second,
                   "into": args.into,
                   "cli_line": line}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.into:
                shutil.rmtree(data)
    RESULTS.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "cpu": os.cpu_count()}, indent=1))


def write_articles(folder: Path, limit: int, into: bool) -> tuple[int, int]:
    """The pool's articles as text files: (words, files)."""
    from pools import load_pool

    pool = load_pool()
    docs = pool["dev_docs"][: limit // 2] + pool["arcd_docs"][: limit - limit // 2]
    words = 0
    for d in docs:
        body = "\n\n".join(d["paragraphs"])
        if into:
            body = f"Ingestion bench copy: {d['doc_id']}\n\n{body}"
        words += len(body.split())
        (folder / f"{d['doc_id']}.txt").write_text(body + "\n", encoding="utf-8")
    return words, len(docs)


def write_pdfs(folder: Path, copies: int) -> tuple[int, int]:
    """``copies`` of each text PDF of the fixtures, each with a comment line
    after its %%EOF (a new file to doclib, the same text to a reader):
    (words by pypdf, files)."""
    from pypdf import PdfReader

    sources = [p for p in sorted((ROOT / "tests" / "fixtures" / "documents").glob("*.pdf"))
               if not p.name.startswith("scan")]
    words = 0
    for src in sources:
        data = src.read_bytes()
        n = sum(len((pg.extract_text() or "").split()) for pg in PdfReader(src).pages)
        for i in range(copies):
            (folder / f"{src.stem}-{i:03d}.pdf").write_bytes(data + f"\n% copy {i}\n".encode())
            words += n
    return words, copies * len(sources)


if __name__ == "__main__":
    main()
