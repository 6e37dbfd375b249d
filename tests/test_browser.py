"""Real browser (Debian's Chromium driven by Playwright) against a real
`doclib serve` (gunicorn) over the sample library with the bundled model."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import SAMPLE, served

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "member-pass-123"
SHOTS = Path(os.environ.get("DOCLIB_SCREENSHOTS", tempfile.gettempdir())) / "doclib-shots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    cfg = root / "config.yaml"
    cfg.write_text("storage:\n  data_dir: .\nweb:\n  workers: 1\n", encoding="utf-8")
    env = {**os.environ, "DOCLIB_CONFIG": str(cfg)}
    doclib = [sys.executable, "-m", "doclib"]
    subprocess.run(doclib + ["ingest", str(SAMPLE)], check=True, env=env, capture_output=True)
    for role in ("member", "curator"):
        subprocess.run(doclib + ["users", "add", f"{role}@example.org", "--role", role],
                       input=PASSWORD + "\n", text=True, check=True, env=env,
                       capture_output=True)
    with served(env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/setup.sh test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = ctx.new_page()
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def search(page, base: str, query: str) -> None:
    page.goto(base + "/")
    page.get_by_role("searchbox").first.fill(query)
    page.get_by_role("searchbox").first.press("Enter")
    page.wait_for_url("**/search?q=*")


def test_visitor_never_sees_member_only_content(page, server):
    search(page, server, "budget reallocation for the Zarqa pilot")
    body = page.inner_text("main")
    assert "Steering Committee" not in body and "40,000 euros" not in body
    assert page.locator("li.hit").count() >= 1  # public results instead
    shot(page, "search-visitor-en")


def test_login_search_english_finds_arabic_and_open_document(page, server):
    page.goto(server + "/login")
    page.get_by_label("E-mail").fill("member@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server + "/")
    assert "member@example.org" in page.inner_text("header")
    search(page, server, "What do mothers notice first when a son is drawn to extremism?")
    hits = page.locator("li.hit")
    titles = [hits.nth(i).locator("a.title").inner_text() for i in range(hits.count())]
    assert "تقرير ورشة العمل مع الأسر" in titles  # an English question finds the Arabic report
    assert page.locator("li.hit .badge.other").count() >= 1
    shot(page, "search-member-en")
    search(page, server, "Zarqa budget reallocation")
    assert "Steering Committee" in page.inner_text("main")  # members see the minutes
    page.locator("li.hit a.title").first.click()
    page.wait_for_url("**/documents/*")
    assert page.locator("a.button", has_text="Download").count() == 1
    shot(page, "document-member-en")


def test_arabic_interface_and_arabic_query_finds_english(page, server):
    page.goto(server + "/")
    page.get_by_role("button", name="العربية").click()
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    search(page, server, "كيف يستهدف المجنِّدون المراهقين عبر الإنترنت؟")
    titles = page.locator("li.hit a.title").all_inner_texts()
    assert "Online radicalisation and counter-narratives" in titles
    assert "بالإنجليزية" in page.inner_text("main") or "باللغة" in page.inner_text("main")
    shot(page, "search-visitor-ar")
    # the choice is remembered on the next page
    page.goto(server + "/events")
    assert page.get_attribute("html", "dir") == "rtl"
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "ltr"


def test_document_page_keeps_structure_each_block_in_its_direction(page, server):
    """The minutes (DOCX) read as written: headings, the action table as a
    table, the Arabic paragraph right to left and the English ones left to
    right, in both interface languages."""
    page.goto(server + "/login")
    page.get_by_label("E-mail").fill("member@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server + "/")
    search(page, server, "Zarqa budget reallocation")
    page.locator("li.hit a.title", has_text="Steering Committee").first.click()
    page.wait_for_url("**/documents/*")
    reading = page.locator(".reading")
    assert reading.locator("h5", has_text="Budget").count() == 1
    assert reading.locator("table tr").count() == 3
    assert reading.locator("table td", has_text="Zarqa pilot report").count() == 1

    def direction(locator) -> str:
        return locator.evaluate("e => getComputedStyle(e).direction")

    arabic = reading.locator("p[lang=ar]").first
    english = reading.locator("p[lang=en]").first
    assert direction(arabic) == "rtl" and direction(english) == "ltr"
    assert not any(ch in reading.inner_text() for ch in "\u0097\uf0b7")
    shot(page, "document-structure-en")
    page.get_by_role("button", name="العربية").click()
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    reading = page.locator(".reading")
    assert direction(reading.locator("p[lang=en]").first) == "ltr"
    assert direction(reading.locator("p[lang=ar]").first) == "rtl"
    shot(page, "document-structure-ar")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()


def test_find_related_workshops_page(page, server):
    page.goto(server + "/workshops?q=" + "ex-prisoners need a home and work after release")
    first = page.locator("li.hit a.title").first.inner_text()
    assert "إعادة الإدماج المجتمعي بعد الإفراج" in first
    shot(page, "workshops-en")


def test_keyboard_skip_link_and_labels(page, server):
    page.goto(server + "/login")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    for field in ("E-mail", "Password"):
        assert page.get_by_label(field).count() == 1


def test_phone_layout_has_no_horizontal_scroll(browser, server):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, locale="ar")
    pg = ctx.new_page()
    pg.goto(server + "/search?q=كيف يستهدف المجنِّدون المراهقين عبر الإنترنت؟")
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    # the filters, laid out after the results, are one tap from their top
    link = pg.locator("a.to-filters")
    assert link.is_visible() and link.get_attribute("href") == "#filters"
    link.click()
    top = pg.locator("#filters").evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < 740 and pg.evaluate("window.scrollY") > 0  # scrolled to them
    shot(pg, "search-phone-ar")
    # the curation page fits the screen too (its forms, its table)
    pg.goto(server + "/login")
    pg.locator("input[name=email]").fill("curator@example.org")
    pg.locator("input[name=password]").fill(PASSWORD)
    pg.locator("input[name=password]").press("Enter")
    pg.wait_for_load_state()
    pg.goto(server + "/curate/")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    shot(pg, "curate-phone-ar")
    ctx.close()


@pytest.mark.parametrize("target", [
    "/\t/evil.invalid", "/\n/evil.invalid", "/\\evil.invalid", "\\/evil.invalid",
    "/%09/evil.invalid", "\x00//evil.invalid", " //evil.invalid", "https:evil.invalid",
    "java\tscript:document.title='owned'",
])
def test_login_redirect_stays_on_the_site(page, server, target):
    """Chromium's own URL parser follows the login's redirect: whatever the
    form's `next` says, the browser lands on this site."""
    from urllib.parse import urlsplit

    page.goto(server + "/login")
    page.get_by_label("E-mail").fill("member@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator('form[action="/login"] input[name="next"]').evaluate(
        "(el, value) => { el.value = value; }", target)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert urlsplit(page.url).netloc == urlsplit(server).netloc, (target, page.url)
    assert page.title() != "owned"
    assert "member@example.org" in page.inner_text("header")


# ------------------------------------------------ curation (issue 9.7, 9.8, 9.12)
FINISHED = "['ready', 'unchanged', 'updated', 'failed', 'empty', 'encrypted', 'cancelled']"


def log_in(pg, server: str, role: str = "curator") -> None:
    pg.goto(server + "/login")
    pg.locator("input[name=email]").fill(f"{role}@example.org")
    pg.locator("input[name=password]").fill(PASSWORD)
    pg.locator("input[name=password]").press("Enter")
    pg.wait_for_load_state()


def drop_files(pg, files: dict[str, str]) -> None:
    """Drop files (name -> text) on the upload page's drop zone, as a
    file manager does."""
    pg.evaluate("""files => {
        const dt = new DataTransfer();
        for (const [name, text] of Object.entries(files))
            dt.items.add(new File([text], name, {type: "text/plain"}));
        const zone = document.getElementById("dropzone");
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true,
                                                      cancelable: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                  cancelable: true}));
    }""", files)


def wait_reports(pg, n: int) -> None:
    pg.wait_for_function(
        f"""() => {{ const r = [...document.querySelectorAll('li.upfile .report')];
                    return r.length === {n}
                        && r.every(x => {FINISHED}.includes(x.dataset.status)); }}""",
        timeout=60_000)


def test_several_files_each_described_with_progress_and_report(page, server):
    """Choose two files and drop a third: each gets its own description
    (no type until chosen, members-only), is sent on its own with its
    progress, and gets its report on the page; a file the library holds
    says where it is and changes nothing; a refused one says why under it
    and is sent again once fixed."""
    log_in(page, server)
    page.goto(server + "/curate/")
    page.set_input_files("#f-file", [
        {"name": "minutes-copy.docx", "mimeType": "application/octet-stream",
         "buffer": (SAMPLE / "steering-committee-minutes-2025-11.docx").read_bytes()},
        {"name": "quokka-field-notes.txt", "mimeType": "text/plain",
         "buffer": b"Field notes: the quokka club met the youth workers of Irbid."}])
    drop_files(page, {"numbat-summary.md": "# Numbat summary\n\nThe numbat mentoring scheme."})
    rows = page.locator("li.upfile")
    assert rows.count() == 3
    assert rows.nth(2).locator(".name").inner_text() == "numbat-summary.md"
    for i in range(3):
        assert rows.nth(i).locator("select[data-field=type]").input_value() == ""
        assert rows.nth(i).locator("select[data-field=access]").input_value() == "members"
    shot(page, "upload-several-listed-en")
    page.get_by_role("button", name="Upload the files").click()
    # no type chosen: nothing is sent, each file says so
    assert page.locator("li.upfile .state.error").count() == 3
    assert "choose the type" in rows.nth(0).locator(".state").inner_text()
    assert page.locator("li.upfile progress:not([hidden])").count() == 0
    for i in range(3):
        rows.nth(i).locator("select[data-field=type]").select_option("report")
    rows.nth(1).locator("input[data-field=title]").fill("Quokka club field notes")
    rows.nth(1).locator("select[data-field=access]").select_option("curators")
    rows.nth(2).locator("select[data-field=event]").select_option("amman-2025")
    rows.nth(2).locator("input[data-field=workshop]").fill("x")
    page.get_by_role("button", name="Upload the files").click()
    page.wait_for_function("() => document.querySelectorAll('li.upfile .report').length === 2"
                           " && document.querySelector('li.upfile.failed .state.error')")
    assert "workshop must be a whole number" in rows.nth(2).locator(".state").inner_text()
    rows.nth(2).locator("input[data-field=workshop]").fill("3")
    page.get_by_role("button", name="Upload the files").click()
    wait_reports(page, 3)
    for i in range(3):
        assert rows.nth(i).locator("progress").evaluate("p => p.value") == 100
    first = rows.nth(0).inner_text()
    assert "This file is already in the library as" in first and "unchanged" in first
    assert "ready" in rows.nth(1).inner_text() and "ready" in rows.nth(2).inner_text()
    shot(page, "upload-several-reports-en")
    # each file's own description reached its document
    doc = rows.nth(1).locator("a[href^='/documents/']").get_attribute("href")
    d = page.request.get(server + "/api/v1" + doc).json()["document"]
    assert (d["title"], d["access"], d["type"]) == ("Quokka club field notes", "curators",
                                                    "report")
    doc = rows.nth(2).locator("a[href^='/documents/']").get_attribute("href")
    d = page.request.get(server + "/api/v1" + doc).json()["document"]
    assert (d["event"], d["workshop"]["number"], d["access"]) == ("amman-2025", 3, "members")
    # the known minutes stayed members-only (not opened to visitors by this upload)
    minutes = rows.nth(0).locator("a[href^='/documents/']").first.get_attribute("href")
    assert page.request.get(server + "/api/v1" + minutes).json()["document"]["access"] \
        == "members"


def test_several_files_in_arabic_on_a_phone(browser, server):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="ar")
    pg = ctx.new_page()
    log_in(pg, server)
    ctx.add_cookies([{"name": "lang", "value": "ar", "url": server}])
    pg.goto(server + "/curate/")
    assert pg.get_attribute("html", "dir") == "rtl"
    drop_files(pg, {"تقرير-الشباب.md": "# تقرير\n\nبرنامج الإرشاد للشباب في الزرقاء.",
                    "wallaby.txt": "The wallaby programme."})
    rows = pg.locator("li.upfile")
    assert rows.count() == 2
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    for i in range(2):
        rows.nth(i).locator("select[data-field=type]").select_option("report")
    rows.nth(0).locator("select[data-field=event]").select_option("amman-2025")
    rows.nth(0).locator("input[data-field=workshop]").fill("٣")  # Arabic digit: refused, in Arabic
    pg.get_by_role("button", name="رفع الملفات").click()
    pg.wait_for_function("() => document.querySelector('li.upfile.failed .state.error')")
    assert "رقم الورشة" in rows.nth(0).locator(".state").inner_text()
    wait_ready = "() => document.querySelectorAll('li.upfile .report').length === 1"
    pg.wait_for_function(wait_ready, timeout=60_000)
    pg.wait_for_function(
        f"() => {FINISHED}.includes(document.querySelector('li.upfile .report').dataset.status)",
        timeout=60_000)
    assert "جاهزة" in rows.nth(1).inner_text()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    shot(pg, "upload-several-phone-ar")
    ctx.close()


def test_several_files_without_javascript(browser, server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US",
                              java_script_enabled=False)
    pg = ctx.new_page()
    log_in(pg, server)
    pg.goto(server + "/curate/")
    pg.set_input_files("#f-file", [
        {"name": "dingo-one.txt", "mimeType": "text/plain", "buffer": b"Dingo outreach one."},
        {"name": "dingo-two.txt", "mimeType": "text/plain", "buffer": b"Dingo outreach two."}])
    pg.select_option("#f-type", "other")
    pg.get_by_role("button", name="Upload", exact=True).click()
    pg.wait_for_url("**/curate/uploads?jobs=*")
    for _ in range(60):
        text = pg.inner_text("main")
        if text.count("ready") == 2:
            break
        pg.wait_for_timeout(500)
        pg.reload()
    assert text.count("ready") == 2 and "dingo-one.txt" in text and "dingo-two.txt" in text
    shot(pg, "uploads-nojs-en")
    ctx.close()


def test_events_and_workshops_managed_on_the_web(browser, server):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = ctx.new_page()
    log_in(pg, server)
    pg.goto(server + "/curate/")
    pg.get_by_role("link", name="Events and workshops").click()
    pg.wait_for_url("**/curate/events")
    pg.get_by_label("Short name (slug)").fill("tunis-2026")
    pg.locator("#e-title-en").fill("Tunis summit 2026")
    pg.locator("#e-title-ar").fill("قمة تونس 2026")
    pg.get_by_label("City").fill("Tunis")
    pg.get_by_label("Start date").fill("2026-05-02")
    pg.get_by_label("End date").fill("2026-05-01")
    pg.locator("#e-desc-ar").fill("القمة الثانية للشبكة.")
    pg.get_by_role("button", name="Create the event").click()
    pg.wait_for_load_state()
    # refused by the server: the reason, and everything typed still there
    assert pg.locator("#form-error").inner_text() == "end is before start"
    assert pg.locator("#e-title-ar").input_value() == "قمة تونس 2026"
    assert pg.locator("#e-desc-ar").input_value() == "القمة الثانية للشبكة."
    assert pg.locator("#e-end").get_attribute("aria-invalid") == "true"
    shot(pg, "curate-events-error-en")
    pg.get_by_label("End date").fill("2026-05-03")
    pg.get_by_role("button", name="Create the event").click()
    pg.wait_for_url("**/curate/events/tunis-2026")
    assert "Event created." in pg.inner_text("main")
    pg.locator("#ws-number").fill("1")
    pg.locator("#ws-title-en").fill("Schools and teachers")
    pg.locator("#ws-title-ar").fill("المدارس والمعلمون")
    pg.get_by_role("button", name="Add the workshop").click()
    pg.wait_for_url("**/curate/workshops/*")
    pg.get_by_text("Add documents").click()
    pg.get_by_label("Online radicalisation", exact=False).first.check()
    pg.get_by_role("button", name="Add the selected documents").click()
    pg.wait_for_load_state()
    assert "Added 1 document(s) to the workshop." in pg.inner_text("main")
    shot(pg, "curate-workshop-en")
    pg.goto(server + "/events/tunis-2026")
    main = pg.inner_text("main")
    assert "Schools and teachers" in main and "Online radicalisation" in main
    assert pg.get_by_role("link", name="Edit the event, its workshops and documents").count() == 1
    pg.goto(server + "/curate/events/tunis-2026")
    shot(pg, "curate-event-en")
    ctx.add_cookies([{"name": "lang", "value": "ar", "url": server}])
    pg.goto(server + "/curate/events/tunis-2026")
    assert pg.get_attribute("html", "dir") == "rtl"
    pg.locator("#e-title-en").fill("")
    pg.locator("#e-title-ar").fill("")
    pg.get_by_role("button", name="حفظ").click()
    pg.wait_for_load_state()
    assert pg.locator("#form-error").inner_text() == \
        "العنوان: تحتاج الفعالية إلى عنوان بلغة واحدة على الأقل"
    shot(pg, "curate-event-error-ar")
    pg.set_viewport_size({"width": 390, "height": 844})
    for path in ("/curate/events", "/curate/events/tunis-2026"):
        pg.goto(server + path)
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390, path
    shot(pg, "curate-event-phone-ar")
    pg.goto(server + "/curate/events")
    shot(pg, "curate-events-phone-ar")
    ctx.close()
