"""Extraction on the shared fixtures, with the study's recall thresholds,
and the failure statuses."""

from __future__ import annotations

import collections
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from doclib.config import ExtractConfig
from doclib.errors import (
    ArchiveRefused,
    Encrypted,
    ExtractError,
    OverLimits,
    TooManyPages,
    UnsupportedFormat,
)
from doclib.extract import extract as run_extract
from doclib.extract import ocr, sniff
from doclib.text import has_presentation_forms, normalise, reversal_guard, tokens


def recall(truth: str, got: str) -> float:
    t = collections.Counter(tokens(normalise(truth)))
    g = collections.Counter(tokens(normalise(got)))
    return sum(min(c, g[w]) for w, c in t.items()) / sum(t.values())


def extract(path: Path, **cfg: object):
    return run_extract(path, sniff(path), ExtractConfig(**cfg))


def joined(result) -> str:
    return "\n".join(p.text for p in result.pages)


@pytest.mark.parametrize("name,truth,threshold", [
    ("ar_summit_writer.pdf", "ar_summit.txt", 0.95),
    ("ar_summit_chromium.pdf", "ar_summit.txt", 0.95),
    ("mixed_summit_writer.pdf", "mixed_summit.txt", 0.95),
    ("mixed_summit_chromium.pdf", "mixed_summit.txt", 0.95),
    ("slides_impress.pdf", "slides.txt", 0.95),
    ("en_summit_writer.pdf", "en_summit.txt", 1.0),
    ("en_summit_chromium.pdf", "en_summit.txt", 1.0),
    ("ar_summit.docx", "ar_summit.txt", 1.0),
    ("ar_summit_libreoffice.docx", "ar_summit.txt", 1.0),
])
def test_word_recall(fixtures_dir, name, truth, threshold):
    result = extract(fixtures_dir / name)
    text = joined(result)
    assert recall((fixtures_dir / truth).read_text(encoding="utf-8"), text) >= threshold
    assert not has_presentation_forms(text)
    assert reversal_guard(text)


def test_pdf_pages_are_numbered(fixtures_dir):
    result = extract(fixtures_dir / "ar_summit_writer.pdf")
    assert [p.number for p in result.pages] == [1, 2, 3, 4, 5]


def test_pptx_titles_body_notes_per_slide(fixtures_dir):
    """Title and body are the slide's text; the speaker notes are kept apart
    (Page.notes), never mixed into the text that is chunked for everyone."""
    truth = json.loads((fixtures_dir / "slides_truth.json").read_text(encoding="utf-8"))
    result = extract(fixtures_dir / "slides.pptx")
    assert len(result.pages) == 5
    slides = truth if isinstance(truth, list) else truth.get("slides", truth)
    for page, want in zip(result.pages, slides, strict=True):
        assert normalise(page.title) == normalise(want["title"])
        assert recall(want["notes"], page.notes) == 1.0
        body = want["body"] if isinstance(want["body"], str) else "\n".join(want["body"])
        assert recall(body, page.text) == 1.0
        # words only the notes have are not in the slide's text
        slide_words = set(tokens(normalise(want["title"] + "\n" + body)))
        notes_only = set(tokens(normalise(want["notes"]))) - slide_words
        assert notes_only and not notes_only & set(tokens(normalise(page.text))), page.number
    all_text = (fixtures_dir / "slides.txt").read_text(encoding="utf-8")
    assert recall(all_text, joined(result)) == 1.0


def test_docx_tables_headers_footers_textboxes(tmp_path):
    import docx

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "Header: Steering Committee"
    d.sections[0].footer.paragraphs[0].text = "تذييل الصفحة"
    d.add_paragraph("Body paragraph about prevention.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "City"
    table.cell(0, 1).text = "المدينة"
    table.cell(1, 0).text = "Amman"
    table.cell(1, 1).text = "عمّان"
    path = tmp_path / "t.docx"
    d.save(path)
    text = joined(extract(path))
    for word in ("Header", "Steering", "تذييل", "Body", "City", "المدينة", "Amman", "عمّان"):
        assert word in text


def test_pptx_tables_and_groups(tmp_path):
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Grouped"
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(1), Inches(2), Inches(1))
    box.text_frame.text = "inside a group"
    tbl = slide.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    tbl.cell(0, 0).text = "cell one"
    tbl.cell(1, 1).text = "خلية"
    path = tmp_path / "g.pptx"
    prs.save(path)
    page = extract(path).pages[0]
    assert page.title == "Grouped"
    for s in ("inside a group", "cell one", "خلية"):
        assert s in page.text


def test_text_markdown_html(tmp_path):
    (tmp_path / "a.txt").write_text("سطر عربي\nEnglish line", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title here\n\n* item **bold**\n[link](http://x)",
                                   encoding="utf-8")
    (tmp_path / "c.html").write_text("<html><head><title>T</title><script>var x=1</script>"
                                     "</head><body><p>Hello</p><p dir=rtl>مرحبا</p></body>"
                                     "</html>", encoding="utf-8")
    assert "English line" in joined(extract(tmp_path / "a.txt"))
    md = extract(tmp_path / "b.md")
    assert md.title == "Title here" and "bold" in joined(md) and "**" not in joined(md)
    html_result = extract(tmp_path / "c.html")
    assert "مرحبا" in joined(html_result) and "var x" not in joined(html_result)
    assert html_result.title == "T"


def test_sniff_rejects_mismatch_and_unknown(tmp_path, fixtures_dir):
    fake = tmp_path / "report.pdf"
    fake.write_text("just text", encoding="utf-8")
    with pytest.raises(UnsupportedFormat, match="content is TXT"):
        sniff(fake)
    renamed = tmp_path / "slides.docx"
    shutil.copy(fixtures_dir / "slides.pptx", renamed)
    with pytest.raises(UnsupportedFormat, match="PPTX"):
        sniff(renamed)
    exe = tmp_path / "x.exe"
    exe.write_bytes(b"MZ\x00\x00")
    with pytest.raises(UnsupportedFormat, match="not accepted"):
        sniff(exe)
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedFormat, match="empty"):
        sniff(empty)
    z = tmp_path / "z.docx"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(UnsupportedFormat, match="neither DOCX nor PPTX"):
        sniff(z)


def test_zip_bomb_refused_before_parsing(tmp_path, fixtures_dir):
    bomb = tmp_path / "bomb.docx"
    shutil.copy(fixtures_dir / "ar_summit.docx", bomb)
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/media/zeros.bin", b"\0" * (30 * 1024 * 1024))
    with pytest.raises(ArchiveRefused, match="compression ratio"):
        extract(bomb)


def _pdf_with_pages(path: Path, n: int, text: str | None = None) -> None:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(n):
        w.add_blank_page(width=200, height=200)
    w.write(path)


def test_encrypted_pdf(tmp_path, fixtures_dir):
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    for p in PdfReader(fixtures_dir / "en_summit_writer.pdf").pages:
        w.add_page(p)
    w.encrypt(user_password="secret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    w.write(path)
    with pytest.raises(Encrypted, match="^encrypted$") as e:
        extract(path)
    assert e.value.outcome == "encrypted"  # the ingestion report's status


def test_blank_pdf_has_no_text(tmp_path):
    path = tmp_path / "blank.pdf"
    _pdf_with_pages(path, 2)
    result = extract(path)
    assert all(not p.text for p in result.pages)


def test_too_many_pages(tmp_path):
    path = tmp_path / "long.pdf"
    _pdf_with_pages(path, 30)
    with pytest.raises(TooManyPages, match="too many pages") as e:
        extract(path, max_pages=20)
    assert e.value.outcome == "failed"


def test_corrupt_pdf_is_an_error_not_a_crash(tmp_path, fixtures_dir):
    data = (fixtures_dir / "en_summit_writer.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        result = extract(path)
    except ExtractError as e:
        assert "Traceback" not in e.message
    else:  # pypdf may recover part of a truncated file; then it is text
        assert isinstance(result.pages, list)


@pytest.mark.parametrize("fork_server", [True, False])
def test_memory_limit_is_enforced(tmp_path, fork_server):
    # a 60 MB text needs more than 100 MB to read (its bytes, then its
    # string), forked from the server (which starts at ~90 MB of address
    # space) or in a new interpreter (~25 MB).  A small file could fit in
    # what a forked child inherits: the limit bounds a file's growth, and
    # is no promise that a tiny limit fails.
    path = tmp_path / "big.txt"
    line = ("ورشة عمل حول الوقاية من التطرف العنيف " * 8).encode("utf-8") + b"\n"
    with path.open("wb") as f:
        for _ in range(60 * 2**20 // len(line)):
            f.write(line)
    with pytest.raises(ExtractError, match="memory|crashed|parsed") as e:
        extract(path, memory_mb=100, fork_server=fork_server)
    assert type(e.value).__name__ in ("OverLimits", "Unreadable")
    assert isinstance(e.value, OverLimits) or "parsed" in e.value.message


@pytest.mark.skipif(not ocr.available(), reason="tesseract/pdftoppm not installed")
def test_scanned_pdf_is_ocred(fixtures_dir):
    result = extract(fixtures_dir / "scan_ar_en.pdf")
    assert result.ocr_pages == 2
    assert all(p.source == "ocr" for p in result.pages)
    truth = (fixtures_dir / "scan_ar_en.txt").read_text(encoding="utf-8").splitlines()
    assert recall("\n".join(truth[12:]), result.pages[1].text) >= 0.9
    assert recall("\n".join(truth[:12]), result.pages[0].text) >= 0.4


def test_scanned_pdf_without_ocr_reports_image_pages(fixtures_dir, tmp_path):
    result = extract(fixtures_dir / "scan_ar_en.pdf", ocr="off")
    assert result.ocr_pages == 0 and result.unread_image_pages == 2
    assert any("image-only" in w for w in result.warnings)
    # ingested, it is "empty" (NoText) and says why, from the count, not a warning's words
    from conftest import FakeEmbedder, make_config
    from doclib.ingest import IngestOptions, ingest_file
    from doclib.library import Library

    lib = Library(make_config(tmp_path, **{"extract.ocr": "off"}), embedder=FakeEmbedder())
    try:
        r = ingest_file(lib, fixtures_dir / "scan_ar_en.pdf", IngestOptions(access="public"))
    finally:
        lib.close()
    assert r.status == "empty"
    assert r.error == "no extractable text (image-only pages; install tesseract for OCR)"


def test_every_kind_is_one_registered_format(tmp_path, fixtures_dir):
    """One registry (``extract.FORMATS``), PDF registered like every other
    kind: each kind ``sniff`` gives has its extensions and extractor there,
    and ``extract_in_process`` runs the format's precheck and extractor."""
    from doclib import extract as ex
    from doclib.config import ExtractConfig

    samples = {"pdf": "en_summit_writer.pdf", "docx": "ar_summit.docx",
               "pptx": "slides.pptx"}
    for kind, name in samples.items():
        assert sniff(fixtures_dir / name) == kind
    (tmp_path / "a.md").write_text("# Title\n\ntext")
    (tmp_path / "a.html").write_text("<html><body><p>text</p></body></html>")
    (tmp_path / "a.txt").write_text("text")
    assert [sniff(tmp_path / n) for n in ("a.md", "a.html", "a.txt")] == ["md", "html", "txt"]
    assert set(ex.FORMATS) == {"pdf", "docx", "pptx", "txt", "md", "html"}
    assert ex.EXTENSIONS == {k: f.extensions for k, f in ex.FORMATS.items()}
    assert ex.FORMATS["docx"].precheck is ex.check_zip is ex.FORMATS["pptx"].precheck
    assert ex.FORMATS["pdf"].precheck is None
    cfg = ExtractConfig(ocr="off")
    for kind, name in samples.items():
        result = ex.extract_in_process(str(fixtures_dir / name), kind, cfg)
        assert result.kind == kind and result.pages
