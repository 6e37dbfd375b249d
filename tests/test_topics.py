"""The thesaurus (topics.py) and related workshops routed through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from doclib import config as config_mod
from doclib import topics as topics_mod
from doclib.auth import principal_for_role
from doclib.errors import ConfigError
from doclib.events import add_event, add_workshop
from doclib.library import Library
from doclib.related import related_workshops
from doclib.topics import BUNDLED, Thesaurus, TopicVectors, softmax, topic_vectors

SMALL = """
- key: one
  label: {en: Interfaith dialogue, ar: الحوار بين الأديان}
  situations:
    en: [the priest and the imam meet, churches and mosques together]
    ar: [لقاء الكاهن والإمام]
- key: two
  label: {en: Prisons}
  situations:
    en: [inmates radicalised in their cell block]
"""


def test_bundled_thesaurus_loads_with_both_languages():
    th = Thesaurus.load(BUNDLED)
    assert len(th.topics) >= 50
    assert len({t.key for t in th.topics}) == len(th.topics)
    for t in th.topics:
        assert t.label["en"] and t.label["ar"]
        assert len(t.situations["en"]) >= 5 and len(t.situations["ar"]) >= 5


@pytest.mark.parametrize("text, message", [
    ("- key: a\n  label: {en: A}\n- key: a\n  label: {en: B}\n", "given twice"),
    ("- label: {en: A}\n", "needs a key"),
    ("- key: a\n  label: {fr: A}\n", "label in en or ar"),
    ("- key: a\n  label: {en: A}\n  situations: {en: x}\n", "situations.en"),
    ("{}", "list of topics"),
    ("- [unclosed", "cannot read"),
])
def test_a_wrong_thesaurus_is_an_error_naming_the_problem(tmp_path, text, message):
    p = tmp_path / "t.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Thesaurus.load(p)


def test_affinity_matches_a_numpy_oracle():
    th = Thesaurus.load(BUNDLED)
    texts, owner, is_label = th.sentences()
    rng = np.random.default_rng(7)
    v = rng.normal(size=(len(texts), 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    tv = TopicVectors(th, v)
    x = rng.normal(size=(4, 16)).astype(np.float32)
    for top in (1, 3):
        got = tv.affinity(x, top)
        sims = x @ v.T
        for j in range(len(th.topics)):
            lab = sims[:, (owner == j) & is_label].max(axis=1)
            sit = np.sort(sims[:, (owner == j) & ~is_label], axis=1)[:, ::-1][:, :top].mean(1)
            np.testing.assert_allclose(got[:, j], np.maximum(lab, sit), atol=1e-5)
    p = softmax(got, 0.05)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)


class CountingEmbedder:
    id, dim = "counting", 8

    def __init__(self) -> None:
        self.calls = 0

    def embed_passages(self, texts):
        self.calls += 1
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_vectors_are_cached_per_thesaurus_and_model(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(SMALL, encoding="utf-8")
    emb = CountingEmbedder()
    first = topic_vectors(Thesaurus.load(p), emb, "d1", tmp_path)
    again = topic_vectors(Thesaurus.load(p), emb, "d1", tmp_path)
    assert emb.calls == 1
    topics_mod._PROCESS_CACHE.clear()  # a new process: the file in the index folder
    from_disk = topic_vectors(Thesaurus.load(p), emb, "d1", tmp_path)
    assert emb.calls == 1
    np.testing.assert_array_equal(first.vectors, again.vectors)
    np.testing.assert_array_equal(first.vectors, from_disk.vectors)
    topic_vectors(Thesaurus.load(p), emb, "other model files", tmp_path)
    assert emb.calls == 2
    p.write_text(SMALL.replace("Prisons", "Prisons and probation"), encoding="utf-8")
    changed = topic_vectors(Thesaurus.load(p), emb, "other model files", tmp_path)
    assert emb.calls == 3 and "Prisons and probation" in changed.texts


# --------------------------------------------------- the real bundled model
def _library(tmp_path: Path, embedder, topics: str = "bundled") -> Library:
    cfg = config_mod.from_dict({"storage": {"data_dir": str(tmp_path / "data")},
                                "related": {"topics": topics}}, tmp_path)
    return Library(cfg, embedder=embedder)


# workshops of an imagined programme, titled in one language only (not the
# benchmark's cases)
TITLES = [("en", "Faith communities working together"), ("ar", "السجون والتطرف"),
          ("en", "Sport clubs and young people"), ("ar", "دور الأمهات في الوقاية"),
          ("en", "Online propaganda and social networks"), ("ar", "التقييم ومؤشرات الأثر")]


@pytest.mark.integration
def test_a_question_reaches_a_title_only_workshop_in_the_other_language(tmp_path,
                                                                        use_embedder):
    lib = _library(tmp_path, use_embedder)
    try:
        with lib.db.begin() as conn:
            add_event(conn, {"slug": "prog", "title": {"en": "Programme"}})
            ids = [add_workshop(conn, "prog", {"number": i + 1, "title": {lang: title}})
                   for i, (lang, title) in enumerate(TITLES)]
        who = principal_for_role("visitor")
        res = related_workshops(lib, who, query="My teenage son was sentenced and now he "
                                "shares a cell with men who preach holy war", k=6)
        assert res[0]["workshop"]["id"] == ids[1]
        assert res[0]["topic"]["label"]["ar"]
        res = related_workshops(lib, who, query="الكاهن وإمام المسجد في حيّنا يريدان تنظيم "
                                "نشاط مشترك لشباب الطائفتين", k=6)
        assert res[0]["workshop"]["id"] == ids[0]
        scores = [r["score"] for r in res]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
        # a question from outside the field has no close match
        assert related_workshops(lib, who, query="banana bread recipe", k=6) == []
        assert related_workshops(lib, who, query="وصفة كعكة الشوكولاتة بدون بيض", k=6) == []
    finally:
        lib.close()


@pytest.mark.integration
def test_without_a_thesaurus_every_workshop_is_ranked_by_its_own_evidence(tmp_path,
                                                                           use_embedder):
    lib = _library(tmp_path, use_embedder, topics="none")
    try:
        with lib.db.begin() as conn:
            add_event(conn, {"slug": "prog", "title": {"en": "Programme"}})
            for i, (lang, title) in enumerate(TITLES):
                add_workshop(conn, "prog", {"number": i + 1, "title": {lang: title}})
        res = related_workshops(lib, principal_for_role("visitor"),
                                query="how long to boil an egg", k=10)
        assert len(res) == len(TITLES) and all(r["topic"] is None for r in res)
    finally:
        lib.close()
