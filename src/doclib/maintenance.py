"""Upkeep: consistency checks and repair, online backup and restore."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from . import audience, audit, erase, ingest, jobs, store, trash
from .config import Config
from .errors import BadRequest, Conflict, DoclibError
from .index import lexical
from .index.vector import INDEX_FILE, MANIFEST_FILE, fingerprint
from .library import Library


@dataclass
class _Report:
    """What ``check`` finds, each check {name, ok, detail}, and (with
    ``repair``) the fixes made."""
    repair: bool
    checks: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def record(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append({"name": name, "ok": ok, "detail": detail})


# the checks a repair fixes: with --repair they do not make the check fail
_REPAIRABLE = ("lexical index", "stuck ingestions", "vector index", "second model",
               "interrupted uploads", "speaker notes", "deleted documents", "stray files",
               "trash")


def check(lib: Library, repair: bool = False, quick: bool = False) -> dict[str, Any]:
    """Every consistency check, each {name, ok, detail}; with ``repair``,
    the fixes made.  ``quick`` compares the originals' sizes instead of
    their SHA-256 (reads no file)."""
    out = _Report(repair)
    cur, head = lib.db.current_revision(), lib.db.head_revision()
    out.record("schema", cur == head, f"revision {cur} (newest {head})")
    _interrupted_uploads(lib, out)
    d, c = store.documents, store.chunks
    with lib.db.connect() as conn:
        docs = conn.execute(select(d.c.id, d.c.stored_name, d.c.sha256, d.c.size,
                                   d.c.status)).all()
        n_chunks = conn.execute(select(func.count(c.c.id))).scalar_one()
        n_terms = lexical.count(conn)
        # each audience's table holds exactly the chunks it may see
        level_gaps = {table: (lexical.count(conn, table), audience.expected_count(conn, table))
                      for table in audience.PARTIAL_TABLES}
        orphan_terms = conn.execute(text(
            f"SELECT count(*) FROM {lexical.ALL} WHERE rowid NOT IN (SELECT id FROM chunks)"))\
            .scalar_one()
    _originals(lib, out, docs, quick)
    _stray_files(lib, out)
    lex_ok = n_terms == n_chunks and orphan_terms == 0 and all(
        have == want for have, want in level_gaps.values())
    out.record("lexical index", lex_ok, f"{n_terms} entries for {n_chunks} chunks; "
               + "; ".join(f"{table}: {have} of {want}"
                           for table, (have, want) in level_gaps.items()))
    if not lex_ok and repair:
        lib.index.rebuild_lexical()
        out.repaired.append("rebuilt the lexical index from the chunks")
    _stuck(lib, out, [r.id for r in docs if r.status in ("processing", "queued")])
    _speaker_notes(lib, out)
    _vectors(lib, out)
    _trash(lib, out)
    # last: a repair above may have deleted rows, and VACUUM rewrites the file
    _deleted_documents(lib, out)
    ok = all(x["ok"] for x in out.checks) or (repair and all(
        x["ok"] or x["name"] in _REPAIRABLE for x in out.checks))
    return {"ok": ok, "checks": out.checks, "repaired": out.repaired}


def _interrupted_uploads(lib: Library, out: _Report) -> None:
    left = jobs.interrupted(lib)
    out.record("interrupted uploads", not left,
               f"upload jobs with no live process: {left or 'none'}")
    if left and out.repair:
        resumed = [job_id for job_id in left if jobs.claim(lib, job_id)]
        for job_id in resumed:
            jobs.run(lib, job_id)
        out.repaired.append(f"resumed {len(resumed)} interrupted upload jobs")


def _originals(lib: Library, out: _Report, docs: Sequence[Any], quick: bool) -> None:
    missing, corrupt = [], []
    for r in docs:
        if not r.stored_name:
            continue
        p = lib.files.path(r.stored_name)
        if not p.exists():
            missing.append(r.id)
        elif (p.stat().st_size != r.size) if quick else (store.sha256_file(p) != r.sha256):
            corrupt.append(r.id)
    out.record("files", not missing and not corrupt,
               f"{len(docs)} documents; missing originals: {missing or 'none'}; "
               f"changed originals: {corrupt or 'none'}"
               + (" (sizes compared, not hashes)" if quick else ""))


def _stray_files(lib: Library, out: _Report) -> None:
    strays = stray_files(lib, remove=out.repair)
    if strays is None:
        out.record("stray files", True, "originals not looked at: an ingestion is storing "
                   "one (run the check again when it has finished)")
        return
    originals, unfinished = strays
    out.record("stray files", not originals and not unfinished,
               f"originals no document names: {len(originals)}; files of writes cut short "
               f"(temp files of a copy or an index save): {len(unfinished)}")
    if (originals or unfinished) and out.repair:
        out.repaired.append(f"removed {len(originals)} originals no document names and "
                            f"{len(unfinished)} files of writes cut short")


def _stuck(lib: Library, out: _Report, stuck: list[int]) -> None:
    out.record("stuck ingestions", not stuck, f"documents still processing: {stuck or 'none'}")
    if stuck and out.repair:
        d = store.documents
        with lib.db.begin() as conn:
            conn.execute(d.update().where(d.c.id.in_(stuck)).values(
                status="failed", error="ingestion was interrupted; upload again",
                updated_at=store.now()))
        out.repaired.append(f"marked {len(stuck)} interrupted ingestions failed")


def _speaker_notes(lib: Library, out: _Report) -> None:
    pending = ingest.notes_pending(lib)
    out.record("speaker notes", not pending,
               f"presentations whose passages still hold their speaker notes (ingested "
               f"before notes were kept apart; --repair extracts them again): "
               f"{pending or 'none'}")
    if pending and out.repair:
        done = ingest.redo_pending_notes(lib)
        out.repaired.append(f"extracted {done['documents'] - done['failed']} presentations "
                            "again, speaker notes apart"
                            + (f" ({done['failed']} could not be read)"
                               if done["failed"] else ""))


def _vectors(lib: Library, out: _Report) -> None:
    """The embedder, the vector index and the second model's vectors."""
    try:
        lib.index.check_embedder()
        digest = lib.index.embedder_digest
        out.record("embedder", True, lib.embedder.id
                   + (f" (model files {digest[:12]})" if digest else ""))
        lib.index.open()  # loads, or rebuilds and saves when it does not match the database
        vi = lib.vectors
        ok = fingerprint(vi.ids()) == lib.index.db_fingerprint()
        out.record("vector index", ok, f"{len(vi)} vectors")
        if not ok and out.repair:
            lib.index.rebuild()
            out.repaired.append("rebuilt the vector index from stored embeddings")
    except DoclibError as e:
        out.record("embedder", False, e.message)
    if lib.second_id:
        langs = ", ".join(lib.config.embed.second_language_list)
        lacking = len(lib.lacking_second_vectors())
        out.record("second model", lacking == 0,
                   f"{lacking} chunks in {langs} without a vector of {lib.second_id} "
                   "(searches skip its re-scoring until they have one)")
        if lacking and out.repair:
            try:
                n = lib.ensure_second_vectors()
                out.repaired.append(f"embedded {n} chunks with the second model")
            except DoclibError as e:
                out.record("second model", False, e.message)


def _trash(lib: Library, out: _Report) -> None:
    old = trash.expired(lib)
    out.record("trash", not old, f"documents in the trash for longer than "
               f"{lib.config.storage.trash_days} days (storage.trash_days; --repair deletes "
               f"them for good): {old or 'none'}")
    if old and out.repair:
        out.repaired.append(f"deleted for good {trash.purge_expired(lib, via='cli')} "
                            "documents past the trash's retention")


def _deleted_documents(lib: Library, out: _Report) -> None:
    reason = erase.pending(lib)
    out.record("deleted documents", not reason,
               f"traces of deleted documents may remain ({reason}); `doclib compact` (or "
               "--repair) removes them" if reason else "no traces left of deleted documents")
    if reason and out.repair:
        done = erase.compact(lib)
        out.repaired.append(f"compacted the database ({done['jobs_redacted']} job reports "
                            f"redacted, {done['bytes_before']} -> {done['bytes']} bytes)")
        if not done["wal_emptied"]:
            out.record("compaction", False, f"not finished: {erase.pending(lib)}")


# the temp files of store.atomic_write ('.' + the file's name + '.' + random)
_ORIGINAL = re.compile(r"[0-9a-f]{32}\.[a-z]{2,4}")
_ORIGINAL_TEMP = re.compile(r"\.[0-9a-f]{32}\.[a-z]{2,4}\.[a-z0-9_]+")
_INDEX_TEMPS = tuple(f".{name}." for name in (INDEX_FILE, MANIFEST_FILE))


def stray_files(lib: Library, remove: bool = False) -> tuple[list[Path], list[Path]] | None:
    """Files doclib wrote that nothing names, removed with ``remove``:
    (originals no document names, temp files of writes cut short).  A
    process killed between copying an original in and committing the row
    that names it (or between a deletion's commit and the file's removal)
    leaves the first; one killed inside a copy or an index save leaves the
    second (a whole copy of an original or of the index, each).

    The index's temp files are looked at under the write lock (every save
    holds it, so a temp file then is a dead process's); the originals
    while no ingestion is storing one (``Library.storing_stopped``): None,
    and nothing looked at, if one is."""
    unfinished: list[Path] = []
    with lib.index.write_lock():
        index_dir = Path(lib.config.index_dir)
        for p in sorted(index_dir.iterdir()) if index_dir.is_dir() else []:
            if p.name.startswith(_INDEX_TEMPS) and p.is_file():
                unfinished.append(p)
                if remove:
                    p.unlink(missing_ok=True)
    with lib.storing_stopped() as free:
        if not free:
            return None
        with lib.db.connect() as conn:
            named = {r[0] for r in conn.execute(select(store.documents.c.stored_name))
                     if r[0]}
            # previous versions' originals (versions.py) are named too
            named |= {r[0] for r in conn.execute(
                select(store.document_versions.c.stored_name))}
        originals: list[Path] = []
        root = lib.files.root
        for sub in sorted(root.iterdir()) if root.is_dir() else []:
            if not (sub.is_dir() and re.fullmatch(r"[0-9a-f]{2}", sub.name)):
                continue
            for p in sorted(sub.iterdir()):
                if not p.is_file():
                    continue
                if _ORIGINAL_TEMP.fullmatch(p.name):
                    unfinished.append(p)
                elif _ORIGINAL.fullmatch(p.name) and f"{sub.name}/{p.name}" not in named:
                    originals.append(p)
                else:
                    continue
                if remove:
                    p.unlink(missing_ok=True)
    return originals, unfinished


PG_BACKUP = ("doclib backup and restore work on SQLite libraries; with PostgreSQL, back up "
             "the database with pg_dump (or the server's own backups) and the library "
             "folder's files/ beside it, and restore both (README, \"PostgreSQL\")")


def backup(lib: Library, dest: str | Path) -> dict[str, int]:
    """SQLite online backup (consistent while uploads continue) plus the originals."""
    if not lib.db.is_sqlite:
        raise BadRequest(PG_BACKUP)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} exists and is not empty")
    store.private_dir(dest)  # a backup is as private as the library
    db_path = lib.config.database_url.split("sqlite:///", 1)[1]
    store.private_file(dest / "doclib.db")
    src = sqlite3.connect(db_path)
    out = sqlite3.connect(dest / "doclib.db")
    try:
        with out:
            src.backup(out)
    finally:
        out.close()
        src.close()
    # copy exactly the originals the backed-up database refers to
    snap = sqlite3.connect(dest / "doclib.db")
    try:
        names = [r[0] for r in snap.execute(
            "SELECT stored_name FROM documents WHERE stored_name IS NOT NULL")]
        # and the previous versions' (a backup from before them has no such table)
        if snap.execute("SELECT 1 FROM sqlite_master WHERE name = 'document_versions'").fetchone():
            names += [r[0] for r in snap.execute("SELECT stored_name FROM document_versions")]
    finally:
        snap.close()
    copied = 0
    for name in names:
        p = lib.files.path(name)
        if p.exists():
            _copy_private(p, dest / "files" / name)
            copied += 1
    return {"documents": len(names), "files": copied}


def _copy_private(src: Path, target: Path) -> None:
    """Copy a file owner-only (0600, folders 0700), whatever the source's mode."""
    store.private_dir(target.parent)
    shutil.copy2(src, target)
    store.tighten(target)


def _levels_now(db_path: Path) -> dict[str, int]:
    """The access level of each document (by content hash) of the library
    about to be replaced; empty when there is none."""
    if not db_path.exists():
        return {}
    conn = sqlite3.connect(db_path)
    try:
        return {sha: int(level) for sha, level in
                conn.execute("SELECT sha256, access FROM documents")}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _keep_restrictions(config: Config, now: dict[str, int], backup_access: bool
                       ) -> list[dict[str, Any]]:
    """Documents of the restored library that the replaced one held with a
    stricter access level (restricted after the backup was made).  The
    restriction wins: their level goes back to the stricter one, their
    passages move between the audiences' lexical tables, and the audit log
    says so; with ``backup_access`` the backup's levels stay (listed all
    the same)."""
    if not now:
        return []
    db = store.Database(config.database_url)
    try:
        db.migrate()
        d = store.documents
        moved = []
        with db.begin() as conn:
            for doc_id, sha, title, level in conn.execute(
                    select(d.c.id, d.c.sha256, d.c.title, d.c.access)).all():
                stricter = now.get(sha)
                if stricter is None or not audience.widens(stricter, level):
                    continue
                moved.append({"id": int(doc_id), "title": title,
                              "backup": audience.Access(int(level)).name,
                              "now": audience.Access(stricter).name})
                if not backup_access:
                    audience.update_row(conn, doc_id, {"access": stricter})
                    audit.record(conn, None, "document.access", str(doc_id),
                                 "restore kept the stricter access the library had",
                                 document_id=int(doc_id), via="cli")
        return moved
    finally:
        db.dispose()


def restore(config: Config, src: str | Path, force: bool = False,
            backup_access: bool = False) -> dict[str, Any]:
    """Replace the configured library with a backup.  A document that the
    replaced library held with a stricter access (restricted after the
    backup) keeps the stricter level unless ``backup_access``: a restore
    never publishes what a curator had restricted."""
    src = Path(src)
    if not (src / "doclib.db").exists():
        raise BadRequest(f"{src} is not a doclib backup (no doclib.db)")
    if not config.database_url.startswith("sqlite:///"):
        raise BadRequest(PG_BACKUP)
    db_path = Path(config.database_url.split("sqlite:///", 1)[1])
    if db_path.exists() and not force:
        conn = sqlite3.connect(db_path)
        try:
            n = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        except sqlite3.Error:
            n = 0
        finally:
            conn.close()
        if n:
            raise Conflict(f"the library already holds {n} documents; use --force to replace it")
    now = _levels_now(db_path)
    store.private_dir(db_path.parent)
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    store.private_file(db_path)
    b = sqlite3.connect(src / "doclib.db")
    t = sqlite3.connect(db_path)
    try:
        with t:
            b.backup(t)
        n = t.execute("SELECT count(*) FROM documents").fetchone()[0]
    finally:
        t.close()
        b.close()
    files_src = src / "files"
    for original in sorted(files_src.rglob("*")) if files_src.exists() else []:
        if original.is_file():
            _copy_private(original,
                          config.library_dir / "files" / original.relative_to(files_src))
    # the vector index is rebuilt from the restored database on first use
    for f in ("vectors.faiss", "manifest.json"):
        (config.index_dir / f).unlink(missing_ok=True)
    return {"documents": int(n), "access": _keep_restrictions(config, now, backup_access)}
