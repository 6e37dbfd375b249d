"""Related workshops and related documents across languages.

Workshops: 12 workshops of one event, each titled in ONE language only (six
Arabic, six English, no descriptions), and a practitioner's question in the
OTHER language for each (written for doclib).  Measures hit@3 and MRR of the
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

# (title language, title, question in the other language)
WORKSHOPS = [
    ("en", "Early prevention in schools",
     "كيف يمكن للمعلمين ملاحظة الطلاب المعرضين للتطرف وإحالتهم إلى المرشد؟"),
    ("ar", "العمل مع أسر الشباب المعرضين للخطر",
     "Parents do not know whom to call when their son starts to change"),
    ("en", "Online radicalisation and counter-narratives",
     "يتعرض المراهقون للتجنيد عبر ألعاب الإنترنت ومجموعات الدردشة"),
    ("ar", "إعادة الإدماج المجتمعي بعد الإفراج",
     "Released prisoners need housing and a job so they do not reoffend"),
    ("en", "Mental health services and violent extremism",
     "شاب يعاني من الاكتئاب والعزلة ويتحدث باستمرار عن العنف"),
    ("ar", "دور الأئمة والقادة الدينيين في الوقاية",
     "How can mosque leaders help prevent radicalisation?"),
    ("en", "Responding to hate crimes and polarisation after an attack",
     "بعد الهجوم الإرهابي تزايدت الاعتداءات على المهاجرين في مدينتنا"),
    ("ar", "تمكين المرأة في الوقاية من التطرف",
     "Women's associations want a real role in prevention programmes"),
    ("en", "Multi-agency case management and information sharing",
     "الشرطة والمدارس والخدمات الاجتماعية لا تتبادل المعلومات عن الحالات"),
    ("ar", "الرياضة والفنون كبدائل للشباب",
     "Football clubs and music lessons for bored young people in poor neighbourhoods"),
    ("en", "Returning foreign fighters and their children",
     "عودة المقاتلين الأجانب من سوريا مع أطفالهم إلى الحي"),
    ("ar", "التواصل الاستراتيجي للبلديات مع وسائل الإعلام",
     "How should the city talk to journalists after an incident?"),
]


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
        with lib.db.begin() as conn:
            add_event(conn, {"slug": "bench", "title": {"en": "Benchmark event"}})
            ids = [add_workshop(conn, "bench", {"number": i + 1, "title": {lang: title}})
                   for i, (lang, title, _q) in enumerate(WORKSHOPS)]
        ranks = []
        t = time.perf_counter()
        for wid, (lang, title, question) in zip(ids, WORKSHOPS, strict=True):
            res = related_workshops(lib, who, query=question, k=len(WORKSHOPS))
            r = rank_of([x["workshop"]["id"] for x in res], wid)
            ranks.append(r)
            print(f"{r!s:>4}  [{lang} title] {title}  <-  {question}")
        out["workshops"] = {**summary(ranks), "ms_per_query":
                            (time.perf_counter() - t) * 1000 / len(WORKSHOPS)}
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
    for name in ("workshops", "documents"):
        s = out[name]
        assert isinstance(s, dict)
        print(f"| related {name} | {s['n']} | {s['hit@3']:.3f} | {s['mrr']:.3f} | "
              f"{s['ms_per_query']:.1f} |")
    res_path = ROOT / "bench" / "results" / "related.json"
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(out, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
