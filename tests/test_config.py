import re
from pathlib import Path

import pytest

from doclib import config as config_mod
from doclib.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCLIB_CONFIG", raising=False)
    monkeypatch.delenv("DOCLIB_DATABASE_URL", raising=False)
    cfg = config_mod.load()
    assert cfg.embed.backend == "use"
    assert cfg.library_dir == tmp_path.resolve() / "library"
    assert cfg.database_url == "sqlite:///" + str(tmp_path.resolve() / "library" / "doclib.db")


def test_doclib_config_env_and_relative_paths(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "config.yaml").write_text("storage:\n  data_dir: data\n", encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(folder / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    cfg = config_mod.load()
    assert cfg.data_dir == folder / "data"
    assert cfg.index_dir == folder / "data" / "index"


def test_only_a_data_folder_is_enough(tmp_path):
    cfg = config_mod.from_dict({"storage": {"data_dir": "/srv/doclib"}}, tmp_path)
    assert str(cfg.index_dir) == "/srv/doclib/index"


@pytest.mark.parametrize("doc,message", [
    ({"storage": {"data_dri": "."}}, "storage.data_dri"),
    ({"embedding": {}}, "unknown config section 'embedding'"),
    ({"chunk": {"max_words": "many"}}, "chunk.max_words"),
    ({"chunk": {"max_words": True}}, "chunk.max_words"),
    ({"embed": {"backend": "openai"}}, "embed.backend"),
])
def test_unknown_or_ill_typed_key_is_named(doc, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_mod.from_dict(doc)


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config_mod.load(tmp_path / "nope.yaml")


def test_invalid_yaml_is_an_error(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("storage: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config_mod.load(p)


def test_every_key_has_help_and_is_documented_in_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for dotted, _default, help_text, _choices in config_mod.iter_settings():
        assert help_text.strip(), dotted
        assert f"`{dotted}`" in readme, f"README does not document {dotted}"


def test_repo_config_is_valid():
    cfg = config_mod.load(REPO / "config.yaml")
    assert cfg.data_dir == REPO
