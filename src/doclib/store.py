"""Storage: the database (SQLAlchemy 2 Core; SQLite in WAL mode by default,
any URL SQLAlchemy knows later) and the file store of originals under library/.

The schema is owned by the Alembic migrations in ``doclib/migrations``; the
tables below mirror them for queries (a test checks they agree).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    cast,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Connection

from .errors import ConfigError, DoclibError

metadata = MetaData()
_STORED_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{2,4}")

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("active", Integer, nullable=False, server_default="1"),
    Column("session_version", Integer, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("name", String(100), nullable=False, server_default=""),
    Column("expires_at", String(40), nullable=True),  # NULL: never
    Column("revoked_at", String(40), nullable=True),  # set once, never cleared
    Column("last_used_at", String(40), nullable=True),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("title_en", Text, nullable=False, server_default=""),
    Column("title_ar", Text, nullable=False, server_default=""),
    Column("city", String(200), nullable=False, server_default=""),
    Column("start_date", String(10), nullable=True),
    Column("end_date", String(10), nullable=True),
    Column("description_en", Text, nullable=False, server_default=""),
    Column("description_ar", Text, nullable=False, server_default=""),
)

workshops = Table(
    "workshops", metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("title_en", Text, nullable=False, server_default=""),
    Column("title_ar", Text, nullable=False, server_default=""),
    Column("description_en", Text, nullable=False, server_default=""),
    Column("description_ar", Text, nullable=False, server_default=""),
    Column("embedding", LargeBinary, nullable=True),
    UniqueConstraint("event_id", "number", name="uq_workshop_number"),
)

documents = Table(
    "documents", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("original_filename", Text, nullable=False),
    Column("stored_name", String(200), nullable=True),
    Column("size", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("doc_type", String(20), nullable=False, server_default="other"),
    Column("language", String(8), nullable=False, server_default="und"),
    Column("languages", String(40), nullable=False, server_default=""),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="SET NULL"), nullable=True),
    Column("workshop_id", Integer, ForeignKey("workshops.id", ondelete="SET NULL"),
           nullable=True),
    Column("date", String(10), nullable=True),
    Column("year", Integer, nullable=True),
    Column("access", Integer, nullable=False, server_default="1"),  # members (0012)
    Column("status", String(20), nullable=False),
    Column("error", Text, nullable=True),
    Column("pages", Integer, nullable=False, server_default="0"),
    Column("ocr_pages", Integer, nullable=False, server_default="0"),
    Column("warnings", Text, nullable=False, server_default="[]"),
    Column("uploader_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("source_path", Text, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    # PPTX speaker notes: 'include', 'exclude', NULL = extract.speaker_notes decides
    Column("speaker_notes", String(10), nullable=True),
    # the pages' structure for reading (JSON, doclib.extract.blocks); NULL
    # for documents extracted before it was kept
    Column("structure", Text, nullable=True),
    # in the trash (status 'deleted') since, and by whom (trash.py)
    Column("deleted_at", String(40), nullable=True),
    Column("deleted_by", Integer, nullable=True),
    Index("ix_documents_access_status", "access", "status"),
)

# the originals a replacement made previous (versions.py)
document_versions = Table(
    "document_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("stored_name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("original_filename", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    # when this file became the document's, and who gave it
    Column("added_at", String(40), nullable=False),
    Column("added_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # when another file (a replacement, a restored version) took its place
    Column("replaced_at", String(40), nullable=False),
    Column("replaced_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    sqlite_autoincrement=True,  # a restored (deleted) version's id is never given again
)

chunks = Table(
    "chunks", metadata,
    Column("id", Integer, primary_key=True),
    Column("document_id", Integer, ForeignKey("documents.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("ordinal", Integer, nullable=False),
    Column("page_start", Integer, nullable=False),
    Column("page_end", Integer, nullable=False),
    Column("language", String(8), nullable=False),
    Column("source", String(8), nullable=False, server_default="text"),
    Column("text", Text, nullable=False),
    Column("norm_text", Text, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    # the second model's vector (embed.second_model), for chunks in its
    # languages, and that model's id (a vector of another model counts as missing)
    Column("embedding2", LargeBinary, nullable=True),
    Column("embedding2_model", String(200), nullable=True),
    Index("ix_chunks_source", "source"),
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id", ondelete="SET NULL"),
           nullable=True),
    Column("status", String(20), nullable=False),
    Column("report", Text, nullable=False, server_default="{}"),
    Column("user_id", Integer, nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    # what the job needs to run again (JSON) and the process running it
    Column("payload", Text, nullable=True),
    Column("owner", String(200), nullable=True),
    Column("started_at", String(40), nullable=True),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the random session id
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_at", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(400), nullable=False, index=True),  # "account:<email>" / "client:<ip>"
    Column("at", Integer, nullable=False),  # unix time
)

meta = Table(
    "meta", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(40), nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    # the document concerned (its id only: no title outlives a deletion)
    Column("document_id", Integer, nullable=True, index=True),
    Column("via", String(10), nullable=False, server_default=""),  # web, api, cli
    Index("ix_audit_at", "at"),
    Index("ix_audit_action", "action"),
    Index("ix_audit_user_id", "user_id"),
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for a database URL doclib accepts: SQLite
    (``sqlite:///path``) or PostgreSQL (``postgresql://user@host/db``, any
    driver named the psycopg 3 doclib ships with)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"storage.database_url {_shown(url)!r} is not a URL "
                          "(sqlite:///path or postgresql://user@host/database)")
    name = scheme.split("+", 1)[0]
    if name == "sqlite":
        return url
    if name in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    raise ConfigError(f"storage.database_url: doclib works with SQLite or PostgreSQL, "
                      f"not {name!r}")


def _shown(url: str) -> str:
    """A database URL without its password (for messages)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class Database:
    """Engine plus migrations.  SQLite gets WAL, foreign keys and a busy
    timeout; PostgreSQL (psycopg 3) a connection checked before use."""

    def __init__(self, url: str) -> None:
        url = engine_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite and ":memory:" not in url:
            path = Path(url.split("sqlite:///", 1)[1])
            private_dir(path.parent)
            # SQLite gives the -wal and -shm files the database file's mode
            private_file(path)
            for suffix in ("-wal", "-shm"):
                tighten(Path(f"{path}{suffix}"))
        self.engine: Engine = create_engine(url, **({} if self.is_sqlite else {
            "pool_pre_ping": True}))
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (never drops data)."""
        from alembic import command

        with self._migrating() as conn:
            command.upgrade(_alembic_config(conn), "head")

    def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision`` (tests of upgrades)."""
        from alembic import command

        with self._migrating() as conn:
            command.downgrade(_alembic_config(conn), revision)

    @contextmanager
    def _migrating(self) -> Iterator[Connection]:
        """One transaction for the migrations.  On SQLite, foreign keys are
        off inside it: a migration that rebuilds a table (a batch copy)
        drops the old one, which with the keys on would cascade to the rows
        referring to it.  The pragma only takes effect outside a
        transaction; the keys are checked before the commit."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    yield conn
                    if self.is_sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise DoclibError(
                                f"migration left {len(broken)} rows whose references "
                                f"are broken (first: {tuple(broken[0])}); nothing was changed")
            finally:
                if self.is_sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config(None)).get_current_head() or ""

    def dispose(self) -> None:
        self.engine.dispose()


BUSY_TIMEOUT_MS = 30000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk when it returns (in WAL mode NORMAL may lose
    # the last commits in a power cut): an upload acknowledged to a curator,
    # an edit, a deletion survive one.  It costs about 0.4 to 5 ms a commit
    # here (measured), and doclib commits rarely (uploads, edits, logins).
    cur.execute("PRAGMA synchronous=FULL")
    # deleted rows are overwritten with zeros (freed pages too): a deleted
    # document's text must not stay readable in the file (see erase.py)
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def hold_new_ids(conn: Connection, table: Table) -> None:
    """Before an INSERT that uses ``new_id``: on PostgreSQL, a lock held to
    the end of the transaction, so two transactions (other processes, other
    machines) cannot compute the same id; SQLite's one writer does it."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_ID_LOCKS[table.name])))


# the advisory lock keys of hold_new_ids (any fixed numbers of doclib's)
_ID_LOCKS = {"documents": 0x646F636C69620001, "chunks": 0x646F636C69620002}


def new_id(table: Table) -> Any:
    """SQL for the id of a new row of ``documents`` or ``chunks``: above the
    largest id present and the largest ever deleted (``meta``'s high-water
    mark, kept by the triggers of migration 0008), so an id is never given
    twice.  One statement: the INSERT that uses it holds the write lock."""
    mark = func.coalesce(select(cast(meta.c.value, Integer)).where(
        meta.c.key == f"{table.name}_high_water").scalar_subquery(), 0)
    top = func.coalesce(select(func.max(table.c.id)).scalar_subquery(), 0)
    # the larger of the two (SQLite's max(a, b) is PostgreSQL's greatest)
    return select(case((top > mark, top), else_=mark) + 1).scalar_subquery()


def inserted_id(result: Any) -> int:
    """The primary key of the row an INSERT (``conn.execute``'s result) added."""
    key = result.inserted_primary_key
    if key is None:
        raise DoclibError("the INSERT added no row")
    return int(key[0])


def _alembic_config(conn: Connection | None) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` through ``write(temp_path)`` in the same folder, fsync
    the file and the folder, then rename: a crash leaves the old file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fchmod(f.fileno(), FILE_MODE)  # whatever the writer did
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class FileStore:
    """Originals under ``<library_dir>/files/`` by generated name; the original
    filename is metadata only (it never becomes a path)."""

    def __init__(self, library_dir: Path) -> None:
        self.root = Path(library_dir) / "files"

    def path(self, stored_name: str) -> Path:
        if not _STORED_NAME.fullmatch(stored_name or ""):
            raise DoclibError("invalid stored name")
        return self.root / stored_name

    def save(self, src: str | Path, kind: str) -> str:
        """Copy src in atomically (temp file, fsync, rename); return the stored name."""
        name = f"{uuid.uuid4().hex}.{kind}"
        sub = name[:2]
        target_dir = private_dir(self.root / sub)
        atomic_write(target_dir / name, lambda tmp: shutil.copyfile(src, tmp))
        return f"{sub}/{name}"

    def delete(self, stored_name: str | None) -> None:
        if not stored_name:
            return
        try:
            os.unlink(self.root / stored_name)
        except FileNotFoundError:
            pass


def ensure_writable_dir(path: Path, what: str) -> None:
    try:
        private_dir(path)
    except OSError as e:
        raise ConfigError(f"{what} folder {path} cannot be created ({e.strerror})") from None


# Everything doclib keeps (the database and its -wal/-shm, the index, the
# originals, uploads waiting, backups) is its owner's alone, whatever the
# umask: modes are set, not left to it.
FILE_MODE, DIR_MODE = 0o600, 0o700


def private_dir(path: Path) -> Path:
    """``path`` as an owner-only folder (0700): created with any missing
    parents (each 0700), or tightened if it exists."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            pass
    for d in [path, *missing[1:]]:
        tighten(d)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty if it is missing; either way owner-only (0600)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Make an existing file 0600 or folder 0700 (nothing if it is missing,
    or not ours to change)."""
    try:
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
    except FileNotFoundError:
        pass
    except PermissionError:  # another owner's folder we may write in: theirs to set
        pass
