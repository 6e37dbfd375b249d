"""The thesaurus of the field: topics of preventing violent extremism, each
with a label and practitioners' situations in English and in Arabic, and
the vectors of those sentences.

A workshop titled "Interfaith dialogue" and a question about "the priest and
the imam of our district" share few words and, to a sentence encoder, little
meaning; both are close to sentences of the thesaurus's interfaith topic,
in either language.  Related workshops route a question through the topics
(``related.py``): the chance that the question and a workshop are about the
same topic.

The bundled thesaurus (``data/topics.yaml``) was written for doclib, blind
to the benchmark's cases; ``related.topics`` names another file of the same
shape (or ``none``).  Its vectors are computed once per thesaurus and model
and kept in the index folder (``topics.npy``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError

BUNDLED = Path(__file__).resolve().parent / "data" / "topics.yaml"
LANGS = ("en", "ar")
CACHE_FILE = "topics.npy"
CACHE_META = "topics.json"
# vectors already made in this process, by thesaurus and model (several
# libraries in one process, as in the tests, embed the thesaurus once)
_PROCESS_CACHE: dict[str, np.ndarray] = {}


@dataclass(frozen=True)
class Topic:
    key: str
    label: dict[str, str]
    situations: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Thesaurus:
    topics: tuple[Topic, ...]
    digest: str

    @classmethod
    def load(cls, path: Path) -> Thesaurus:
        """Read and check a thesaurus file; a wrong one is a ConfigError that
        names the file and what is wrong."""
        try:
            raw = path.read_bytes()
            data = yaml.safe_load(raw)
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"related.topics: cannot read {path.name}: {e}") from None
        if not isinstance(data, list) or not data:
            raise ConfigError(f"related.topics: {path.name} must be a list of topics")
        topics, keys = [], set()
        for i, t in enumerate(data):
            where = f"related.topics: {path.name}, topic {i + 1}"
            if not isinstance(t, dict) or not isinstance(t.get("key"), str) or not t["key"]:
                raise ConfigError(f"{where}: needs a key")
            if t["key"] in keys:
                raise ConfigError(f"{where}: key {t['key']!r} given twice")
            keys.add(t["key"])
            label, sits = t.get("label") or {}, t.get("situations") or {}
            if not isinstance(label, dict) or not isinstance(sits, dict):
                raise ConfigError(f"{where}: label and situations are mappings by language")
            if not any(isinstance(label.get(x), str) and label[x].strip() for x in LANGS):
                raise ConfigError(f"{where}: needs a label in en or ar")
            situations: dict[str, tuple[str, ...]] = {}
            for lang in LANGS:
                items = sits.get(lang) or []
                if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
                    raise ConfigError(f"{where}: situations.{lang} must be a list of sentences")
                situations[lang] = tuple(s.strip() for s in items if s.strip())
            topics.append(Topic(t["key"], {x: str(label.get(x) or "").strip() for x in LANGS},
                                situations))
        return cls(tuple(topics), hashlib.sha256(raw).hexdigest())

    def sentences(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Every label and situation, topic by topic (labels first), with its
        topic's index and whether it is a label."""
        texts: list[str] = []
        owner: list[int] = []
        is_label: list[bool] = []
        for i, t in enumerate(self.topics):
            items = [(t.label[x], True) for x in LANGS if t.label[x]] + \
                [(s, False) for x in LANGS for s in t.situations[x]]
            for text, label in items:
                texts.append(text)
                owner.append(i)
                is_label.append(label)
        return texts, np.asarray(owner, np.int64), np.asarray(is_label, bool)


class TopicVectors:
    """The thesaurus's sentences embedded: per topic, how close a vector is
    (its best label, or the mean of its ``top`` closest situations)."""

    def __init__(self, thesaurus: Thesaurus, vectors: np.ndarray) -> None:
        self.thesaurus = thesaurus
        self.texts, self.owner, self.is_label = thesaurus.sentences()
        self.vectors = np.ascontiguousarray(vectors, np.float32)
        # per topic, the columns of its labels and of its situations, padded
        # with a column of -1 cosines (index len(texts)) to one width
        pad = len(self.texts)
        n = len(thesaurus.topics)
        labels = [np.flatnonzero((self.owner == j) & self.is_label) for j in range(n)]
        sits = [np.flatnonzero((self.owner == j) & ~self.is_label) for j in range(n)]
        self._labels = _padded(labels, pad)
        self._situations = _padded(sits, pad)
        self._has_situations = np.array([len(x) > 0 for x in sits])
        self._memo: dict[tuple[int, bytes], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.thesaurus.topics)

    def affinity(self, x: np.ndarray, top: int) -> np.ndarray:
        """(rows of x) x (topics): the best of the topic's labels' cosines
        and the mean of its ``top`` best situations' cosines."""
        sims = np.atleast_2d(x).astype(np.float32) @ self.vectors.T
        sims = np.concatenate([sims, np.full((sims.shape[0], 1), -1.0, np.float32)], axis=1)
        out = sims[:, self._labels].max(axis=2)
        s = sims[:, self._situations]
        top = max(1, min(top, s.shape[2]))
        best = -np.partition(-s, top - 1, axis=2)[:, :, :top]
        return np.where(self._has_situations[None, :],
                        np.maximum(out, best.mean(axis=2)), out)

    def memo(self, key: tuple[int, bytes], make: Any) -> np.ndarray:
        """``make()`` kept under ``key`` (a workshop's id and vectors): the
        topics of a workshop are computed once per process and thesaurus."""
        v = self._memo.get(key)
        if v is None:
            v = self._memo[key] = make()
        return v

    def distribution(self, x: np.ndarray, top: int, temperature: float) -> np.ndarray:
        """Per row of x, a probability over the topics (softmax of the
        affinities at ``temperature``)."""
        return softmax(self.affinity(x, top), temperature)

    def closest_situation(self, x: np.ndarray, topic: int) -> str:
        """The topic's sentence closest to the vector x (for a reason shown)."""
        idx = np.flatnonzero(self.owner == topic)
        return self.texts[int(idx[int(np.argmax(self.vectors[idx] @ x))])]

    def describe(self, topic: int) -> dict[str, Any]:
        t = self.thesaurus.topics[topic]
        return {"key": t.key, "label": dict(t.label)}


def _padded(groups: list[np.ndarray], pad: int) -> np.ndarray:
    width = max((len(g) for g in groups), default=0) or 1
    out = np.full((len(groups), width), pad, np.int64)
    for j, g in enumerate(groups):
        out[j, :len(g)] = g
    return out


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature``."""
    s = np.atleast_2d(np.asarray(scores, np.float64)) / max(temperature, 1e-6)
    s = np.exp(s - s.max(axis=1, keepdims=True))
    return s / s.sum(axis=1, keepdims=True)


def thesaurus_path(setting: str, base_dir: str | Path) -> Path | None:
    """The thesaurus file ``related.topics`` names (None: no thesaurus)."""
    if setting in ("", "none"):
        return None
    if setting == "bundled":
        return BUNDLED
    p = Path(setting).expanduser()
    return p if p.is_absolute() else Path(base_dir) / p


def _save_array(path: str, vecs: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, vecs, allow_pickle=False)


def topic_vectors(thesaurus: Thesaurus, embedder: Any, model_digest: str,
                  cache_dir: Path, save: bool = True) -> TopicVectors:
    """The thesaurus's vectors by ``embedder``: read from ``cache_dir`` when
    they were made from the same file by the same model, else computed and
    (with ``save``) kept there (a cache: a failed write costs only the next
    start's time)."""
    from .store import atomic_write

    key = {"thesaurus": thesaurus.digest, "embedder": str(getattr(embedder, "id", "")),
           "files": model_digest, "dim": int(embedder.dim)}
    meta, data = cache_dir / CACHE_META, cache_dir / CACHE_FILE
    texts, _, _ = thesaurus.sentences()
    memo = json.dumps(key, sort_keys=True)
    vecs = _PROCESS_CACHE.get(memo)
    if vecs is not None:
        return TopicVectors(thesaurus, vecs)
    try:
        if json.loads(meta.read_text(encoding="utf-8")) == key:
            vecs = np.load(data, allow_pickle=False)
            if vecs.shape == (len(texts), embedder.dim):
                _PROCESS_CACHE[memo] = vecs
                return TopicVectors(thesaurus, vecs)
    except (OSError, ValueError):
        pass
    vecs = np.asarray(embedder.embed_passages(texts), np.float32)
    _PROCESS_CACHE[memo] = vecs
    if not save:
        return TopicVectors(thesaurus, vecs)
    try:
        atomic_write(data, lambda tmp: _save_array(tmp, vecs))
        atomic_write(meta, lambda tmp: Path(tmp).write_text(json.dumps(key), encoding="utf-8"))
    except OSError:
        pass
    return TopicVectors(thesaurus, vecs)
