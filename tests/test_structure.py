"""Reading a document (issue 9.14): the structure of the original survives
extraction (headings, numbered and bulleted lists, tables, slide title /
body / notes apart), each block in its own direction, no stray control
characters, list numbers in their order in Arabic PDFs, Markdown as written.

The fixtures are real producers' files (tests/fixtures/structure/make.py
says how each was made)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import FakeEmbedder, csrf_of, make_config
from doclib import accounts
from doclib.auth import principal_for_role
from doclib.config import ExtractConfig
from doclib.extract import extract_in_process, sniff
from doclib.ingest import IngestOptions, ingest_file
from doclib.library import Library
from doclib.search import search
from doclib.text import clean_display

STRUCTURE = Path(__file__).resolve().parent / "fixtures" / "structure"
ARABIC_INDIC = re.compile("[\u0660-\u0669]+")
STRAY = re.compile("[\u0080-\u009f\ue000-\uf8ff]")


def extracted(path: Path):
    return extract_in_process(str(path), sniff(path), ExtractConfig(ocr="off"))


def kinds(blocks) -> list[str]:
    return [b["kind"] for b in blocks]


def items(blocks) -> list[dict]:
    return [b for b in blocks if b["kind"] == "item"]


# ---------------------------------------------------------------- PDF numbers
def test_arabic_indic_list_numbers_keep_their_order_chromium_pdf():
    """pypdf takes Arabic-Indic digits for neutral characters and reversed
    them after Arabic text: item 10 read '٠١.' and 12345 read '٥٤٣٢١'."""
    result = extracted(STRUCTURE / "ar_lists_chromium.pdf")
    text_ = "\n".join(p.text for p in result.pages)
    assert ARABIC_INDIC.findall(text_) == [*"١٢٣٤٥٦٧٨٩", "١٠", "١١", "١٢٣٤٥"]
    assert "١٠. البند العاشر" in text_ and "٠١" not in text_
    # Latin words inside an Arabic line keep their order, and so do ASCII numbers
    assert "Strong Cities Network" in text_
    assert "1. تعزيز التعاون بين المدن" in text_ and "10. نشر التقارير السنوية" in text_
    numbered = [b for b in items(result.pages[0].blocks) if b["marker"][0] in "٠١٢٣٤٥٦٧٨٩"]
    assert [b["number"] for b in numbered] == list(range(1, 12))
    assert numbered[9]["marker"] == "١٠." and numbered[9]["text"] == "البند العاشر"


def test_a_number_written_in_arabic_indic_digits_is_found(tmp_path):
    """Search folds ١٢٣٤٥ to 12345: that finds the page only if the PDF's
    digits were read in their order (they read ٥٤٣٢١)."""
    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    try:
        r = ingest_file(lib, STRUCTURE / "ar_lists_chromium.pdf", IngestOptions(access="public"))
        out = search(lib, principal_for_role("visitor"), "12345")
        assert [h["document"]["id"] for h in out["results"]] == [r.document_id]
        assert out["results"][0]["passages"][0]["page"] == 2
        assert "١٢٣٤٥" in out["results"][0]["passages"][0]["text"]
    finally:
        lib.close()


@pytest.mark.parametrize("name", ["ar_summit_writer.pdf", "ar_summit_chromium.pdf"])
def test_arabic_indic_list_numbers_in_order_writer_and_chromium(fixtures_dir, name):
    """The summit report's workshops are numbered ١ to ١٧ (ar_summit.txt):
    LibreOffice Writer's and Chromium's PDFs of it read in that order."""
    truth = ARABIC_INDIC.findall((fixtures_dir / "ar_summit.txt").read_text(encoding="utf-8"))
    result = extracted(fixtures_dir / name)
    got = ARABIC_INDIC.findall("\n".join(p.text for p in result.pages))
    assert got == truth
    markers = [b["marker"] for p in result.pages for b in items(p.blocks)
               if ARABIC_INDIC.match(b["marker"])]
    assert markers == [f"{n}." for n in truth]


def test_pdf_blocks_headings_paragraphs_and_bullets(fixtures_dir):
    result = extracted(fixtures_dir / "ar_summit_writer.pdf")
    first = result.pages[0].blocks
    assert first[0] == {"kind": "heading", "text": "القمة الدولية 2017", "level": 1}
    headings = [b["text"] for p in result.pages for b in p.blocks if b["kind"] == "heading"]
    assert "ملخص" in headings and "التقرير السردي" in headings
    bullets = [b for b in items(first) if not b["ordered"]]
    assert len(bullets) == 4 and all(b["marker"] == "\u2022" for b in bullets)
    # a paragraph's lines are one block, not one block per line
    assert result.pages[0].text.count("\n") + 1 >= 20 and len(first) <= 12
    joined = next(b["text"] for b in first if b["text"].startswith("بالشراكة"))
    assert "جمعت القمة" in joined and "المتخصصين والقادة السياسيين" in joined
    english = extracted(fixtures_dir / "en_summit_chromium.pdf").pages[0].blocks
    assert kinds(english)[:3] == ["heading", "heading", "paragraph"]


# ------------------------------------------------------------ control chars
def test_c1_controls_and_symbol_bullets_cleaned():
    assert clean_display("من ال\u0097خبراء") == "من الخبراء"
    assert clean_display("\uf0b7\tFirst point\n  \uf0a7 second") == \
        "\u2022 First point\n\u2022 second"
    assert clean_display("a\ue123b \u0085") == "a b"


def test_no_stray_controls_in_a_writer_pdf(fixtures_dir):
    """LibreOffice's Amiri maps a glyph to U+0097 and Word's bullets come as
    U+F0B7: neither reaches the stored text or the blocks."""
    result = extracted(fixtures_dir / "ar_summit_writer.pdf")
    for page in result.pages:
        assert not STRAY.search(page.text)
        assert not STRAY.search(json.dumps(page.blocks, ensure_ascii=False))
    assert "من الخبراء" in result.pages[0].text


# -------------------------------------------------------------------- DOCX
def test_docx_headings_numbered_lists_and_tables():
    page = extracted(STRUCTURE / "structure.docx").pages[0]
    blocks = page.blocks
    assert blocks[0] == {"kind": "heading", "text": "Prevention plan 2026", "level": 1}
    assert {"kind": "heading", "text": "Steps", "level": 2} in blocks
    numbered = [b for b in items(blocks) if b["ordered"]]
    assert [b["marker"] for b in numbered] == [f"{n}." for n in range(1, 12)]
    assert numbered[9]["text"] == "Step number 10 of the plan" and numbered[9]["number"] == 10
    bullets = [b["text"] for b in items(blocks) if not b["ordered"]]
    assert bullets == ["Schools and families", "Municipal youth councils",
                       "A bullet typed with the Symbol font"]
    table = next(b for b in blocks if b["kind"] == "table")
    assert table["rows"] == [["Item", "البند", "Amount"], ["Training", "التدريب", "40,000"],
                             ["Outreach", "التواصل", "25,000"]]
    # the indexed text is as before: one line per paragraph, cells joined by " | "
    assert "Training | التدريب | 40,000" in page.text.split("\n")
    assert "costs as agreed are final" in page.text and not STRAY.search(page.text)


def test_docx_typed_arabic_numbers_are_list_items(fixtures_dir):
    blocks = extracted(fixtures_dir / "ar_summit.docx").pages[0].blocks
    numbered = [b for b in items(blocks) if b["ordered"]]
    assert [b["number"] for b in numbered] == list(range(1, 18))
    assert numbered[9]["marker"] == "١٠."
    assert sum(b["kind"] == "heading" for b in blocks) >= 10


# -------------------------------------------------------------------- PPTX
def test_pptx_title_body_levels_tables_and_notes_apart():
    result = extracted(STRUCTURE / "structure.pptx")
    one, two = result.pages
    assert one.blocks[0] == {"kind": "heading", "text": "Workshop plan", "level": 1}
    assert [(b["text"], b["level"]) for b in items(one.blocks)] == [
        ("Morning: city teams", 0), ("Amman and Aarhus present", 1),
        ("Afternoon: youth councils", 0)]
    assert one.notes.startswith("Speaker only")
    assert "Speaker only" not in repr(one.blocks) and "ملاحظة" not in repr(two.blocks)
    assert [(b["marker"], b["text"]) for b in items(two.blocks)] == [
        ("1.", "الخطوة الأولى"), ("2.", "الخطوة الثانية")]
    table = next(b for b in two.blocks if b["kind"] == "table")
    assert table["rows"] == [["المدينة", "City"], ["عمّان", "Amman"]]


# ---------------------------------------------------------------- Markdown
def test_markdown_keeps_underscores_and_tables_become_rows():
    result = extracted(STRUCTURE / "structure.md")
    page = result.pages[0]
    assert result.title == "Workshop notes"
    for word in ("max_words", "snake_case_words", "city_budget_2026"):
        assert word in page.text
    assert "emphasis and strong words" in page.text and "*" not in page.text
    lines = page.text.split("\n")
    assert "Amman | عمّان | 40,000" in lines
    assert not any(re.fullmatch(r"[\s|:\-]+", ln) for ln in lines)  # no |---|---| row
    assert not any(ln.startswith("|") or ln.endswith("|") for ln in lines)
    table = next(b for b in page.blocks if b["kind"] == "table")
    assert table["header"] and table["rows"][0] == ["City", "المدينة", "Budget"]
    numbered = [b for b in items(page.blocks) if b["ordered"]]
    assert [b["text"] for b in numbered] == ["Map the youth centres",
                                             "Train the mentors with the city teams",
                                             "Report in June"]
    assert [(b["text"], b["level"]) for b in items(page.blocks) if not b["ordered"]] == [
        ("Amman", 0), ("Zarqa district", 1), ("Aarhus", 0)]


def test_plain_text_paragraphs_and_list_items(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph\nstill the first.\n\n1. one\n2. two\n\n\uf0b7\tbullet\n",
                    encoding="utf-8")
    page = extracted(path).pages[0]
    assert page.blocks == [
        {"kind": "paragraph", "text": "First paragraph\nstill the first."},
        {"kind": "item", "text": "one", "level": 0, "ordered": True, "marker": "1.", "number": 1},
        {"kind": "item", "text": "two", "level": 0, "ordered": True, "marker": "2.", "number": 2},
        {"kind": "item", "text": "bullet", "level": 0, "ordered": False, "marker": "\u2022"}]


def test_html_headings_lists_and_tables(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html lang=ar dir=rtl><head><title>T</title><style>p{}</style></head><body>"
        "<h2>الخطة</h2><p>سطر أول<br>"
        "second line</p><ol start=9><li>nine<li>ten<ul><li>inner</ul></ol>"
        "<table><tr><th>City<th>المدينة<tr><td>Amman"
        "<td>عمان</table></body></html>", encoding="utf-8")
    page = extracted(path).pages[0]
    assert page.blocks == [
        {"kind": "heading", "text": "الخطة", "level": 2},
        {"kind": "paragraph", "text": "سطر أول\nsecond line"},
        {"kind": "item", "text": "nine", "level": 0, "ordered": True, "marker": "9.",
         "number": 9},
        {"kind": "item", "text": "ten", "level": 0, "ordered": True, "marker": "10.",
         "number": 10},
        {"kind": "item", "text": "inner", "level": 1, "ordered": False, "marker": "\u2022"},
        {"kind": "table", "rows": [["City", "المدينة"],
                                   ["Amman", "عمان"]], "header": True}]
    assert "p{}" not in page.text and "nine" in page.text  # the indexed text as before


# --------------------------------------------------------------------- web
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from doclib.web import create_app

    root = tmp_path_factory.mktemp("structure")
    application = create_app(make_config(root), embedder=FakeEmbedder())
    lib = application.extensions["doclib"]
    with lib.db.begin() as conn:
        accounts.add_user(conn, "member@example.org", "member-pass-1", "member")
    ids = {}
    for name in ("structure.docx", "structure.pptx", "structure.md", "ar_lists_chromium.pdf"):
        access = "members" if name == "structure.pptx" else "public"
        r = ingest_file(lib, STRUCTURE / name, IngestOptions(access=access))
        assert r.status == "ready", r
        ids[name] = r.document_id
    application.testing = True
    application.config["ids"] = ids
    yield application
    application.extensions["doclib_jobs"].shutdown()
    lib.close()


def page_html(app, name: str, role: str = "visitor") -> str:
    client = app.test_client()
    if role == "member":
        page = client.get("/login").get_data(as_text=True)
        r = client.post("/login", data={"email": "member@example.org",
                                        "password": "member-pass-1",
                                        "csrf_token": csrf_of(page), "next": "/"})
        assert r.status_code == 302
    r = client.get(f"/documents/{app.config['ids'][name]}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def reading_of(html: str) -> str:
    start = html.index('<div class="reading">')
    return html[start:html.index("</section>", start)]


def test_document_page_shows_headings_lists_and_tables(app):
    html = reading_of(page_html(app, "structure.docx"))
    assert '<h4 dir="ltr" lang="en">Prevention plan 2026</h4>' in html
    assert '<h5 dir="ltr" lang="en">Steps</h5>' in html
    assert ('<li dir="ltr" lang="en" value="10"><span class="marker">10.</span>'
            '<div class="item">Step number 10 of the plan</div></li>') in html
    assert '<ul dir="ltr"><li dir="ltr" lang="en"><span class="marker">\u2022</span>' in html
    assert '<td dir="rtl">التدريب</td>' in html and '<td dir="auto">40,000</td>' in html
    # each paragraph in its own direction: the Arabic one with an English name inside
    assert '<p dir="rtl" lang="ar">اعتمد المجلس البلدي' in html
    assert '<h5 dir="rtl" lang="ar">الخطوات التالية</h5>' in html
    assert '<p dir="ltr" lang="en">This English sentence closes an Arabic section.</p>' in html
    assert not STRAY.search(html)


def test_arabic_pdf_page_numbers_in_order_and_english_left_to_right(app):
    html = reading_of(page_html(app, "ar_lists_chromium.pdf"))
    assert ('<li dir="rtl" lang="ar" value="10"><span class="marker">١٠.</span>'
            '<div class="item">البند العاشر</div></li>') in html
    assert "٠١" not in html
    assert '<ol dir="rtl">' in html
    assert '<p dir="ltr" lang="en">This English paragraph sits inside an Arabic document' in html
    assert '<p dir="rtl" lang="ar">هذه فقرة عربية تتضمن اسم Strong Cities Network' in html


def test_markdown_page_shows_a_table_and_underscores(app):
    html = reading_of(page_html(app, "structure.md"))
    assert "snake_case_words" in html and "<em>" not in html
    assert '<th scope="col" dir="rtl">المدينة</th>' in html
    assert "|---" not in html and "| Amman" not in html


def test_slides_title_body_and_notes_apart_for_members_only(app):
    visitor = app.test_client().get(f"/documents/{app.config['ids']['structure.pptx']}")
    assert visitor.status_code == 404  # members only: hidden like a missing document
    html = page_html(app, "structure.pptx", "member")
    body = html[html.index('<section id="page-1"'):html.index('<section id="page-2"')]
    reading = body[:body.index("<aside")]
    notes = body[body.index("<aside"):]
    assert '<h4 dir="ltr" lang="en">Workshop plan</h4>' in reading
    assert "Amman and Aarhus present" in reading and "Speaker only" not in reading
    assert "Speaker only: remind the mayors" in notes and "Speaker notes" in notes


def test_public_slides_show_no_notes(tmp_path):
    from doclib.web import create_app

    application = create_app(make_config(tmp_path), embedder=FakeEmbedder())
    lib = application.extensions["doclib"]
    try:
        r = ingest_file(lib, STRUCTURE / "structure.pptx", IngestOptions(access="public"))
        html = application.test_client().get(f"/documents/{r.document_id}").get_data(
            as_text=True)
        assert "Amman and Aarhus present" in html
        assert "Speaker only" not in html and "ملاحظة للمتحدث" not in html
        with lib.db.connect() as conn:
            stored = conn.execute(text("SELECT structure FROM documents WHERE id = :i"),
                                  {"i": r.document_id}).scalar_one()
        assert "Speaker only" not in stored and "ملاحظة للمتحدث" not in stored
    finally:
        application.extensions["doclib_jobs"].shutdown()
        lib.close()


def test_snippets_have_no_stray_controls(tmp_path):
    lib = Library(make_config(tmp_path), embedder=FakeEmbedder())
    try:
        path = tmp_path / "pasted.txt"
        path.write_text("\uf0b7\tThe mentoring budget \u0097 agreed in March \u0097 is final.\n",
                        encoding="utf-8")
        assert ingest_file(lib, path, IngestOptions(access="public")).status == "ready"
        out = search(lib, principal_for_role("visitor"), "mentoring budget")
        hit = out["results"][0]
        shown = " ".join(str(p) for p in hit["passages"]) + hit.get("snippet", "")
        assert "mentoring" in shown and not STRAY.search(shown)
        with lib.db.connect() as conn:
            stored = conn.execute(text("SELECT text FROM chunks")).scalars().all()
        assert stored and not any(STRAY.search(s) for s in stored)
        assert stored[0].startswith("\u2022 The mentoring budget")
    finally:
        lib.close()


@pytest.mark.sqlite_only('reads the schema with PRAGMA table_info')
def test_documents_from_before_the_structure_still_render(tmp_path):
    """Migration 0010 adds documents.structure; a library from before it keeps
    its documents, and their pages show their passages."""


    root = tmp_path / "old"
    root.mkdir()
    lib = Library(make_config(root), embedder=FakeEmbedder())
    try:
        doc = ingest_file(lib, STRUCTURE / "structure.docx", IngestOptions(access="public"))
        lib.db.downgrade("0008")
        with lib.db.connect() as conn:
            cols = [r[1] for r in conn.execute(text("PRAGMA table_info(documents)"))]
        assert "structure" not in cols
    finally:
        lib.close()
    from doclib.web import create_app

    application = create_app(make_config(root), embedder=FakeEmbedder())  # migrates
    lib = application.extensions["doclib"]
    try:
        assert lib.db.current_revision() == lib.db.head_revision()
        with lib.db.connect() as conn:
            assert conn.execute(text("SELECT structure FROM documents WHERE id = :i"),
                                {"i": doc.document_id}).scalar_one() is None
        html = application.test_client().get(f"/documents/{doc.document_id}").get_data(
            as_text=True)
        assert 'class="reading"' not in html
        assert "Step number 10 of the plan" in html and '<p dir="ltr" lang="en">' in html
    finally:
        application.extensions["doclib_jobs"].shutdown()
        lib.close()
    # extracted again, it gets its structure
    lib = Library(make_config(root), embedder=FakeEmbedder())
    try:
        from doclib.ingest import rechunk

        assert rechunk(lib)["failed"] == 0
        with lib.db.connect() as conn:
            assert '"kind":"table"' in conn.execute(text(
                "SELECT structure FROM documents WHERE id = :i"),
                {"i": doc.document_id}).scalar_one()
    finally:
        lib.close()


def test_api_document_carries_the_blocks(app):
    r = app.test_client().get(f"/api/v1/documents/{app.config['ids']['structure.docx']}")
    assert r.status_code == 200
    page = r.get_json()["document"]["pages_text"][0]
    assert page["page"] == 1 and any(b["kind"] == "table" for b in page["blocks"])


