"""Versions, the trash and the audit log (issue 9.9, 9.10).

A replacement keeps the file it replaces; restoring a version swaps the
content only (never the access: a members-only document never reaches
visitors through a version); a deleted document goes to a trash that no
search, listing or download sees, comes back with its access, and leaves
no trace once emptied; every change writes its audit row in its own
transaction, from the web, the API and the command line."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from conftest import csrf_of, login
from doclib import audit, store, trash
from doclib.auth import principal_for_role
from doclib.curation import restore_version, update
from doclib.documents import versions_of
from doclib.errors import Conflict, NotFound
from doclib.ingest import IngestOptions, ingest_file
from doclib.maintenance import check
from doclib.search import search
from test_deletion_traces import _library_with_marker, _needles, _traces

VISITOR = principal_for_role("visitor")
MEMBER = principal_for_role("member")
CURATOR = principal_for_role("curator")
OLD = "Budget report: the quetzalwood programme funds youth centres.\n"
NEW = "Budget report: the marimbaphone programme funds schools.\n"


def found(lib, who, q):
    return [r["document"]["id"] for r in search(lib, who, q)["results"]]


def row(lib, doc_id):
    with lib.db.connect() as conn:
        return conn.execute(select(store.documents).where(store.documents.c.id == doc_id)).one()


def _two_versions(lib, tmp_path, access="public"):
    p = tmp_path / "budget.txt"
    p.write_text(OLD)
    first = ingest_file(lib, p, IngestOptions(access=access, title="Budget", doc_type="report"),
                        source_path=str(p))
    p.write_text(NEW)
    second = ingest_file(lib, p, IngestOptions(), source_path=str(p))
    assert first.status == second.status == "ready"
    assert second.document_id == first.document_id
    return first.document_id


# ----------------------------------------------------------------- versions
def test_replacement_keeps_the_previous_version_and_restore_swaps_it_back(lib, tmp_path):
    doc_id = _two_versions(lib, tmp_path)
    files = versions_of(lib, CURATOR, doc_id)
    assert files["current"]["filename"] == "budget.txt"
    (v,) = files["versions"]
    assert v["filename"] == "budget.txt" and v["size"] == len(OLD)
    assert v["added_at"] and v["replaced_at"] >= v["added_at"]
    with lib.db.connect() as conn:
        kept = conn.execute(select(store.document_versions.c.stored_name)).scalar_one()
    assert lib.files.path(kept).read_text() == OLD  # the original itself stays
    assert found(lib, VISITOR, "marimbaphone") == [doc_id]
    assert found(lib, VISITOR, "quetzalwood") == []

    report = restore_version(lib, CURATOR, doc_id, v["id"])
    assert report["status"] == "ready"
    assert found(lib, VISITOR, "quetzalwood") == [doc_id]
    assert found(lib, VISITOR, "marimbaphone") == []
    (back,) = versions_of(lib, CURATOR, doc_id)["versions"]  # the one it replaced
    assert back["id"] != v["id"] and back["size"] == len(NEW)
    r = row(lib, doc_id)
    assert (r.title, r.doc_type, r.access, r.status) == ("Budget", "report", 0, "ready")
    with pytest.raises(NotFound):  # a version restored is no longer listed
        restore_version(lib, CURATOR, doc_id, v["id"])


def test_restoring_a_version_never_changes_who_may_read(lib, tmp_path):
    """A version uploaded while the document was public, restored after the
    document was made members-only, stays members-only: no visitor finds,
    reads or downloads it through any version operation."""
    doc_id = _two_versions(lib, tmp_path, access="public")
    update(lib, CURATOR, doc_id, {"access": "members", "title": "Minutes (restricted)"})
    (v,) = versions_of(lib, CURATOR, doc_id)["versions"]
    assert restore_version(lib, CURATOR, doc_id, v["id"])["status"] == "ready"
    r = row(lib, doc_id)
    assert (r.access, r.title) == (1, "Minutes (restricted)")
    assert found(lib, VISITOR, "quetzalwood") == []
    assert found(lib, MEMBER, "quetzalwood") == [doc_id]
    for who in (VISITOR, MEMBER):  # versions are for curators: like a missing document
        with pytest.raises(NotFound):
            versions_of(lib, who, doc_id)
        with pytest.raises(NotFound):
            restore_version(lib, who, doc_id, v["id"])


def test_a_failed_restore_keeps_the_document_and_the_version(lib, tmp_path):
    doc_id = _two_versions(lib, tmp_path)
    (v,) = versions_of(lib, CURATOR, doc_id)["versions"]
    with lib.db.connect() as conn:
        kept = conn.execute(select(store.document_versions.c.stored_name)).scalar_one()
    lib.files.path(kept).write_bytes(b"")  # unreadable now: no text
    report = restore_version(lib, CURATOR, doc_id, v["id"])
    assert report["status"] != "ready" and "previous version was kept" in report["error"]
    assert found(lib, VISITOR, "marimbaphone") == [doc_id]
    assert lib.files.path(kept).exists()
    assert [x["id"] for x in versions_of(lib, CURATOR, doc_id)["versions"]] == [v["id"]]


# -------------------------------------------------------------------- trash
def test_trash_hides_at_once_and_restores_with_the_same_access(lib, tmp_path):
    doc_id = _two_versions(lib, tmp_path, access="members")
    assert found(lib, MEMBER, "marimbaphone") == [doc_id]
    trash.move(lib, CURATOR, [doc_id])
    for who in (VISITOR, MEMBER, CURATOR):  # no search finds it, for anyone
        assert found(lib, who, "marimbaphone") == []
        assert search(lib, who, "budget")["total"] == 0
    with lib.db.connect() as conn:
        assert conn.execute(select(store.chunks.c.id)).all() == []
    assert len(lib.vectors) == 0
    assert [d["id"] for d in trash.listing(lib, CURATOR)] == [doc_id]
    with pytest.raises(Conflict):  # a document in the trash is not edited
        update(lib, CURATOR, doc_id, {"access": "public"})
    p = tmp_path / "budget.txt"  # nor brought back by ingesting its file again
    again = ingest_file(lib, p, IngestOptions(access="public"), source_path=str(p))
    assert again.status == "failed" and "trash" in again.error
    assert row(lib, doc_id).status == "deleted"

    report = trash.restore(lib, CURATOR, doc_id)
    assert report["status"] == "ready"
    assert found(lib, MEMBER, "marimbaphone") == [doc_id]
    assert found(lib, VISITOR, "marimbaphone") == []  # still members-only
    assert row(lib, doc_id).access == 1 and trash.listing(lib, CURATOR) == []
    assert len(versions_of(lib, CURATOR, doc_id)["versions"]) == 1


def test_emptied_trash_leaves_no_trace(lib, fixtures_dir, tmp_path, tmp_path_factory):
    """The guarantees of test_deletion_traces hold for a document deleted
    through the trash, its previous version included."""
    src = tmp_path_factory.mktemp("src")
    r = _library_with_marker(lib, fixtures_dir, src)
    marked = next(src.iterdir())
    marked.write_text(marked.read_text() + "\nOne more paragraph.\n")
    assert ingest_file(lib, marked, IngestOptions(), source_path=str(marked)).status == "ready"
    assert len(versions_of(lib, CURATOR, r.document_id)["versions"]) == 1
    needles = _needles(fixtures_dir)
    trash.move(lib, CURATOR, [r.document_id])
    assert trash.empty(lib, CURATOR) == [r.document_id]
    assert _traces(lib.config.data_dir, needles) == {}
    with lib.db.connect() as conn:
        assert conn.execute(select(store.document_versions)).all() == []
        rows = conn.execute(select(store.audit)).all()
    assert {x.action for x in rows} >= {"document.delete", "trash.empty"}
    assert len(list(lib.files.root.rglob("*.txt"))) == 2  # the two kept documents


def test_retention_purges_by_check_repair_and_compact(lib, tmp_path, cli_fake):
    doc_id = _two_versions(lib, tmp_path)
    trash.move(lib, CURATOR, [doc_id])
    assert trash.expired(lib) == []
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
    with lib.db.begin() as conn:
        conn.execute(store.documents.update().values(deleted_at=old))
    assert trash.expired(lib) == [doc_id]
    item = next(c for c in check(lib)["checks"] if c["name"] == "trash")
    assert not item["ok"] and str(doc_id) in item["detail"]
    result = check(lib, repair=True)
    assert result["ok"] and any("past the trash's retention" in x for x in result["repaired"])
    with lib.db.connect() as conn:
        assert conn.execute(select(store.documents)).all() == []
    assert list(lib.files.root.rglob("*.txt")) == []


def test_cli_delete_trash_versions_audit(cli_fake, tmp_path):
    p = tmp_path / "budget.txt"
    p.write_text(OLD)
    assert cli_fake("ingest", str(p), "--access", "members").exit_code == 0
    p.write_text(NEW)
    assert cli_fake("ingest", str(p)).exit_code == 0
    out = cli_fake("versions", "list", "1", "--json")
    assert out.exit_code == 0, out.output
    (v,) = json.loads(out.output)["versions"]
    res = cli_fake("versions", "restore", "1", str(v["id"]))
    assert res.exit_code == 0 and "restored" in res.output
    assert cli_fake("delete", "1").exit_code == 0
    listed = cli_fake("trash", "list", "--json")
    assert json.loads(listed.output.splitlines()[0])["id"] == 1
    assert cli_fake("search", "quetzalwood", "--as", "curator").output.startswith("0 documents")
    assert cli_fake("trash", "restore", "1").exit_code == 0
    assert "1 documents" in cli_fake("search", "quetzalwood", "--as", "member").output
    assert cli_fake("delete", "1").exit_code == 0
    assert cli_fake("trash", "empty", "--yes").exit_code == 0
    assert cli_fake("delete", "1").exit_code == 2  # gone for good
    assert cli_fake("users", "add", "ann@example.org", "--role", "member",
                    "--password", "a-long-password").exit_code == 0
    log = [json.loads(x) for x in cli_fake("audit", "--json", "--limit", "100")
           .output.splitlines()]
    actions = [e["action"] for e in reversed(log)]
    assert actions == ["document.upload", "document.replace", "version.restore",
                       "document.delete", "document.restore", "document.delete",
                       "trash.empty", "user.add"]
    assert {e["via"] for e in log} == {"cli"} and all(e["user"] is None for e in log)
    only = cli_fake("audit", "--document", "1", "--action", "document.delete", "--json")
    assert len(only.output.splitlines()) == 2
    bad = cli_fake("audit", "--action", "nonsense")
    assert bad.exit_code == 2 and "action must be one of" in bad.output


# ---------------------------------------------------------------------- web
def _client(app, role):
    c = app.test_client()
    if role != "visitor":
        login(c, role)
    return c


def _token(c, page="/curate/"):
    return csrf_of(c.get(page).get_data(as_text=True))


def _members_doc_with_version(app):
    """A members-only document uploaded through the API, then replaced
    through it (no access named); its id and its version's id."""
    c = _client(app, "curator")
    h = {"X-CSRF-Token": _token(c)}
    r = c.post("/api/v1/documents", headers=h, data={
        "file": (io.BytesIO(OLD.encode()), "budget.txt"), "access": "members",
        "type": "report"})
    app.extensions["doclib_jobs"].wait(r.get_json()["job"], timeout=60)
    doc_id = c.get(f"/api/v1/jobs/{r.get_json()['job']}").get_json()["job"]["document_id"]
    r = c.post(f"/api/v1/documents/{doc_id}/file", headers=h,
               data={"file": (io.BytesIO(NEW.encode()), "budget-v2.txt")})
    assert r.status_code == 202
    app.extensions["doclib_jobs"].wait(r.get_json()["job"], timeout=60)
    (v,) = c.get(f"/api/v1/documents/{doc_id}/versions").get_json()["versions"]
    assert v["filename"] == "budget.txt" and v["uploader"] == "curator@example.org"
    return c, doc_id, v["id"]


def test_web_versions_are_for_curators_and_keep_members_only(app):
    c, doc_id, vid = _members_doc_with_version(app)
    page = c.get(f"/curate/documents/{doc_id}").get_data(as_text=True)
    assert "budget.txt" in page and f"/versions/{vid}/restore" in page
    with c.get(f"/documents/{doc_id}/versions/{vid}/file") as r:
        assert r.data == OLD.encode()
    for role in ("visitor", "member"):
        o = _client(app, role)
        for url in (f"/documents/{doc_id}/versions/{vid}/file",
                    f"/api/v1/documents/{doc_id}/versions/{vid}/file",
                    f"/api/v1/documents/{doc_id}/versions"):
            assert o.get(url).status_code == 404, (role, url)
    m = _client(app, "member")
    assert m.post(f"/curate/documents/{doc_id}/versions/{vid}/restore",
                  data={"csrf_token": _token(m, "/")}).status_code == 403
    # a restore without the form's token changes nothing
    assert c.post(f"/curate/documents/{doc_id}/versions/{vid}/restore").status_code == 400
    r = c.post(f"/curate/documents/{doc_id}/versions/{vid}/restore",
               data={"csrf_token": _token(c)})
    assert r.status_code == 302
    v = _client(app, "visitor")
    assert v.get(f"/documents/{doc_id}").status_code == 404
    assert v.get("/api/v1/search?q=quetzalwood").get_json()["total"] == 0
    assert m.get("/api/v1/search?q=quetzalwood").get_json()["total"] == 1
    assert c.get(f"/api/v1/documents/{doc_id}").get_json()["document"]["access"] == "members"


def test_web_trash_hides_everywhere_then_restores_and_empties(app):
    c, doc_id, _ = _members_doc_with_version(app)
    m = _client(app, "member")
    assert m.get("/api/v1/search?q=marimbaphone").get_json()["total"] == 1
    r = c.delete(f"/api/v1/documents/{doc_id}", headers={"X-CSRF-Token": _token(c)})
    assert r.get_json() == {"ok": True, "deleted": [doc_id]}
    for who in (m, c):
        assert who.get("/api/v1/search?q=marimbaphone").get_json()["total"] == 0
        assert doc_id not in [d["id"] for d in
                              who.get("/api/v1/documents").get_json()["documents"]]
    assert m.get(f"/documents/{doc_id}").status_code == 404
    assert m.get(f"/documents/{doc_id}/file").status_code == 404
    assert f"/curate/documents/{doc_id}\"" not in c.get("/curate/").get_data(as_text=True)
    page = c.get(f"/curate/documents/{doc_id}").get_data(as_text=True)  # no form but Restore
    assert "Restore from the trash" in page and "/replace" not in page and "Save" not in page
    assert "62 bytes" in page and "/versions/" in page
    page = c.get("/curate/trash").get_data(as_text=True)
    assert "budget-v2.txt" in page and "30 days" in page
    assert m.get("/curate/trash").status_code == 403
    assert c.post("/curate/trash/restore", data={"csrf_token": _token(c), "id": doc_id}
                  ).status_code == 302
    assert m.get("/api/v1/search?q=marimbaphone").get_json()["total"] == 1
    assert _client(app, "visitor").get("/api/v1/search?q=marimbaphone").get_json()[
        "total"] == 0
    h = {"X-CSRF-Token": _token(c)}
    c.post("/api/v1/documents/delete", headers=h, json={"ids": [doc_id]})
    assert [d["id"] for d in c.get("/api/v1/trash").get_json()["documents"]] == [doc_id]
    # the form asks first, then deletes for good
    asked = c.post("/curate/trash/empty", data={"csrf_token": _token(c), "ids": doc_id})
    assert asked.status_code == 200 and "cannot be undone" in asked.get_data(as_text=True)
    assert c.get("/api/v1/trash").get_json()["documents"] != []
    r = c.post("/curate/trash/empty", data={"csrf_token": _token(c), "ids": doc_id,
                                            "confirm": "yes"})
    assert r.status_code == 302
    assert c.get(f"/curate/documents/{doc_id}").status_code == 404
    assert c.get("/api/v1/trash").get_json()["documents"] == []


def test_web_audit_log_filters_and_pages(app):
    c, doc_id, vid = _members_doc_with_version(app)
    m = _client(app, "member")
    with m.get(f"/documents/{doc_id}/file") as r:
        assert r.status_code == 200  # members-only: audited
    r = c.patch(f"/api/v1/documents/{doc_id}", headers={"X-CSRF-Token": _token(c)},
                json={"access": "curators"})
    assert r.status_code == 200
    lib = app.extensions["doclib"]
    with lib.db.connect() as conn:
        entries = audit.query(conn, audit.Filter(document=doc_id))["entries"]
    got = [(e["action"], e["user"], e["via"]) for e in reversed(entries)]
    assert got == [("document.upload", "curator@example.org", "api"),
                   ("document.replace", "curator@example.org", "api"),
                   ("document.download", "member@example.org", "web"),
                   ("document.access", "curator@example.org", "api")]
    page = c.get(f"/curate/audit?document={doc_id}").get_data(as_text=True)
    assert "changed who may read a document" in page and "member@example.org" in page
    only = c.get("/api/v1/audit?action=login&user=member@example.org").get_json()
    assert only["total"] >= 1 and {e["action"] for e in only["entries"]} == {"login"}
    today = datetime.now(UTC).date().isoformat()
    assert c.get(f"/api/v1/audit?since={today}&until={today}").get_json()["total"] >= 5
    assert c.get("/api/v1/audit?since=2999-01-01").get_json()["total"] == 0
    bad = c.get("/api/v1/audit?action=nonsense")
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("action")
    assert c.get("/api/v1/audit?since=yesterday").get_json()["error"].startswith("since")
    assert m.get("/curate/audit").status_code == 403
    assert m.get("/api/v1/audit").status_code == 403
    assert _client(app, "visitor").get("/curate/audit").status_code == 302
    # pages of 50, newest first
    with lib.db.begin() as conn:
        for i in range(120):
            audit.record(conn, None, "event.add", f"e{i}", via="cli")
    first = c.get("/curate/audit?action=event.add").get_data(as_text=True)
    assert "Page 1 of 3" in first and ">e119<" in first and ">e69<" not in first
    last = c.get("/curate/audit?action=event.add&page=3").get_data(as_text=True)
    assert ">e0<" in last and ">e119<" not in last
    # a rejected change writes no row: the row commits with the change or not at all
    with lib.db.connect() as conn:
        before = audit.query(conn, audit.Filter())["total"]
    assert c.patch(f"/api/v1/documents/{doc_id}", headers={"X-CSRF-Token": _token(c)},
                   json={"access": "everyone"}).status_code == 400
    with lib.db.connect() as conn:
        assert audit.query(conn, audit.Filter())["total"] == before


def test_token_use_and_failed_logins_are_audited(app):
    from doclib import accounts

    lib = app.extensions["doclib"]
    with lib.db.begin() as conn:
        uid = accounts.user_by_email(conn, "member@example.org").id
        token = accounts.create_token(conn, uid, "laptop")
    c = app.test_client()
    assert c.get("/api/v1/documents", headers={"Authorization": f"Bearer {token}"}
                 ).status_code == 200
    c.get("/api/v1/documents", headers={"Authorization": f"Bearer {token}"})
    page = c.get("/login").get_data(as_text=True)
    c.post("/login", data={"email": "member@example.org", "password": "wrong-password",
                           "csrf_token": csrf_of(page)})
    with lib.db.connect() as conn:
        uses = audit.query(conn, audit.Filter(action="token.use"))["entries"]
        failed = audit.query(conn, audit.Filter(action="login.failed"))["entries"]
    assert len(uses) == 1 and uses[0]["detail"] == "laptop"  # once a minute at most
    assert uses[0]["user"] == "member@example.org" and uses[0]["via"] == "api"
    assert [e["user"] for e in failed] == ["member@example.org"]


@pytest.mark.sqlite_only('reads the schema with PRAGMA table_info')
def test_migration_runs_on_an_existing_library(lib, tmp_path):
    """A library at revision 0008 (before versions, the trash and the
    audit log's columns), with a document and audit rows, upgrades in place:
    its document is kept, searchable, and can be replaced, trashed and
    restored."""


    doc_id = _two_versions(lib, tmp_path)
    with lib.db.begin() as conn:
        conn.execute(store.document_versions.delete())
    lib.db.downgrade("0008")
    with lib.db.connect() as conn:
        cols = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(documents)")}
        assert "deleted_at" not in cols
        conn.exec_driver_sql("INSERT INTO audit(at, action, target) VALUES ('x', 'login', '')")
        conn.commit()
    lib.db.migrate()
    assert lib.db.current_revision() == lib.db.head_revision()
    assert found(lib, VISITOR, "marimbaphone") == [doc_id]
    trash.move(lib, CURATOR, [doc_id])
    assert trash.restore(lib, CURATOR, doc_id)["status"] == "ready"
    with lib.db.connect() as conn:
        entries = audit.query(conn, audit.Filter())["entries"]
    (old,) = [e for e in entries if e["action"] == "login"]
    assert old["via"] == "" and old["document"] is None
    assert entries[0]["action"] == "document.restore"


def test_a_document_trashed_during_its_replacement_stays_in_the_trash(lib, tmp_path):
    """The replacement's commit finds it in the trash (under the write
    lock) and keeps nothing: the document stays deleted, its previous file
    and versions as they were, the new file removed."""
    doc_id = _two_versions(lib, tmp_path)
    p = tmp_path / "budget.txt"
    p.write_text(NEW + "A third paragraph about libraries.\n")
    moved = []

    def meanwhile() -> None:
        if not moved:
            moved.append(trash.move(lib, CURATOR, [doc_id]))

    report = ingest_file(lib, p, IngestOptions(), source_path=str(p), stop=meanwhile)
    assert moved and report.status == "failed" and "trash" in report.error
    r = row(lib, doc_id)
    assert r.status == "deleted" and r.size == len(NEW)
    for who in (VISITOR, CURATOR):
        assert found(lib, who, "libraries") == [] and found(lib, who, "marimbaphone") == []
    with lib.db.connect() as conn:
        named = {r.stored_name} | {x[0] for x in conn.execute(
            select(store.document_versions.c.stored_name))}
    assert {str(x.relative_to(lib.files.root)) for x in lib.files.root.rglob("*.txt")} == named


def test_rechunk_and_repair_leave_the_trash_alone(lib, tmp_path):
    from doclib.ingest import rechunk

    doc_id = _two_versions(lib, tmp_path)
    trash.move(lib, CURATOR, [doc_id])
    rechunk(lib)
    assert check(lib, repair=True)["ok"]
    assert row(lib, doc_id).status == "deleted"
    assert found(lib, CURATOR, "marimbaphone") == []


def test_the_web_service_empties_the_trash_past_its_retention_when_it_starts(tmp_path):
    from conftest import FakeEmbedder, make_config
    from doclib.library import Library
    from doclib.web import create_app

    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    doc_id = _two_versions(lib, tmp_path)
    trash.move(lib, CURATOR, [doc_id])
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds")
    with lib.db.begin() as conn:
        conn.execute(store.documents.update().values(deleted_at=old))
    lib.close()
    app = create_app(make_config(tmp_path, **{"storage.trash_days": 60}),
                     embedder=FakeEmbedder())  # 60 days: not yet
    assert trash.listing(app.extensions["doclib"], CURATOR)[0]["id"] == doc_id
    app.extensions["doclib_jobs"].shutdown()
    app.extensions["doclib"].close()
    app = create_app(make_config(tmp_path), embedder=FakeEmbedder())
    lib = app.extensions["doclib"]
    try:
        with lib.db.connect() as conn:
            assert conn.execute(select(store.documents)).all() == []
            (purged,) = audit.query(conn, audit.Filter(action="document.purge"))["entries"]
        assert purged["document"] == doc_id and purged["user"] is None
    finally:
        app.extensions["doclib_jobs"].shutdown()
        lib.close()


def test_cli_metadata_update_of_a_known_file_is_audited(cli_fake, tmp_path):
    p = tmp_path / "budget.txt"
    p.write_text(OLD)
    assert cli_fake("ingest", str(p), "--access", "members").exit_code == 0
    assert cli_fake("ingest", str(p), "--access", "public").exit_code == 0  # kept: no row
    assert cli_fake("ingest", str(p), "--title", "Budget", "--update-metadata").exit_code == 0
    assert cli_fake("ingest", str(p), "--access", "public", "--update-metadata").exit_code == 0
    log = [json.loads(x) for x in cli_fake("audit", "--json").output.splitlines()]
    assert [(e["action"], e["document"], e["via"]) for e in reversed(log)] == [
        ("document.upload", 1, "cli"), ("document.edit", 1, "cli"),
        ("document.access", 1, "cli")]
