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
