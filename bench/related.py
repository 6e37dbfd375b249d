"""Related workshops and related documents across languages.

Workshops: the 34 cases of bench/workshop_cases.py (a city network's
programme, written for doclib): each workshop titled in ONE language only,
with no description and no documents, and a practitioner's question about
its problem.  Four directions (title language x question language), one
event of 34 workshops each, in a library that holds the sample library
(the network's own reports, both languages).  Measures hit@3 and MRR of the
intended workshop via `related_workshops` (the service behind
/workshops?q= and /api/v1/workshops/related).

Documents: the 96 dev-set articles; for each, `related_documents` should
put its translation first.  Measures hit@3 and MRR of the translation.

Usage: .venv/bin/python bench/related.py   (writes bench/results/related.json)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from doclib import config as config_mod  # noqa: E402
from doclib.auth import principal_for_role  # noqa: E402
from doclib.events import add_event, add_workshop  # noqa: E402
from doclib.library import Library  # noqa: E402
from doclib.related import related_documents, related_workshops  # noqa: E402
from quality import ingest_dev, load_dev  # noqa: E402
from workshop_cases import CASES  # noqa: E402

SAMPLE = ROOT / "library" / "sample"

def rank_of(ids: list[int], want: int) -> int | None:
    return ids.index(want) + 1 if want in ids else None


def summary(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {"hit@3": sum(1 for r in ranks if r and r <= 3) / n,
            "mrr": sum(1 / r for r in ranks if r) / n, "n": n}


def main() -> None:
    who = principal_for_role("visitor")
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="doclib-related-") as tmp:
        cfg = config_mod.from_dict({"storage": {"data_dir": str(Path(tmp) / "data")}}, tmp)
        lib = Library(cfg)
        from doclib.ingest import IngestOptions, ingest_paths

        list(ingest_paths(lib, [str(SAMPLE)], IngestOptions()))
        t = time.perf_counter()
        n = 0
        for tl in ("en", "ar"):
            slug = f"bench-{tl}"
            with lib.db.begin() as conn:
                add_event(conn, {"slug": slug, "title": {"en": f"Programme ({tl} titles)"}})
                ids = [add_workshop(conn, slug, {"number": i + 1, "title": {
                    tl: case[0] if tl == "en" else case[1]}}) for i, case in enumerate(CASES)]
            for ql in ("en", "ar"):
                ranks = []
                for wid, case in zip(ids, CASES, strict=True):
                    question = case[2] if ql == "en" else case[3]
                    res = related_workshops(lib, who, query=question, k=100)
                    res = [x for x in res if x["workshop"]["event"] == slug]
                    ranks.append(rank_of([x["workshop"]["id"] for x in res], wid))
                    n += 1
                    if ranks[-1] != 1:
                        print(f"{ranks[-1]!s:>4}  [{tl} title] {case[0] if tl == 'en' else case[1]}"
                              f"  <-  {question}")
                out[f"workshops {tl} title, {ql} question"] = summary(ranks)
        ms = (time.perf_counter() - t) * 1000 / n
        for v in out.values():
            v["ms_per_query"] = ms
        docs, _ = load_dev(None)
        src = Path(tmp) / "articles"
        src.mkdir()
        titles = ingest_dev(lib, docs, src)
        by_title = {t: i for i, t in titles.items()}
        twin = {by_title[d["doc_id"]]: by_title[d["doc_id"][:-2] + ("ar" if d["lang"] == "en"
                                                                   else "en")] for d in docs}
        ranks = []
        t = time.perf_counter()
        for doc_id, other in twin.items():
            res = related_documents(lib, who, doc_id, k=10)
            ranks.append(rank_of([x["document"]["id"] for x in res], other))
        out["documents"] = {**summary(ranks), "ms_per_query":
                            (time.perf_counter() - t) * 1000 / len(twin)}
        lib.close()
    print("\n| benchmark | cases | hit@3 | MRR | ms/query |\n|---|---|---|---|---|")
    for name, s in out.items():
        assert isinstance(s, dict)
        print(f"| related {name} | {s['n']} | {s['hit@3']:.3f} | {s['mrr']:.3f} | "
              f"{s['ms_per_query']:.1f} |")
    res_path = ROOT / "bench" / "results" / "related.json"
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
