"""The command line (click).  Thin: parse, call the core, print; domain errors
become one readable line and exit code 2.  Every change it makes writes its
audit row (``via`` cli, no account) in the change's transaction."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from . import config as config_mod
from . import validate
from .errors import DoclibError
from .models import DOC_TYPES, ROLES

ROLE_CHOICES = [r for r in ROLES if r != "visitor"]


class Whole(click.ParamType):
    """A whole number from ``lo`` to ``hi`` in ASCII digits, by the rules
    the web uses (``validate.integer``); a bad one is a domain error."""

    name = "integer"

    def __init__(self, field: str, lo: int, hi: int) -> None:
        self.field, self.lo, self.hi = field, lo, hi

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        return validate.integer(value if isinstance(value, int) else str(value),
                                self.field, self.lo, self.hi)


def _date_option(ctx: Any, param: Any, value: str | None) -> str | None:
    return None if value is None else validate.date(value, "date", partial=True)


class _Group(click.Group):
    """Domain errors raised while the options are read (``Whole``, dates)
    end like those of the commands: one line ``error: …``, exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DoclibError as e:
            click.echo(f"error: {e.message}", err=True)
            sys.exit(2)


class Ctx:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: config_mod.Config | None = None
        self._lib: Any = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    @property
    def lib(self) -> Any:
        if self._lib is None:
            from .library import Library

            self._lib = Library(self.config)
        return self._lib

    def close(self) -> None:
        """Release the library's database connections (a command in a
        long-lived process, such as a test, leaves nothing open)."""
        if self._lib is not None:
            self._lib.close()
            self._lib = None


def _log(conn: Any, action: str, target: str = "", detail: str = "") -> None:
    """The audit row of a command-line change, in its transaction."""
    from .audit import record

    record(conn, None, action, target, detail, via="cli")


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DoclibError as e:
            click.echo(f"error: {e.message}", err=True)
            sys.exit(2)

    return wrapper


@click.group(cls=_Group)
@click.option("--config", "config_path", envvar="DOCLIB_CONFIG", type=click.Path(),
              help="Config file (default: ./config.yaml; also $DOCLIB_CONFIG).")
@click.version_option(package_name="doclib")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """doclib: a bilingual (Arabic/English) document library with semantic search."""
    ctx.obj = Ctx(config_path)
    ctx.call_on_close(ctx.obj.close)


# ------------------------------------------------------------------ ingest
def _report_line(r: Any) -> str:
    mark = {"ready": "✓", "unchanged": "=", "updated": "~"}.get(r.status, "✗")
    parts = [f"{mark} {r.path}", r.status]
    if r.document_id:
        parts.append(f"doc {r.document_id}")
    if r.existing and r.status in ("unchanged", "updated"):
        parts.append(f"already in the library as \"{r.title}\"")
    if r.status in ("ready", "unchanged", "updated"):
        parts.append(f"{r.pages} pages, {r.chunks} chunks, {r.language or '?'}"
                     + (f", OCR {r.ocr} pages" if r.ocr else ""))
    if r.error:
        parts.append(f"error: {r.error}")
    line = "  ".join(parts)
    for w in r.warnings:
        line += f"\n    warning: {w}"
        if w.startswith("already in the library"):
            line += " or ingest again with --update-metadata"
    return line


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--title", help="Document title (default: from the file).")
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES))
@click.option("--access", type=click.Choice(["public", "members", "curators"]),
              help="Who may read it (new documents default to members).")
@click.option("--event", help="Event slug.")
@click.option("--workshop", type=Whole("workshop", 1, validate.MAX_WORKSHOP_NUMBER),
              help="Workshop number within the event.")
@click.option("--language", type=click.Choice(["auto", "ar", "en"]), default="auto")
@click.option("--date", callback=_date_option, help="YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--notes", type=click.Choice(["include", "exclude", "default"]),
              help="PPTX speaker notes: index and show them to every reader (include), never "
                   "(exclude), or as extract.speaker_notes says (default: for documents that "
                   "are not public).")
@click.option("--update-metadata", is_flag=True,
              help="Also change the title, type, access, event ... of documents the library "
                   "already holds (same content or same path); without it they keep theirs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON report per line.")
@click.option("--workers", type=Whole("workers", 1, 64), default=1, show_default=True,
              help="Files ingested at once, their passages embedded by as many worker "
                   "processes (one BLAS thread each; each loads the models once). The "
                   "machine's cores is a good number for a large folder.")
@click.pass_obj
@domain_errors
def ingest(obj: Ctx, paths: tuple[str, ...], title: str | None, doc_type: str | None,
           access: str | None, event: str | None, workshop: int | None, language: str,
           date: str | None, notes: str | None, update_metadata: bool, as_json: bool,
           workers: int) -> None:
    """Ingest files and folders (recursively; a folder's catalogue.yaml gives
    events, workshops and per-file metadata, which win over these options)."""
    from .ingest import IngestOptions, check_options, collect, ingest_paths

    opts = IngestOptions(title=title, doc_type=doc_type, access=access, event=event,
                         workshop=workshop, language=language, date=date, notes=notes,
                         update_existing=update_metadata)
    check_options(opts)  # a bad option is one error, before any file is read
    lib = obj.lib
    total = len(collect(list(paths)))
    failed = 0
    show_bar = not as_json and sys.stderr.isatty() and total > 1
    started = time.perf_counter()
    reports = ingest_paths(lib, list(paths), opts, workers=workers)
    done: list[Any] = []
    if show_bar:
        with click.progressbar(reports, length=total, label="ingesting", file=sys.stderr,
                               item_show_func=lambda r: r.path if r else "") as bar:
            done = list(bar)
        for r in done:
            click.echo(_report_line(r))
            failed += r.status not in ("ready", "unchanged", "updated")
    else:
        for r in reports:
            done.append(r)
            failed += r.status not in ("ready", "unchanged", "updated")
            click.echo(json.dumps(r.to_json(), ensure_ascii=False) if as_json
                       else _report_line(r))
    if total > 1 and not as_json:
        ready = [r for r in done if r.status in ("ready", "updated")]
        pages, chunks = sum(r.pages for r in ready), sum(r.chunks for r in ready)
        took = max(time.perf_counter() - started, 1e-9)
        click.echo(f"{len(done)} files ({len(ready)} indexed: {pages} pages, {chunks} "
                   f"passages) in {took:.1f} s: {pages / took:.1f} pages/s, "
                   f"{chunks / took:.1f} passages/s ({workers} worker"
                   f"{'s' if workers > 1 else ''})", err=True)
    if failed:
        sys.exit(1)


# ------------------------------------------------------------------ search
@main.command()
@click.argument("query")
@click.option("--k", type=Whole("k", 1, validate.MAX_K), default=10, show_default=True,
              help="Documents to return.")
@click.option("--page", type=Whole("page", 1, validate.MAX_PAGE), default=1,
              show_default=True)
@click.option("--language", type=click.Choice(["ar", "en"]), help="Only documents in it.")
@click.option("--event")
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES))
@click.option("--workshop", type=Whole("workshop", 1, validate.MAX_ID), help="Workshop id.")
@click.option("--year", type=Whole("year", validate.MIN_YEAR, validate.MAX_YEAR))
@click.option("--as", "role", type=click.Choice(["visitor", "member", "curator"]),
              default="visitor", show_default=True, help="Search with this role's access.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's search object.")
@click.pass_obj
@domain_errors
def search(obj: Ctx, query: str, k: int, page: int, language: str | None, event: str | None,
           doc_type: str | None, workshop: int | None, year: int | None, role: str,
           as_json: bool) -> None:
    """Search the library."""
    from .auth import principal_for_role
    from .search import Filters
    from .search import search as run

    filters = Filters.parse({"language": language, "event": event, "type": doc_type,
                             "workshop": workshop, "year": year})
    result = run(obj.lib, principal_for_role(role), query, k=k, page=page, filters=filters)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{result['total']} documents for {query!r} (as {role})")

    def show(results: list[dict[str, Any]], start: int) -> None:
        for i, r in enumerate(results, start=start):
            d = r["document"]
            meta = ", ".join(x for x in (d["language"], d["type"], d["event"] or "",
                                         d["access"]) if x)
            click.echo(f"{i:>3}. [{r['score']:.3f}] {d['title']}  (#{d['id']}; {meta})")
            for p in r["passages"][:2]:
                snippet = p["text"] if len(p["text"]) <= 200 else p["text"][:200] + "…"
                click.echo(f"       p.{p['page']}: {snippet}")

    show(result["results"], (page - 1) * k + 1)
    if result.get("nearest"):
        click.echo("no close match; nearest documents:" if not result["results"]
                   else "further documents, not close matches:")
        show(result["nearest"], 1)


# --------------------------------------------------------- index upkeep
@main.command()
@click.option("--rechunk", is_flag=True, help="Also extract and chunk every stored original "
              "again (after changing chunk.* or extract.*).")
@click.pass_obj
@domain_errors
def reindex(obj: Ctx, rechunk: bool) -> None:
    """Re-embed every chunk with the configured embedder; rebuild both indexes."""
    from .ingest import rechunk as run_rechunk
    from .ingest import reindex as run

    def progress(what: str) -> Callable[[int, int], None] | None:
        if not sys.stderr.isatty():
            return None
        return lambda i, n: click.echo(f"\r{i}/{n} {what}", nl=False, err=True)

    if rechunk:
        out = run_rechunk(obj.lib, progress=progress("documents"))
        click.echo(f"re-chunked {out['documents']} documents ({out['failed']} failed)")
    out = run(obj.lib, progress=progress("chunks"))
    click.echo(f"reindexed {out['chunks']} chunks")


@main.command()
@click.option("--repair", is_flag=True, help="Fix what can be fixed (rebuild indexes, "
              "resume interrupted uploads, embed chunks the second model lacks, mark "
              "interrupted ingestions failed, extract presentations from before speaker "
              "notes were kept apart again, compact after deletions: doclib compact, remove "
              "originals no document names and temp files of writes a crash cut short).")
@click.option("--quick", is_flag=True, help="Compare the originals' sizes instead of "
              "hashing every one (fast on large libraries; misses same-size changes).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@domain_errors
def check(obj: Ctx, repair: bool, quick: bool, as_json: bool) -> None:
    """Check the database, files and indexes agree."""
    from .maintenance import check as run

    result = run(obj.lib, repair=repair, quick=quick)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for item in result["checks"]:
            click.echo(f"{'ok ' if item['ok'] else 'BAD'} {item['name']}: {item['detail']}")
        for fix in result["repaired"]:
            click.echo(f"repaired: {fix}")
    if not result["ok"]:
        sys.exit(1)


@main.command()
@click.pass_obj
@domain_errors
def compact(obj: Ctx) -> None:
    """Remove every trace of deleted documents: redact job reports naming
    them, merge the lexical index, VACUUM the database, empty its WAL."""
    from .erase import compact as run
    from .trash import purge_expired

    purged = purge_expired(obj.lib, via="cli")
    if purged:
        click.echo(f"deleted for good {purged} documents in the trash for longer than "
                   f"{obj.config.storage.trash_days} days (storage.trash_days)")
    out = run(obj.lib)
    click.echo(f"compacted: {out['jobs_redacted']} job reports of deleted documents "
               f"redacted; lexical index merged; database {out['bytes_before']} -> "
               f"{out['bytes']} bytes; write-ahead log "
               + ("emptied" if out["wal_emptied"] else "NOT emptied (a reader held it; "
                  "run it again)"))
    if not out["wal_emptied"]:
        sys.exit(1)


@main.command()
@click.argument("dest", type=click.Path())
@click.pass_obj
@domain_errors
def backup(obj: Ctx, dest: str) -> None:
    """Online backup of the database and the originals into DEST (a new folder)."""
    from .maintenance import backup as run

    out = run(obj.lib, dest)
    click.echo(f"backed up {out['documents']} documents and {out['files']} files to {dest}")


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a library that is not empty.")
@click.option("--backup-access", is_flag=True,
              help="Take the backup's access levels even where the replaced library had "
                   "restricted a document since (by default the stricter level stays).")
@click.pass_obj
@domain_errors
def restore(obj: Ctx, src: str, force: bool, backup_access: bool) -> None:
    """Restore a backup made by `doclib backup` into the configured library.

    A document that the replaced library held with a stricter access than
    the backup (restricted after the backup was made) keeps the stricter
    level: a restore never publishes what a curator restricted."""
    from .maintenance import restore as run

    out = run(obj.config, src, force=force, backup_access=backup_access)
    for m in out["access"]:
        how = ("now " + m["backup"]) if backup_access else ("kept " + m["now"])
        click.echo(f"document {m['id']} ({m['title'] or 'untitled'}): {m['backup']} in the "
                   f"backup, {m['now']} in the replaced library: {how}")
    click.echo(f"restored {out['documents']} documents; run `doclib check` to verify")


# ------------------------------------------------------- events, workshops
@main.group()
def events() -> None:
    """Events (summits, meetings)."""


@events.command("add")
@click.argument("slug")
@click.option("--title-en", default="")
@click.option("--title-ar", default="")
@click.option("--city", default="")
@click.option("--start", help="YYYY-MM-DD")
@click.option("--end", help="YYYY-MM-DD")
@click.option("--description-en", default="")
@click.option("--description-ar", default="")
@click.pass_obj
@domain_errors
def events_add(obj: Ctx, slug: str, title_en: str, title_ar: str, city: str, start: str | None,
               end: str | None, description_en: str, description_ar: str) -> None:
    """Add an event."""
    from .auth import principal_for_role
    from .events import create_event

    ev = create_event(obj.lib, principal_for_role(_ADMIN),
                      {"slug": slug, "title": {"en": title_en, "ar": title_ar}, "city": city,
                       "start": start, "end": end,
                       "description": {"en": description_en, "ar": description_ar}}, via="cli")
    click.echo(f"event {slug} added (id {ev['id']})")


@events.command("list")
@click.pass_obj
@domain_errors
def events_list(obj: Ctx) -> None:
    from .events import list_events, list_workshops

    with obj.lib.db.connect() as conn:
        for e in list_events(conn):
            click.echo(f"{e['slug']}  {e['start'] or ''}  {e['city']}  "
                       f"{e['title']['en'] or e['title']['ar']}")
            for w in list_workshops(conn, e["id"]):
                click.echo(f"    #{w['number']} (id {w['id']}) "
                           f"{w['title']['en'] or ''} {w['title']['ar'] or ''}".rstrip())


@events.command("import")
@click.argument("catalogue", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
@domain_errors
def events_import(obj: Ctx, catalogue: str) -> None:
    """Create or update the events and workshops of a YAML catalogue."""
    from .auth import principal_for_role
    from .events import import_catalogue, read_catalogue

    n = import_catalogue(obj.lib, principal_for_role(_ADMIN), read_catalogue(catalogue),
                         via="cli")
    click.echo(f"imported {n} events")


@main.group()
def workshops() -> None:
    """Workshops of an event."""


@workshops.command("add")
@click.argument("event")
@click.argument("number", type=Whole("number", 1, validate.MAX_WORKSHOP_NUMBER))
@click.option("--title-en", default="")
@click.option("--title-ar", default="")
@click.option("--description-en", default="")
@click.option("--description-ar", default="")
@click.pass_obj
@domain_errors
def workshops_add(obj: Ctx, event: str, number: int, title_en: str, title_ar: str,
                  description_en: str, description_ar: str) -> None:
    """Add workshop NUMBER to EVENT."""
    from .auth import principal_for_role
    from .events import create_workshop

    w = create_workshop(obj.lib, principal_for_role(_ADMIN), event,
                        {"number": number, "title": {"en": title_en, "ar": title_ar},
                         "description": {"en": description_en, "ar": description_ar}},
                        via="cli")
    click.echo(f"workshop {number} of {event} added (id {w['id']})")


@main.command()
@click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=Whole("port", 1, 65535), help="Port (default: web.port, 5000).")
@click.option("--workers", type=Whole("workers", 1, 512),
              help="gunicorn workers (default: web.workers).")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
@click.pass_obj
@domain_errors
def serve(obj: Ctx, host: str | None, port: int | None, workers: int | None,
          dev: bool) -> None:
    """Run the web service (gunicorn on 127.0.0.1 by default)."""
    from .embed import check_second_model
    from .serve import run

    cfg = obj.config
    check_second_model(cfg.embed)  # a clear error now rather than 503s later
    run(cfg, host or cfg.web.host, port or cfg.web.port, workers or cfg.web.workers, dev)


@main.group()
def users() -> None:
    """Accounts (members, curators, admins)."""


def _read_password(password: str | None) -> str:
    """The option's (or $DOCLIB_PASSWORD's) value, else a prompt on a
    terminal, else one line of stdin."""
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    return password or ""


_PASSWORD_OPTION = click.option("--password", envvar="DOCLIB_PASSWORD", help="Default: read "
                                "from stdin or asked for; also $DOCLIB_PASSWORD.")


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLE_CHOICES), required=True)
@click.option("--name", default="")
@_PASSWORD_OPTION
@click.pass_obj
@domain_errors
def users_add(obj: Ctx, email: str, role: str, name: str, password: str | None) -> None:
    """Add an account; the password comes from stdin or a prompt."""
    from .accounts import create_account
    from .auth import principal_for_role

    password = _read_password(password)
    uid = create_account(obj.lib, principal_for_role(_ADMIN), email, password, role, name,
                         via="cli")
    click.echo(f"account {email} added ({role}, id {uid})")


@users.command("password")
@click.argument("email")
@_PASSWORD_OPTION
@click.pass_obj
@domain_errors
def users_password(obj: Ctx, email: str, password: str | None) -> None:
    """Set the account's password (stdin or a prompt); its sessions end,
    its API tokens stay."""
    from .accounts import require_user_by_email, set_password

    with obj.lib.db.connect() as conn:
        require_user_by_email(conn, email)  # before asking for a password
    password = _read_password(password)
    with obj.lib.db.begin() as conn:
        uid = require_user_by_email(conn, email).id
        set_password(conn, uid, password)
        _log(conn, "user.password", str(uid))
    click.echo(f"password of {email} set; its sessions ended")


def _expiry(value: str | None) -> Any:
    """30d, 12h or YYYY-MM-DD (valid through that day, UTC) -> datetime."""
    from datetime import UTC, datetime, timedelta

    from .errors import BadRequest

    if not value:
        return None
    value = value.strip().lower()
    try:
        if value[-1:] in ("d", "h") and value[:-1].isdigit():
            n = int(value[:-1])
            return datetime.now(UTC) + (timedelta(days=n) if value[-1] == "d"
                                        else timedelta(hours=n))
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return day + timedelta(days=1)
    except (ValueError, OverflowError):
        raise BadRequest(f"--expires takes a number of days (30d) or hours (12h) or a date "
                         f"(YYYY-MM-DD), not {value!r}") from None


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") + " UTC" if stamp else ""


@users.command("token")
@click.argument("email")
@click.option("--name", default="", help="Tells the token apart (default: token-N); unique "
              "among the account's active tokens.")
@click.option("--expires", help="30d, 12h or YYYY-MM-DD (valid through that day, UTC); "
              "default: never.")
@click.pass_obj
@domain_errors
def users_token(obj: Ctx, email: str, name: str, expires: str | None) -> None:
    """Print a new API token for the account on stdout (shown once); the
    account's other active tokens are named on stderr."""
    from .accounts import create_token, list_tokens, require_user_by_email, token_status

    with obj.lib.db.begin() as conn:
        user = require_user_by_email(conn, email)
        token = create_token(conn, user.id, name, _expiry(expires))
        rows = list_tokens(conn, user.id)
        _log(conn, "user.token", str(user.id), max(rows, key=lambda r: r.id).name)
    new = max(rows, key=lambda r: r.id)
    others = [r for r in rows if r.id != new.id and token_status(r) == "active"]
    click.echo(token)
    click.echo(f"token {new.name!r} (id {new.id}) for {user.email}, expires "
               f"{_when(new.expires_at) or 'never'}; it is shown only this once", err=True)
    listed = ", ".join(f"{r.name} (id {r.id})" for r in others)
    click.echo(f"{user.email} has {len(others)} other active token"
               f"{'' if len(others) == 1 else 's'}{': ' + listed if others else ''}"
               + ("; see them with `doclib users tokens EMAIL`, revoke with "
                  "`doclib users revoke-token EMAIL NAME`" if others else ""), err=True)


@users.command("tokens")
@click.argument("email", required=False)
@click.pass_obj
@domain_errors
def users_tokens(obj: Ctx, email: str | None) -> None:
    """List API tokens (of one account, or all): id, account, name, status
    (active, expired, revoked), created, expires, last used."""
    from .accounts import list_tokens, require_user_by_email, token_status

    with obj.lib.db.connect() as conn:
        uid = require_user_by_email(conn, email).id if email else None
        rows = list_tokens(conn, uid)
    for r in rows:
        click.echo(f"{r.id:>4}  {r.email}  {r.name}  {token_status(r)}  "
                   f"created {_when(r.created_at)}  "
                   f"expires {_when(r.expires_at) or 'never'}  "
                   + (f"last used {_when(r.last_used_at)}" if r.last_used_at else "never used")
                   + (f"  revoked {_when(r.revoked_at)}" if r.revoked_at else ""))
    if not rows:
        click.echo("no tokens")


@users.command("revoke-token")
@click.argument("email")
@click.argument("token", required=False)
@click.option("--all", "all_", is_flag=True, help="Revoke every token of the account.")
@click.pass_obj
@domain_errors
def users_revoke_token(obj: Ctx, email: str, token: str | None, all_: bool) -> None:
    """Revoke the account's token TOKEN (its name or id, see `users tokens`)
    or --all of them; a revoked token never works again."""
    from .accounts import require_user_by_email, revoke_token, revoke_tokens
    from .errors import BadRequest

    if bool(token) == all_:
        raise BadRequest("name one token (its name or id) or give --all")
    with obj.lib.db.begin() as conn:
        uid = require_user_by_email(conn, email).id
        if all_:
            n = revoke_tokens(conn, uid)
            _log(conn, "user.revoke-token", str(uid), f"all ({n})")
            click.echo(f"{n} tokens of {email} revoked")
        else:
            name = revoke_token(conn, uid, token or "")
            _log(conn, "user.revoke-token", str(uid), name)
            click.echo(f"token {name!r} of {email} revoked")


@users.command("list")
@click.pass_obj
@domain_errors
def users_list(obj: Ctx) -> None:
    from .accounts import list_users

    with obj.lib.db.connect() as conn:
        for u in list_users(conn):
            click.echo(f"{u.email}  {u.role}  {'active' if u.active else 'disabled'}")


@users.command("disable")
@click.argument("email")
@click.pass_obj
@domain_errors
def users_disable(obj: Ctx, email: str) -> None:
    """Disable an account: its sessions end and its API tokens are revoked."""
    _set_active(obj, email, False)
    click.echo(f"{email} disabled; its sessions ended and its tokens were revoked")


def _set_active(obj: Ctx, email: str, active: bool) -> None:
    from .accounts import change_account, require_user_by_email
    from .auth import principal_for_role

    with obj.lib.db.connect() as conn:
        uid = require_user_by_email(conn, email).id
    change_account(obj.lib, principal_for_role(_ADMIN), uid,
                   "enable" if active else "disable", via="cli")


@users.command("enable")
@click.argument("email")
@click.pass_obj
@domain_errors
def users_enable(obj: Ctx, email: str) -> None:
    """Enable a disabled account (its old sessions and tokens stay ended)."""
    _set_active(obj, email, True)
    click.echo(f"{email} enabled; it logs in again, and needs new API tokens "
               "(doclib users token EMAIL)")


# -------------------------------------------------------------------- jobs
@main.group()
def jobs() -> None:
    """Upload jobs (from the web and the API): list them, cancel one."""


@jobs.command("list")
@click.option("--limit", type=Whole("limit", 1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
@domain_errors
def jobs_list(obj: Ctx, limit: int, as_json: bool) -> None:
    """The newest jobs first."""
    from .jobs import recent

    for job in recent(obj.lib, limit):
        if as_json:
            click.echo(json.dumps(job, ensure_ascii=False))
            continue
        report = job["report"]
        what = report.get("error") or report.get("note") or ""
        click.echo(f"{job['id']}  {job['status']}  {report.get('path', '')}  "
                   f"{job['created_at']}" + (f"  {what}" if what else ""))


@jobs.command("cancel")
@click.argument("job_id", type=Whole("job", 1, validate.MAX_ID))
@click.pass_obj
@domain_errors
def jobs_cancel(obj: Ctx, job_id: int) -> None:
    """Cancel a job: a queued one at once, a running one at its next step
    (between two embedding batches); nothing of it is indexed."""
    from .auth import principal_for_role
    from .jobs import cancel

    job = cancel(obj.lib, principal_for_role("admin"), job_id, via="cli")
    click.echo(f"job {job_id}: {job['status']}" + (
        " (it stops at its next step)" if job["status"] == "cancelling" else ""))


# ------------------------------------------- delete, trash, versions, audit
_ADMIN = "admin"  # the command line acts with every right, as no account


@main.command()
@click.argument("ids", nargs=-1, required=True, type=Whole("id", 1, validate.MAX_ID))
@click.pass_obj
@domain_errors
def delete(obj: Ctx, ids: tuple[int, ...]) -> None:
    """Move documents IDS to the trash: no search, listing or download finds
    them any more; `doclib trash restore` brings one back, `doclib trash
    empty` deletes for good (so does storage.trash_days)."""
    from .auth import principal_for_role
    from .curation import bulk_ids, delete_many

    done = delete_many(obj.lib, principal_for_role(_ADMIN), bulk_ids(list(ids)), via="cli")
    click.echo(f"moved {len(done)} document(s) to the trash: {', '.join(map(str, done))}")


@main.group()
def trash() -> None:
    """Deleted documents: list them, restore one, delete them for good."""


@trash.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
@domain_errors
def trash_list(obj: Ctx, as_json: bool) -> None:
    """The documents in the trash, last deleted first."""
    from .auth import principal_for_role
    from .trash import listing

    rows = listing(obj.lib, principal_for_role(_ADMIN))
    for r in rows:
        click.echo(json.dumps(r, ensure_ascii=False) if as_json else
                   f"{r['id']:>5}  {r['access']:<8}  deleted {_when(r['deleted_at'])} by "
                   f"{r['deleted_by'] or 'command line'}  {r['title']}  ({r['filename']})"
                   + (f"  deleted for good after {r['purge_after'][:10]}"
                      if r["purge_after"] else ""))
    if not rows and not as_json:
        click.echo("the trash is empty")


@trash.command("restore")
@click.argument("doc_id", type=Whole("id", 1, validate.MAX_ID))
@click.pass_obj
@domain_errors
def trash_restore(obj: Ctx, doc_id: int) -> None:
    """Bring document DOC_ID back from the trash (with the access it had)."""
    from .auth import principal_for_role
    from .trash import restore

    report = restore(obj.lib, principal_for_role(_ADMIN), doc_id, via="cli")
    if report["status"] == "ready":
        click.echo(f"document {doc_id} restored: {report['chunks']} chunks indexed")
    else:
        click.echo(f"document {doc_id} left the trash but could not be read again "
                   f"(failed: {report['error']})")
        sys.exit(1)


@trash.command("empty")
@click.argument("ids", nargs=-1, type=Whole("id", 1, validate.MAX_ID))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@domain_errors
def trash_empty(obj: Ctx, ids: tuple[int, ...], yes: bool) -> None:
    """Delete for good the documents IDS in the trash (default: all of them):
    files, previous versions, rows, both indexes; it cannot be undone."""
    from .auth import principal_for_role
    from .curation import bulk_ids
    from .trash import empty

    chosen = bulk_ids(list(ids)) if ids else None
    what = f"documents {', '.join(map(str, ids))}" if ids else "every document in the trash"
    if not yes and not click.confirm(f"delete {what} for good?", default=False):
        click.echo("nothing deleted")
        sys.exit(1)
    done = empty(obj.lib, principal_for_role(_ADMIN), chosen, via="cli")
    click.echo(f"deleted {len(done)} document(s) for good")


@main.group()
def versions() -> None:
    """A document's file and its previous versions: list them, restore one."""


@versions.command("list")
@click.argument("doc_id", type=Whole("id", 1, validate.MAX_ID))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@domain_errors
def versions_list(obj: Ctx, doc_id: int, as_json: bool) -> None:
    """The file of document DOC_ID and its previous versions, newest first."""
    from .auth import principal_for_role
    from .documents import versions_of

    out = versions_of(obj.lib, principal_for_role(_ADMIN), doc_id)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    cur = out["current"]
    click.echo(f"current  {cur['filename']}  {cur['size']} bytes  since "
               f"{_when(cur['added_at'])} by {cur['uploader'] or 'command line'}")
    for v in out["versions"]:
        click.echo(f"{v['id']:>7}  {v['filename']}  {v['size']} bytes  from "
                   f"{_when(v['added_at'])} by {v['uploader'] or 'command line'}, replaced "
                   f"{_when(v['replaced_at'])} by {v['replaced_by'] or 'command line'}")
    if not out["versions"]:
        click.echo("no previous versions")


@versions.command("restore")
@click.argument("doc_id", type=Whole("id", 1, validate.MAX_ID))
@click.argument("version_id", type=Whole("version", 1, validate.MAX_ID))
@click.pass_obj
@domain_errors
def versions_restore(obj: Ctx, doc_id: int, version_id: int) -> None:
    """Make version VERSION_ID the file of document DOC_ID again (its
    content only: access, title and the rest stay); the present file
    becomes a previous version."""
    from .auth import principal_for_role
    from .curation import restore_version

    report = restore_version(obj.lib, principal_for_role(_ADMIN), doc_id, version_id,
                             via="cli")
    if report["status"] != "ready":
        click.echo(f"error: the version was not restored: {report['error']}", err=True)
        sys.exit(1)
    click.echo(f"document {doc_id}: version {version_id} restored ({report['chunks']} chunks)")


@main.command("audit")
@click.option("--action", help="Only this action (e.g. document.delete, login).")
@click.option("--user", help="Only this account (e-mail), or 'cli' for the command line.")
@click.option("--document", type=Whole("document", 1, validate.MAX_ID))
@click.option("--since", help="From this day (YYYY-MM-DD).")
@click.option("--until", help="Through this day (YYYY-MM-DD).")
@click.option("--limit", type=Whole("limit", 1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
@domain_errors
def audit_cmd(obj: Ctx, action: str | None, user: str | None, document: int | None,
              since: str | None, until: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first: who did what, when, from where (web, api, cli)."""
    from .audit import Filter, query

    f = Filter.parse({"action": action, "user": user, "document": document,
                      "since": since, "until": until})
    with obj.lib.db.connect() as conn:
        out = query(conn, f, limit)
    for e in out["entries"]:
        if as_json:
            click.echo(json.dumps(e, ensure_ascii=False))
            continue
        who = e["user"] or ("command line" if e["via"] == "cli" else "-")
        click.echo(f"{_when(e['at'])}  {e['action']:<18} {who}  "
                   + (f"document {e['document']}" if e["document"] else e["target"])
                   + (f"  {e['detail']}" if e["detail"] else "")
                   + (f"  ({e['via']})" if e["via"] else ""))
    if not as_json:
        click.echo(f"{len(out['entries'])} of {out['total']} entries")


@main.command("config")
def show_config() -> None:
    """Print every configuration key with its default and help."""
    click.echo(config_mod.render_defaults(), nl=False)


