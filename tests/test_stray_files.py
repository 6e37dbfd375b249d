"""Files nothing names (issue 10.15, found by tests/test_fault_loop.py): a
process killed between copying an original in and committing the row that
names it leaves an original no document names (a whole copy of a file,
perhaps one a curator meant to delete); one killed inside a copy or an index
save leaves its temp file (a copy of an original, or of the whole index).
`doclib check` reports them and `--repair` removes them, but never an
original that a live ingestion has copied in and not named yet."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import select

from doclib import store
from doclib.ingest import ingest_file
from doclib.maintenance import check, stray_files


def test_check_reports_stray_files_and_repair_removes_them(tmp_path, cli_fake,
                                                           fixtures_dir):
    run = cli_fake
    assert run("ingest", str(fixtures_dir / "en_summit.txt")).exit_code == 0
    files = tmp_path / "data" / "library" / "files"
    index = tmp_path / "data" / "index"
    (kept,) = [p for p in files.rglob("*") if p.is_file()]
    stray = files / "ab" / ("ab" + "0" * 30 + ".txt")  # a copy whose row never committed
    half = files / "cd" / (".cd" + "1" * 30 + ".pdf.k2x_9qaz")  # a copy cut short
    stray.parent.mkdir(exist_ok=True)  # the kept original may share the folder
    half.parent.mkdir(exist_ok=True)
    shutil.copy(fixtures_dir / "ar_summit.txt", stray)
    half.write_bytes(b"%PDF-1.7 half")
    index_temps = [index / ".vectors.faiss.a1b2c3d4", index / ".manifest.json.zz9_x0yq"]
    for p in index_temps:
        p.write_bytes(b"cut short")
    other = files / "README"  # not a name doclib gives: left alone
    other.write_text("x", encoding="utf-8")

    res = run("check", "--json")
    assert res.exit_code == 1
    stray_check = next(c for c in json.loads(res.output)["checks"]
                       if c["name"] == "stray files")
    assert not stray_check["ok"]
    assert stray_check["detail"] == ("originals no document names: 1; files of writes cut "
                                     "short (temp files of a copy or an index save): 3")
    assert stray.exists() and half.exists()  # a check alone removes nothing

    res = run("check", "--repair")
    assert res.exit_code == 0, res.output
    assert "repaired: removed 1 originals no document names and 3 files of writes cut " \
           "short" in res.output
    assert not stray.exists() and not half.exists()
    assert not any(p.exists() for p in index_temps)
    assert kept.exists() and other.exists()
    res = run("check")
    assert res.exit_code == 0 and "BAD" not in res.output


def test_an_original_being_ingested_is_never_taken_for_a_stray(lib, fixtures_dir, tmp_path):
    """A new version of a ready document stays unnamed until it is ready:
    a check --repair meanwhile (another process, or here a step of the
    ingestion itself) leaves it alone and says so."""
    source = tmp_path / "summit.txt"
    shutil.copy(fixtures_dir / "en_summit.txt", source)
    first = ingest_file(lib, source, source_path=str(source))
    assert first.status == "ready"
    source.write_text(source.read_text(encoding="utf-8") + "\nA new closing paragraph.\n",
                      encoding="utf-8")
    seen = []

    def meanwhile() -> None:
        if seen:
            return
        on_disk = sorted(p for p in lib.files.root.rglob("*") if p.is_file())
        assert len(on_disk) == 2  # the published version and the new one, unnamed yet
        seen.append(stray_files(lib, remove=True))
        seen.append(next(c for c in check(lib, repair=True)["checks"]
                         if c["name"] == "stray files"))
        assert sorted(p for p in lib.files.root.rglob("*") if p.is_file()) == on_disk

    second = ingest_file(lib, source, source_path=str(source), stop=meanwhile)
    assert second.status == "ready" and second.document_id == first.document_id
    assert seen[0] is None
    assert seen[1]["ok"] and seen[1]["detail"].startswith("originals not looked at: an "
                                                          "ingestion is storing one")
    with lib.db.connect() as conn:
        (name,) = conn.execute(select(store.documents.c.stored_name)).scalars().all()
        (kept,) = conn.execute(select(store.document_versions.c.stored_name)).scalars().all()
    # the new version and the one it replaced, kept as a previous version
    assert sorted(p for p in lib.files.root.rglob("*") if p.is_file()) == sorted(
        [lib.files.path(name), lib.files.path(kept)])
    assert stray_files(lib) == ([], [])
