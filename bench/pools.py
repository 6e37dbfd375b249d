"""The realistic library of the quality benchmark: the dev set inside a pool
of distractors, with each dev article present in ONE language only (the
usual case) or in both.

One library holds everything; access levels select the pool, so the
per-audience statistics of the lexical index are those of the pool searched:

- the XQuAD-R dev articles: for each article, the *kept* language version
  (``kept_language``: half English, half Arabic, among the articles with
  questions too) is public, its translation is ``curators`` only;
- the 153 ARCD articles, written in Arabic (no English twin): public;
- English distractors (no Arabic twin): Python's reference documentation as
  CPython ships it (``pydoc_data.topics``), cut into articles of about 600
  words at paragraph boundaries, like the dev articles: public.

A member searches the *twinless* pool (every article in one language only,
plus all distractors); a curator searches the *parallel* pool (both
versions of every dev article, plus all distractors).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from doclib import store  # noqa: E402
from doclib.ingest import IngestOptions, ingest_paths  # noqa: E402
from doclib.library import Library  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
DEV = SHARED / "xquad-dev"
ARCD = SHARED / "arcd"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def kept_language(doc_id: str) -> str:
    """The language an article keeps in the twinless pool ('xq-NN-xx'): the
    questions are about every fourth article (00, 04, 08 ...), which keep
    English and Arabic in turn (00 en, 04 ar, 08 en ...), as do the others
    in fours (01-03 en, 05-07 ar ...)."""
    return "en" if (int(doc_id.split("-")[1]) // 4) % 2 == 0 else "ar"


def english_distractors(words: int = 600) -> list[dict[str, Any]]:
    """English articles with no Arabic twin, from Python's reference
    documentation (pydoc_data.topics, part of CPython): paragraphs in
    order, grouped into articles of about ``words`` words."""
    import pydoc_data.topics as topics

    out: list[dict[str, Any]] = []
    current: list[str] = []
    count = 0
    for name in sorted(topics.topics):
        for para in topics.topics[name].split("\n\n"):
            para = " ".join(para.split())
            # prose only: code samples and grammar rules are not articles
            if len(para.split()) < 12 or sum(ch.isalpha() for ch in para) < 0.6 * len(para):
                continue
            current.append(para)
            count += len(para.split())
            if count >= words:
                out.append({"doc_id": f"pydoc-{len(out):03d}-en", "lang": "en",
                            "paragraphs": current})
                current, count = [], 0
    return out


def load_pool(limit: int | None = None) -> dict[str, Any]:
    dev_docs = read_jsonl(DEV / "docs.jsonl")
    dev_q = read_jsonl(DEV / "queries.jsonl")
    arcd_docs = read_jsonl(ARCD / "docs.jsonl")
    arcd_q = read_jsonl(ARCD / "queries.jsonl")
    if limit:
        keep = {q["qid"].rsplit("-", 1)[0] for q in dev_q[:limit]}
        dev_q = [q for q in dev_q if q["qid"].rsplit("-", 1)[0] in keep]
        arcd_q = arcd_q[:limit]
    for q in arcd_q:
        q["question"] = q["question"].strip(" -")
    return {"dev_docs": dev_docs, "dev_queries": dev_q, "arcd_docs": arcd_docs,
            "arcd_queries": arcd_q, "english": english_distractors()}


def ingest_pool(lib: Library, pool: dict[str, Any], folder: Path) -> dict[str, int]:
    """Write every article as a text file with a catalogue, ingest the folder
    through doclib's pipeline; returns doc_id (article name) -> document id."""
    entries = []
    for d in pool["dev_docs"] + pool["arcd_docs"] + pool["english"]:
        name = f"{d['doc_id']}.txt"
        (folder / name).write_text("\n\n".join(d["paragraphs"]) + "\n", encoding="utf-8")
        access = "public"
        if d["doc_id"].startswith("xq-") and kept_language(d["doc_id"]) != d["lang"]:
            access = "curators"
        entries.append({"file": name, "title": d["doc_id"], "access": access,
                        "language": d["lang"], "type": "other"})
    rows = ingest_catalogue(lib, folder, entries)
    return {r.title: r.id for r in rows}


def ingest_catalogue(lib: Library, folder: Path, entries: list[dict[str, Any]]) -> list[Any]:
    """Write ``entries`` as the folder's catalogue.yaml, ingest the folder
    through doclib's pipeline (stops on a failed file) and return every
    document row.  A library kept with --data-dir takes the catalogue's
    metadata again (update_existing)."""
    import yaml

    (folder / "catalogue.yaml").write_text(yaml.safe_dump({"documents": entries},
                                                          allow_unicode=True), encoding="utf-8")
    t = time.perf_counter()
    reports = list(ingest_paths(lib, [str(folder)], IngestOptions(update_existing=True)))
    bad = [r for r in reports if r.status not in ("ready", "unchanged", "updated")]
    if bad:
        raise SystemExit(f"ingestion failed: {bad[:3]}")
    print(f"ingested {len(reports)} documents in {time.perf_counter() - t:.1f} s "
          f"({sum(r.chunks for r in reports)} chunks)", file=sys.stderr)
    with lib.db.connect() as conn:
        return list(conn.execute(store.documents.select()).all())
