"""Bounded load run against `doclib serve` (gunicorn) on 127.0.0.1.

The sample library plus the 96 dev-set articles are ingested into a temporary
library; `doclib serve` starts with the configured workers; 16 client threads
send /api/v1/search requests (dev-set questions, Arabic and English, as a
visitor) until the request budget or the time limit is spent.  Prints
requests per second and p50/p99 latency; writes bench/results/load.json.

Usage: .venv/bin/python bench/load.py [--clients 16] [--requests 2000] [--seconds 120]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from doclib import config as config_mod  # noqa: E402
from doclib.ingest import IngestOptions, ingest_paths  # noqa: E402
from doclib.library import Library  # noqa: E402
from doclib.text import detect_language  # noqa: E402
from quality import DEV, ingest_dev, load_dev  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_rss_mb(master: int) -> list[float]:
    """Resident memory of the gunicorn workers (children of the master)."""
    out = []
    for task in Path(f"/proc/{master}/task").iterdir():
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            out.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="start the workers with web.warm_up: false")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    docs, queries = load_dev(None)
    questions = [q["question"] for q in queries]
    with tempfile.TemporaryDirectory(prefix="doclib-load-") as tmp:
        cfg_path = Path(tmp) / "config.yaml"
        cfg_path.write_text(f"storage:\n  data_dir: data\nweb:\n  workers: {args.workers}\n"
                            f"  warm_up: {str(args.warm_up).lower()}\n", encoding="utf-8")
        cfg = config_mod.load(cfg_path)
        lib = Library(cfg)
        list(ingest_paths(lib, [str(ROOT / "library" / "sample")], IngestOptions()))
        src = Path(tmp) / "articles"
        src.mkdir()
        ingest_dev(lib, docs, src)
        lib.close()
        port = free_port()
        env = {**os.environ, "DOCLIB_CONFIG": str(cfg_path)}
        server = subprocess.Popen([sys.executable, "-m", "doclib", "serve", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # warm every worker (models, index): English and Arabic questions
            # from 4 threads at once, so that each worker gets both languages
            # (English loads the second model)
            def warm(qs: list[str]) -> None:
                for q in qs:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    c.request("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": q}))
                    c.getresponse().read()
                    c.close()

            en = [q for q in questions if detect_language(q) == "en"][:40]
            ar = [q for q in questions if detect_language(q) == "ar"][:40]
            warmers = [threading.Thread(target=warm, args=(part[i::2],))
                       for part in (en, ar) for i in range(2)]
            for t in warmers:
                t.start()
            for t in warmers:
                t.join()
            latencies: list[float] = []
            errors = [0]
            lock = threading.Lock()
            counter = [0]
            deadline = time.time() + args.seconds

            def client(i: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                while time.time() < deadline:
                    with lock:
                        if counter[0] >= args.requests:
                            return
                        n = counter[0]
                        counter[0] += 1
                    q = questions[(n * 7 + i) % len(questions)]
                    t = time.perf_counter()
                    try:
                        conn.request("GET", "/api/v1/search?" + urllib.parse.urlencode(
                            {"q": q, "k": 10}))
                        resp = conn.getresponse()
                        resp.read()
                        ok = resp.status == 200
                    except OSError:
                        ok = False
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    dt = (time.perf_counter() - t) * 1000
                    with lock:
                        latencies.append(dt)
                        errors[0] += not ok
                conn.close()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            rss_mb = worker_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    rps = len(latencies) / wall
    p50, p99 = float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))
    print(f"{len(latencies)} searches, {args.clients} clients, {args.workers} gunicorn workers: "
          f"{rps:.1f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {errors[0]}; "
          f"worker RSS {', '.join(f'{x:.0f}' for x in rss_mb)} MB")
    out = ROOT / "bench" / "results" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"requests": len(latencies), "clients": args.clients,
                               "workers": args.workers, "rps": rps, "p50_ms": p50,
                               "p99_ms": p99, "errors": errors[0], "documents": len(docs) + 4,
                               "worker_rss_mb": rss_mb,
                               "dev_set": str(DEV.name)}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
