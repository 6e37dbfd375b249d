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

Usage: .venv/bin/python bench/ingest.py [--workers 1,2] [--limit 120]
           [--into DATA_DIR] [--out FILE]
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
    from pools import load_pool

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--limit", type=int, default=120, help="articles")
    ap.add_argument("--no-second", action="store_true",
                    help="the second model off (embed.second_model: '')")
    ap.add_argument("--into", default=None,
                    help="ingest into a copy of this library (a data_dir)")
    ap.add_argument("--out", default=str(RESULTS / "ingest.json"))
    args = ap.parse_args()
    pool = load_pool()
    docs = pool["dev_docs"][: args.limit // 2] + pool["arcd_docs"][: args.limit - args.limit // 2]
    rows = []
    with tempfile.TemporaryDirectory(prefix="doclib-ingest-") as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        words = 0
        for d in docs:
            body = "\n\n".join(d["paragraphs"])
            if args.into:
                body = f"Ingestion bench copy: {d['doc_id']}\n\n{body}"
            words += len(body.split())
            (folder / f"{d['doc_id']}.txt").write_text(body + "\n", encoding="utf-8")
        for n in [int(x) for x in args.workers.split(",")]:
            data = Path(tmp) / f"lib-{n}"
            if args.into:
                shutil.copytree(args.into, data)
            cfg = Path(tmp) / f"config-{n}.yaml"
            cfg.write_text(f"storage:\n  data_dir: {data}\n" + (
                "embed:\n  second_model: ''\n" if args.no_second else ""), encoding="utf-8")
            env = {**os.environ, "DOCLIB_CONFIG": str(cfg), "OMP_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1"}
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "doclib", "ingest", str(folder),
                                  "--access", "public", "--workers", str(n)],
                                 capture_output=True, text=True, env=env, check=True)
            took = time.perf_counter() - t
            line = out.stderr.strip().splitlines()[-1]
            passages = int(re.search(r"(\d+) passages\)", line).group(1))
            row = {"workers": n, "files": len(docs), "words": words, "passages": passages,
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


if __name__ == "__main__":
    main()
