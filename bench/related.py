"""Related workshops and related documents across languages.

Workshops: the 34 cases of bench/workshop_cases.py (a city network's
programme, written for doclib by an earlier session) and the 40 of
bench/workshop_cases_heldout.py (written by a helper blind to the thesaurus
and to the code): each workshop titled in ONE language only, with no
description and no documents, and a practitioner's question about its
problem.  Four directions (title language x question language), one event
per set and direction, in a library that holds the sample library (the
network's own reports, both languages).  Measures hit@3 and MRR of the
intended workshop among its event's via `related_workshops` (the service
behind /workshops?q= and /api/v1/workshops/related), and the relevance
floor: the share of quality.py's 36 off-topic questions that get no
workshop, and of the real questions that get none.  Runs the default
(bundled thesaurus) and `related.topics: none` (before it) side by side.

Documents: the 96 dev-set articles; for each, `related_documents` should
put its translation first.  Measures hit@3 and MRR of the translation.

Usage: .venv/bin/python bench/related.py   (writes bench/results/related.json)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# one BLAS thread, as `doclib serve` runs: two threads on a busy machine
# spike to many times their normal latency
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from doclib import config as config_mod  # noqa: E402
from doclib.auth import principal_for_role  # noqa: E402
from doclib.events import add_event, add_workshop  # noqa: E402
from doclib.library import Library  # noqa: E402
from doclib.related import related_documents, related_workshops  # noqa: E402
from quality import (  # noqa: E402
    OFF_TOPIC,  # noqa: E402
    ingest_dev,
    load_dev,
)
from workshop_cases import CASES  # noqa: E402
from workshop_cases_heldout import CASES as HELDOUT  # noqa: E402

SAMPLE = ROOT / "library" / "sample"

def rank_of(ids: list[int], want: int) -> int | None:
    return ids.index(want) + 1 if want in ids else None


def summary(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {"hit@3": sum(1 for r in ranks if r and r <= 3) / n,
            "mrr": sum(1 / r for r in ranks if r) / n, "n": n}


def workshop_run(lib: Library, cases: list[tuple[str, str, str, str]], tag: str
                 ) -> tuple[dict[str, dict[str, float]], int, list[float]]:
    """Four directions (title language x question language) of one case set,
    each in an event of its own; the ranks counted among that event's
    workshops.  Returns the summaries, the number of questions and the
    closest-evidence check: questions with no result at all."""
    who = principal_for_role("visitor")
    out: dict[str, dict[str, float]] = {}
    n = 0
    empty = []
    for tl in ("en", "ar"):
        slug = f"{tag}-{tl}"
        with lib.db.begin() as conn:
            add_event(conn, {"slug": slug, "title": {"en": f"Programme {tag} ({tl} titles)"}})
            ids = [add_workshop(conn, slug, {"number": i + 1, "title": {
                tl: case[0] if tl == "en" else case[1]}}) for i, case in enumerate(cases)]
        for ql in ("en", "ar"):
            ranks = []
            for wid, case in zip(ids, cases, strict=True):
                question = case[2] if ql == "en" else case[3]
                res = related_workshops(lib, who, query=question, k=1000)
                empty.append(float(not res))
                res = [x for x in res if x["workshop"]["event"] == slug]
                ranks.append(rank_of([x["workshop"]["id"] for x in res], wid))
                n += 1
                if ranks[-1] is None or ranks[-1] > 3:
                    print(f"{ranks[-1]!s:>4}  [{tag} {tl} title] "
                          f"{case[0] if tl == 'en' else case[1]}  <-  {question}")
            out[f"{tag}: {tl} title, {ql} question"] = summary(ranks)
    return out, n, empty


def run_config(label: str, overrides: dict[str, object], documents: bool) -> dict[str, object]:
    who = principal_for_role("visitor")
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="doclib-related-") as tmp:
        cfg = config_mod.from_dict({"storage": {"data_dir": str(Path(tmp) / "data")},
                                    **overrides}, tmp)
        lib = Library(cfg)
        from doclib.ingest import IngestOptions, ingest_paths

        list(ingest_paths(lib, [str(SAMPLE)], IngestOptions()))
        _ = lib.topics
        t = time.perf_counter()
        n = 0
        empty: list[float] = []
        for tag, cases in (("dev", CASES), ("heldout", HELDOUT)):
            res, m, e = workshop_run(lib, cases, tag)
            out.update(res)
            n += m
            empty += e
        ms = (time.perf_counter() - t) * 1000 / n
        for v in out.values():
            assert isinstance(v, dict)
            v["ms_per_query"] = ms
        off = [not related_workshops(lib, who, query=q, k=10) for q in OFF_TOPIC]
        out["floor"] = {"off_topic_no_result": sum(off) / len(off), "off_topic": len(off),
                        "real_questions_no_result": sum(empty) / len(empty),
                        "real_questions": len(empty)}
        if documents:
            docs, _ = load_dev(None)
            src = Path(tmp) / "articles"
            src.mkdir()
            titles = ingest_dev(lib, docs, src)
            by_title = {t: i for i, t in titles.items()}
            twin = {by_title[d["doc_id"]]: by_title[d["doc_id"][:-2] + (
                "ar" if d["lang"] == "en" else "en")] for d in docs}
            ranks = []
            t = time.perf_counter()
            for doc_id, other in twin.items():
                res = related_documents(lib, who, doc_id, k=10)
                ranks.append(rank_of([x["document"]["id"] for x in res], other))
            out["documents"] = {**summary(ranks), "ms_per_query":
                                (time.perf_counter() - t) * 1000 / len(twin)}
        lib.close()
    print(f"\n### {label}\n\n| benchmark | cases | hit@3 | MRR | ms/query |\n|---|---|---|---|---|")
    for name, v in out.items():
        assert isinstance(v, dict)
        if name == "floor":
            continue
        print(f"| related {name} | {v['n']} | {v['hit@3']:.3f} | {v['mrr']:.3f} | "
              f"{v['ms_per_query']:.1f} |")
    fl = out["floor"]
    assert isinstance(fl, dict)
    print(f"\nfloor: {fl['off_topic_no_result']:.0%} of {fl['off_topic']} off-topic questions "
          f"get no workshop; {fl['real_questions_no_result']:.1%} of {fl['real_questions']} "
          "real questions get none")
    return {"config": label, "results": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-documents", action="store_true",
                    help="skip related documents (the dev set's 96 articles)")
    args = ap.parse_args()
    runs = [run_config("default (thesaurus)", {}, not args.no_documents),
            run_config("related.topics: none (before)", {"related": {"topics": "none"}}, False)]
    res_path = ROOT / "bench" / "results" / "related.json"
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(runs, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
