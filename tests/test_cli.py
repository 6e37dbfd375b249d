"""The CLI end to end (click runner) on a temporary library."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import doclib.embed
from conftest import FakeEmbedder, by_hand, library_url
from doclib.cli import main


@pytest.fixture
def run(tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text("storage:\n  data_dir: data\n", encoding="utf-8")
    monkeypatch.setenv("DOCLIB_CONFIG", str(tmp_path / "config.yaml"))
    # unit tests use the fake embedder; integration tests use the real one
    monkeypatch.setattr(doclib.embed, "make_embedder", lambda cfg: FakeEmbedder())
    monkeypatch.setattr("doclib.library.make_embedder", lambda cfg: FakeEmbedder())
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


# doclib backup and restore are SQLite's (PostgreSQL: pg_dump; test_postgres checks the message)
BACKUP_IS_SQLITES = "doclib backup and restore are SQLite's"


def test_ingest_json_reports(run, fixtures_dir, tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_text("nope", encoding="utf-8")
    res = run("ingest", str(fixtures_dir / "en_summit.txt"), str(bad), "--json",
              "--access", "public")
    assert res.exit_code == 1  # one file failed
    lines = [json.loads(x) for x in res.output.strip().splitlines()]
    assert [x["status"] for x in lines] == ["ready", "failed"]
    keys = {"path", "document_id", "status", "pages", "chunks", "language", "ocr",
            "warnings", "error"}
    assert all(keys <= set(x) for x in lines)
    assert lines[0]["path"] == str(fixtures_dir / "en_summit.txt")
    again = run("ingest", str(fixtures_dir / "en_summit.txt"), "--json")
    assert json.loads(again.output)["status"] == "unchanged" and again.exit_code == 0


def test_search_json_and_roles(run, fixtures_dir):
    run("ingest", str(fixtures_dir / "en_summit.txt"), "--access", "members")
    visitor = json.loads(run("search", "Aarhus", "--json").output)
    assert visitor["ok"] and visitor["total"] == 0
    member = json.loads(run("search", "Aarhus", "--json", "--as", "member").output)
    assert member["total"] == 1
    r = member["results"][0]
    assert set(r["document"]) >= {"id", "title", "language", "type", "event", "workshop",
                                  "access"}
    assert set(r["passages"][0]) >= {"text", "page", "highlighted"}
    text = run("search", "Aarhus", "--as", "member").output
    assert "Strong Cities" in text


def test_check_reindex_and_errors(run, fixtures_dir, tmp_path):
    run("ingest", str(fixtures_dir / "en_summit.txt"))
    res = run("check")
    assert res.exit_code == 0 and "BAD" not in res.output
    assert "reindexed" in run("reindex").output
    res = run("ingest", str(fixtures_dir / "en_summit.txt"), "--event", "missing")
    assert res.exit_code == 1 and "no event 'missing'" in res.output
    res = run("search", "x", "--k", "0")
    assert res.exit_code == 2 and res.output.startswith("error: k must be")


def test_check_repairs_lexical_index(run, fixtures_dir, tmp_path):
    run("ingest", str(fixtures_dir / "en_summit.txt"))
    with by_hand(library_url(tmp_path / "data" / "library" / "doclib.db")) as db:
        db.execute(text("DELETE FROM chunk_terms"))
    assert run("check").exit_code == 1
    res = run("check", "--repair")
    assert res.exit_code == 0 and "rebuilt the lexical index" in res.output
    assert run("check").exit_code == 0


def test_check_quick_compares_sizes(run, fixtures_dir, tmp_path):
    run("ingest", str(fixtures_dir / "en_summit.txt"))
    files = [p for p in (tmp_path / "data" / "library" / "files").rglob("*") if p.is_file()]
    assert len(files) == 1
    original = files[0]
    data = bytearray(original.read_bytes())
    data[0] ^= 0x20  # same size, other content
    original.chmod(0o600)
    original.write_bytes(bytes(data))
    full = run("check")
    assert full.exit_code == 1 and "changed originals: [1]" in full.output
    quick = run("check", "--quick")
    assert quick.exit_code == 0 and "sizes compared, not hashes" in quick.output
    original.write_bytes(bytes(data[:-10]))  # shorter: both see it
    assert "changed originals: [1]" in run("check", "--quick").output


def test_events_and_workshops_commands(run):
    assert run("events", "add", "rabat-2026", "--title-ar", "قمة الرباط", "--city", "Rabat",
               "--start", "2026-03-01").exit_code == 0
    assert run("workshops", "add", "rabat-2026", "1", "--title-en", "Schools").exit_code == 0
    out = run("events", "list").output
    assert "rabat-2026" in out and "Schools" in out
    res = run("events", "add", "rabat-2026", "--title-en", "again")
    assert res.exit_code == 2 and "exists" in res.output


@pytest.mark.sqlite_only(BACKUP_IS_SQLITES)
def test_backup_and_restore(run, fixtures_dir, tmp_path):
    run("ingest", str(fixtures_dir / "en_summit.txt"), "--access", "public")
    before = json.loads(run("search", "Aarhus", "--json").output)
    assert run("backup", str(tmp_path / "bk")).exit_code == 0
    (tmp_path / "config2.yaml").write_text("storage:\n  data_dir: data2\n", encoding="utf-8")
    res = run("--config", str(tmp_path / "config2.yaml"), "restore", str(tmp_path / "bk"))
    assert res.exit_code == 0, res.output
    assert run("--config", str(tmp_path / "config2.yaml"), "check").exit_code == 0
    after = json.loads(run("--config", str(tmp_path / "config2.yaml"), "search", "Aarhus",
                           "--json").output)
    assert [r["document"]["id"] for r in after["results"]] == \
        [r["document"]["id"] for r in before["results"]]
    res = run("--config", str(tmp_path / "config2.yaml"), "restore", str(tmp_path / "bk"))
    assert res.exit_code == 2 and "--force" in res.output


@pytest.mark.sqlite_only(BACKUP_IS_SQLITES)
def test_restore_never_publishes_what_was_restricted_after_the_backup(run, fixtures_dir,
                                                                      tmp_path):
    """A backup holds a public report; a curator then makes it members-only;
    restoring the backup over the library keeps it members-only (and says
    so) unless --backup-access asks for the backup's levels."""
    from doclib import config as config_mod
    from doclib import curation, documents
    from doclib.auth import principal_for_role
    from doclib.library import Library

    run("ingest", str(fixtures_dir / "en_summit.txt"), "--access", "public")
    assert json.loads(run("search", "Aarhus", "--json").output)["total"] == 1
    assert run("backup", str(tmp_path / "bk")).exit_code == 0
    lib = Library(config_mod.load(tmp_path / "config.yaml"), embedder=FakeEmbedder())
    try:
        (doc,) = [r["id"] for r in documents.listing(lib, principal_for_role("admin"))["documents"]]
        curation.update(lib, principal_for_role("admin"), doc, {"access": "members"})
    finally:
        lib.close()
    assert json.loads(run("search", "Aarhus", "--json").output)["total"] == 0
    res = run("restore", str(tmp_path / "bk"), "--force")
    assert res.exit_code == 0, res.output
    assert "public in the backup, members in the replaced library: kept members" in res.output
    assert json.loads(run("search", "Aarhus", "--json").output)["total"] == 0
    assert json.loads(run("search", "Aarhus", "--json", "--as", "member").output)["total"] == 1
    assert run("check").exit_code == 0
    assert "restore kept the stricter access" in run("audit").output
    res = run("restore", str(tmp_path / "bk"), "--force", "--backup-access")
    assert res.exit_code == 0 and "now public" in res.output
    assert json.loads(run("search", "Aarhus", "--json").output)["total"] == 1


def test_config_command_lists_every_key(run):
    from doclib.config import iter_settings

    out = run("config").output
    for dotted, *_ in iter_settings():
        assert dotted.split(".")[1] + ":" in out


def _loose_modes(*roots) -> list[str]:
    """Files not 0600 and folders not 0700 under ``roots`` (the roots included)."""
    import os
    import stat

    bad = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            want = 0o700 if path.is_dir() else 0o600
            if mode != want:
                bad.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return bad


@pytest.mark.sqlite_only('the modes of the SQLite file, its WAL and a backup')
def test_data_folder_is_owner_only_whatever_the_umask(run, fixtures_dir, tmp_path):
    """Issue 10.6: the database (and its -wal/-shm), the FAISS files, the
    originals, the uploads folder and backups are owner-only (files 0600,
    folders 0700) under the usual umask 022; a database left readable by an
    older version is tightened when the library opens."""
    import io
    import os

    from doclib import accounts
    from doclib import config as config_mod
    from doclib.web import create_app

    cfg_path = tmp_path / "private.yaml"
    cfg_path.write_text("storage:\n  data_dir: data\nembed:\n  second_model: ''\n",
                        encoding="utf-8")
    cfg2 = tmp_path / "private2.yaml"
    cfg2.write_text("storage:\n  data_dir: data2\nembed:\n  second_model: ''\n",
                    encoding="utf-8")
    old = os.umask(0o022)
    try:
        assert run("--config", str(cfg_path), "ingest", str(fixtures_dir / "en_summit.txt"),
                   "--access", "public").exit_code == 0
        assert run("--config", str(cfg_path), "search", "Aarhus").exit_code == 0
        assert run("--config", str(cfg_path), "backup", str(tmp_path / "bk")).exit_code == 0
        assert run("--config", str(cfg2), "restore", str(tmp_path / "bk")).exit_code == 0
        assert run("--config", str(cfg2), "check").exit_code == 0
        # the web app open on the library (WAL files), an upload through the API
        app = create_app(config_mod.load(cfg_path), embedder=FakeEmbedder())
        lib = app.extensions["doclib"]
        with lib.db.begin() as conn:
            tok = accounts.create_token(conn, accounts.add_user(
                conn, "c@example.org", "curator-pass-1", "curator"))
        r = app.test_client().post(
            "/api/v1/documents", headers={"Authorization": f"Bearer {tok}"},
            data={"file": (io.BytesIO(b"A report on youth centres.\n"), "r.txt")},
            content_type="multipart/form-data")
        assert r.status_code == 202, r.get_json()
        app.extensions["doclib_jobs"].wait(r.get_json()["job"], timeout=60)
        app.extensions["doclib_jobs"].shutdown()
        data = tmp_path / "data"
        assert (data / "library" / "incoming").is_dir()
        assert len(list((data / "library" / "files").rglob("*.txt"))) == 2
        assert (data / "library" / "doclib.db-wal").exists()
        assert {p.name for p in (data / "index").iterdir()} >= {"vectors.faiss",
                                                                 "manifest.json"}
        assert list((tmp_path / "bk" / "files").rglob("*.txt"))
        assert _loose_modes(data, tmp_path / "bk", tmp_path / "data2") == []
        lib.close()
        # a database an older version left world-readable
        db = data / "library" / "doclib.db"
        db.chmod(0o644)
        assert run("--config", str(cfg_path), "check").exit_code == 0
        assert _loose_modes(data) == []
    finally:
        os.umask(old)


@pytest.mark.parametrize("args,field", [
    (["search", "x", "--year", str(10 ** 30)], "year"),
    (["search", "x", "--year", "²"], "year"),
    (["search", "x", "--workshop", str(2 ** 63)], "workshop"),
    (["search", "x", "--page", str(10 ** 30)], "page"),
    (["search", "x", "--k", "١"], "k"),
    (["ingest", "{summit}", "--date", "2025-02-30"], "date"),
    (["ingest", "{summit}", "--date", "2025-13"], "date"),
    (["ingest", "{summit}", "--title", "x" * 501], "title"),
    (["ingest", "{summit}", "--event", "amman", "--workshop", str(10 ** 30)], "workshop"),
    (["workshops", "add", "amman", str(10 ** 30)], "number"),
    (["events", "add", "rabat", "--title-en", "R", "--start", "2025-02-30"], "start"),
    (["events", "add", "rabat", "--title-en", "R", "--city", "c" * 201], "city"),
])
def test_bad_option_values_are_clear_errors(run, fixtures_dir, tmp_path, args, field):
    """Issue 10.10: out-of-range or impossible option values end with one
    line naming the option and a non-zero exit, no traceback, nothing stored."""
    args = [a.format(summit=fixtures_dir / "en_summit.txt") for a in args]
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert field in res.output and "Traceback" not in res.output
    listing = run("events", "list").output
    assert "rabat" not in listing
    assert json.loads(run("search", "Aarhus", "--json", "--as", "curator").output)["total"] == 0


def test_catalogue_with_impossible_dates(run, fixtures_dir, tmp_path):
    """An impossible date in a catalogue (unquoted, as YAML reads dates)
    fails that file (or, in an event, the command) with the field named."""
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "summit.txt").write_bytes((fixtures_dir / "en_summit.txt").read_bytes())
    (folder / "catalogue.yaml").write_text(
        "documents:\n  - file: summit.txt\n    date: 2025-02-30\n", encoding="utf-8")
    res = run("ingest", str(folder), "--json")
    assert res.exit_code == 1
    report = json.loads(res.output)
    assert report["status"] == "failed" and "date" in report["error"]
    (folder / "catalogue.yaml").write_text(
        "events:\n  - slug: rabat\n    title: Rabat\n    start: 2025-13-01\n",
        encoding="utf-8")
    res = run("ingest", str(folder))
    assert res.exit_code == 2 and "start" in res.output
    assert "rabat" not in run("events", "list").output
    res = run("events", "import", str(folder / "catalogue.yaml"))
    assert res.exit_code == 2 and "start" in res.output


def test_search_says_when_nothing_is_close(run, fixtures_dir):
    run("ingest", str(fixtures_dir / "en_summit.txt"), "--access", "public")
    # "zucchini" is in no document and the fake embedder's cosines are low
    text = run("search", "zucchini").output
    assert text.startswith("0 documents") and "no close match; nearest documents:" in text
    assert "Strong Cities" in text
    res = json.loads(run("search", "zucchini", "--json").output)
    assert res["close_match"] is False and res["results"] == [] and len(res["nearest"]) == 1
