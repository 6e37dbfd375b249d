"""Bounded load run against `doclib serve` (gunicorn) on 127.0.0.1.

The sample library plus the 96 dev-set articles are ingested into a temporary
library; `doclib serve` starts with the configured workers; 16 client threads
send /api/v1/search requests (dev-set questions, Arabic and English, as a
visitor) until the request budget or the time limit is spent.  Prints
requests per second and p50/p99 latency; writes bench/results/load.json.

With ``--uploaders N`` (the mixed run, issue 10.15), N more threads upload
small generated files through the JSON API as a curator (a bearer token),
alternating English text and Arabic Markdown, each with a word of its own:
each uploader posts a file, polls its job until it has ended, and posts the
next, until ``--seconds`` are spent (no request budget then).  The
searchers stop at the same time; then every upload still running is waited
for (at most ``--wait`` seconds), each must have ended ready, and each is
searched for by its own word as the curator and must come first.  Errors
(any answer but 200/202, a broken connection, a job that did not end
ready, an upload not found) must be 0.  Per kind (search, upload, job
poll): requests, requests per second, p50, p99, errors; and the time from
upload to ready.  Writes bench/results/load-mixed.json.

Usage: .venv/bin/python bench/load.py [--clients 16] [--requests 2000] [--seconds 120]
       .venv/bin/python bench/load.py --uploaders 2 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from doclib import accounts  # noqa: E402
from doclib import config as config_mod  # noqa: E402
from doclib.ingest import IngestOptions, ingest_paths  # noqa: E402
from doclib.library import Library  # noqa: E402
from doclib.text import detect_language  # noqa: E402
from quality import DEV, ingest_dev, load_dev  # noqa: E402

EN_WORDS = ("prevention resilience community dialogue municipal youth network summit "
            "workshop practice trust partners exchange schools families report city "
            "council social workers police mentors online recruitment early signs "
            "support referral mothers teachers sport local leaders").split()
AR_WORDS = ("الوقاية المجتمع الحوار البلدية الشباب الشبكة القمة الورشة الممارسة الثقة "
            "الشركاء التبادل المدارس الأسر التقرير المدينة المجلس الأخصائيون الشرطة "
            "المرشدون التجنيد الإنترنت العلامات المبكرة الدعم الإحالة الأمهات المعلمون "
            "الرياضة القادة المحليون").split()
AR_LETTERS = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"


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


def marker(n: int, arabic: bool) -> str:
    """A word no other document holds: the upload's number spelled in
    letters (Latin or Arabic) between a fixed start and end (the stemmers
    cut ends and starts only)."""
    letters = AR_LETTERS if arabic else "bcdfghjklmnpqrstvwxz"
    digits = ""
    n += len(letters) ** 2  # at least three letters
    while n:
        n, r = divmod(n, len(letters))
        digits = letters[r] + digits
    return f"زرق{digits}طظ" if arabic else f"quor{digits}vex"


def generated_file(n: int) -> tuple[str, bytes, str]:
    """(file name, content, marker) of the n-th upload: English text or
    Arabic Markdown, three paragraphs of about 60 words."""
    arabic = n % 2 == 1
    rnd = random.Random(n)
    words, mark = (AR_WORDS if arabic else EN_WORDS), marker(n, arabic)
    paragraphs = []
    for _ in range(3):
        body = [rnd.choice(words) for _ in range(60)]
        body.insert(rnd.randrange(len(body)), mark)
        paragraphs.append(" ".join(body) + ".")
    if arabic:
        return (f"upload-{n:04d}.md", (f"# تقرير {mark}\n\n" + "\n\n".join(paragraphs)
                                       + "\n").encode(), mark)
    return f"upload-{n:04d}.txt", ("\n\n".join(paragraphs) + "\n").encode(), mark


def multipart(fields: dict[str, str], name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
             .encode() for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 .encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


class Recorder:
    """Latencies and errors per kind of request, thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.notes: list[str] = []

    def add(self, kind: str, ms: float, ok: bool, note: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(ms)
            self.errors[kind] = self.errors.get(kind, 0) + (not ok)
            if not ok and len(self.notes) < 20:
                self.notes.append(f"{kind}: {note}")


class Client:
    """One keep-alive connection; a broken one is opened again."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, repr(e).encode()

    def close(self) -> None:
        self.conn.close()


def summary(rec: Recorder, kind: str, wall: float) -> dict[str, Any]:
    lat = rec.latencies.get(kind, [])
    if not lat:
        return {"requests": 0, "errors": rec.errors.get(kind, 0)}
    return {"requests": len(lat), "rps": len(lat) / wall,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "errors": rec.errors.get(kind, 0)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=2000,
                    help="search budget (without --uploaders)")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--uploaders", type=int, default=0,
                    help="curator threads uploading generated files meanwhile (the mixed run)")
    ap.add_argument("--wait", type=float, default=120,
                    help="mixed run: at most this long for the uploads still running at the end")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="start the workers with web.warm_up: false")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default=None,
                    help="search an existing library (e.g. one of bench/scale.py's) instead "
                         "of building the sample + dev-set one")
    ap.add_argument("--as", dest="role", choices=("visitor", "member"), default="visitor",
                    help="search as a visitor (no token) or a member (an API token)")
    ap.add_argument("--out", default=None, help="results file (default bench/results/load.json)")
    args = ap.parse_args()
    mixed = args.uploaders > 0
    docs, queries = load_dev(None)
    questions = [q["question"] for q in queries]
    rec = Recorder()
    uploads: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="doclib-load-") as tmp:
        cfg_path = Path(tmp) / "config.yaml"
        data_dir = args.data_dir or "data"
        cfg_path.write_text(f"storage:\n  data_dir: {data_dir}\nweb:\n  workers: {args.workers}\n"
                            f"  warm_up: {str(args.warm_up).lower()}\n", encoding="utf-8")
        cfg = config_mod.load(cfg_path)
        lib = Library(cfg)
        if not args.data_dir:
            list(ingest_paths(lib, [str(ROOT / "library" / "sample")], IngestOptions()))
            src = Path(tmp) / "articles"
            src.mkdir()
            ingest_dev(lib, docs, src)
        token = None
        if args.role == "member":
            with lib.db.begin() as conn:
                uid = accounts.add_user(conn, f"load-{uuid.uuid4().hex[:8]}@example.org",
                                        "load-member-pass-1", "member")
                token = accounts.create_token(conn, uid, "load")
        if mixed:
            with lib.db.begin() as conn:
                uid = accounts.add_user(conn, "load-curator@example.org", "load-curator-pass-1",
                                        "curator")
                token = accounts.create_token(conn, uid, "load")
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
            counter = [0]
            count_lock = threading.Lock()
            deadline = time.time() + args.seconds

            def searcher(i: int) -> None:
                client = Client(port, token if args.role == "member" else None)
                while time.time() < deadline:
                    with count_lock:
                        if not mixed and counter[0] >= args.requests:
                            break
                        n = counter[0]
                        counter[0] += 1
                    q = questions[(n * 7 + i) % len(questions)]
                    t = time.perf_counter()
                    status, _ = client.request("GET", "/api/v1/search?" + urllib.parse.urlencode(
                        {"q": q, "k": 10}))
                    rec.add("search", (time.perf_counter() - t) * 1000, status == 200,
                            f"{status} for {q[:40]!r}")
                client.close()

            next_upload = [0]

            def wait_job(client: Client, up: dict[str, Any], until: float) -> None:
                while time.time() < until:
                    t = time.perf_counter()
                    status, body = client.request("GET", f"/api/v1/jobs/{up['job']}")
                    rec.add("job", (time.perf_counter() - t) * 1000, status == 200,
                            f"{status} for job {up['job']}")
                    if status == 200:
                        job = json.loads(body)["job"]
                        if job["status"] not in ("queued", "processing"):
                            up["status"], up["document"] = job["status"], job["document_id"]
                            up["ready_s"] = time.perf_counter() - up["posted"]
                            return
                    time.sleep(0.2)

            def uploader(i: int) -> None:
                client = Client(port, token)
                while time.time() < deadline:
                    with count_lock:
                        n = next_upload[0]
                        next_upload[0] += 1
                    name, content, mark = generated_file(n)
                    body, boundary = multipart({"access": "public", "type": "report"}, name,
                                               content)
                    t = time.perf_counter()
                    status, answer = client.request("POST", "/api/v1/documents", body, {
                        "Content-Type": f"multipart/form-data; boundary={boundary}"})
                    rec.add("upload", (time.perf_counter() - t) * 1000, status == 202,
                            f"{status} for {name}: {answer[:200]!r}")
                    if status != 202:
                        continue
                    up = {"name": name, "marker": mark, "job": json.loads(answer)["job"],
                          "posted": t, "status": None}
                    with count_lock:
                        uploads.append(up)
                    # the next upload once this one has ended (or the run has)
                    wait_job(client, up, deadline)
                client.close()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=searcher, args=(i,)) for i in range(args.clients)]
            threads += [threading.Thread(target=uploader, args=(i,))
                        for i in range(args.uploaders)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            rss_mb = worker_rss_mb(server.pid)
            verified = {}
            if mixed:
                # bounded: the uploads still running when the load stopped
                client = Client(port, token)
                t_wait = time.perf_counter()
                for up in uploads:
                    if up["status"] is None:
                        wait_job(client, up, time.time() + max(
                            0.0, args.wait - (time.perf_counter() - t_wait)))
                waited = time.perf_counter() - t_wait
                found = 0
                for up in uploads:
                    if up["status"] != "ready":
                        rec.add("ready", 0, False, f"{up['name']} ended {up['status']}")
                        continue
                    status, body = client.request("GET", "/api/v1/search?" + urllib.parse
                                                  .urlencode({"q": up["marker"], "k": 3}))
                    hits = json.loads(body)["results"] if status == 200 else []
                    ok = bool(hits) and hits[0]["document"]["id"] == up["document"]
                    found += ok
                    rec.add("ready", up["ready_s"] * 1000, ok,
                            f"{up['name']} not first for {up['marker']}")
                client.close()
                verified = {"uploads": len(uploads), "ready": sum(
                    up["status"] == "ready" for up in uploads), "found_first": found,
                    "final_wait_s": waited}
        finally:
            server.terminate()
            server.wait(timeout=30)
    if not mixed:
        lat = rec.latencies["search"]
        rps = len(lat) / wall
        p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
        errors = rec.errors["search"]
        print(f"{len(lat)} searches, {args.clients} clients, {args.workers} gunicorn workers: "
              f"{rps:.1f} req/s, p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {errors}; "
              f"worker RSS {', '.join(f'{x:.0f}' for x in rss_mb)} MB")
        out = Path(args.out) if args.out else ROOT / "bench" / "results" / "load.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"requests": len(lat), "clients": args.clients,
                                   "workers": args.workers, "rps": rps, "p50_ms": p50,
                                   "p99_ms": p99, "errors": errors,
                                   "library": args.data_dir or "sample + dev set",
                                   "role": args.role,
                                   "documents": None if args.data_dir else len(docs) + 4,
                                   "worker_rss_mb": rss_mb,
                                   "dev_set": str(DEV.name)}, indent=2), encoding="utf-8")
        return
    kinds = {k: summary(rec, k, wall) for k in ("search", "upload", "job")}
    ready = rec.latencies.get("ready", [])
    times = [up["ready_s"] * 1000 for up in uploads if up["status"] == "ready"]
    result = {
        "seconds": wall, "searchers": args.clients, "uploaders": args.uploaders,
        "workers": args.workers, "documents_before": len(docs) + 4, "kinds": kinds,
        "upload_to_ready_ms": {"p50": float(np.percentile(times, 50)) if times else None,
                               "p99": float(np.percentile(times, 99)) if times else None},
        "verified": verified, "errors": sum(rec.errors.values()),
        "error_notes": rec.notes, "worker_rss_mb": rss_mb, "dev_set": str(DEV.name),
        "command": "bench/load.py " + " ".join(sys.argv[1:]),
    }
    assert len(ready) == len(uploads)
    print(f"{wall:.1f} s, {args.clients} searchers + {args.uploaders} uploaders, "
          f"{args.workers} gunicorn workers:")
    for k, v in kinds.items():
        if v["requests"]:
            print(f"  {k:7s} {v['requests']:5d} requests, {v['rps']:6.1f} req/s, "
                  f"p50 {v['p50_ms']:6.0f} ms, p99 {v['p99_ms']:6.0f} ms, errors {v['errors']}")
    if times:
        print(f"  upload to ready: p50 {np.percentile(times, 50):.0f} ms, "
              f"p99 {np.percentile(times, 99):.0f} ms")
    print(f"  uploads {verified['uploads']}, ready {verified['ready']}, found first by their "
          f"word {verified['found_first']} (final wait {verified['final_wait_s']:.1f} s); "
          f"errors {result['errors']}; worker RSS "
          f"{', '.join(f'{x:.0f}' for x in rss_mb)} MB")
    for note in rec.notes:
        print("  error:", note)
    out = ROOT / "bench" / "results" / "load-mixed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
