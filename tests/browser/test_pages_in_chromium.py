"""What an operator opens, opened in a real browser: Debian's chromium driven by Playwright.

The status page of a real ``app.py`` (every section with the right numbers, the chart drawn, report links
that open, no console errors), ``reports/index.html`` from disk and a notebook report (embedded images
load, links resolve). A screenshot of each lands in the test's tmp folder. Without chromium these fail
with the command to install it: a browser test that skips proves nothing.
"""

from __future__ import annotations

import shutil

import pytest

from tests.status_workspace import CYCLES

pytestmark = pytest.mark.slow
INSTALL = "chromium is not installed: run `sudo apt-get install chromium` (make install does it when run as root)"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail(INSTALL)
    with sync_playwright() as playwright:
        # --no-sandbox: chromium's sandbox refuses to start as root, which CI machines run as
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and failed requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.problems = []
    opened.on("console", lambda m: m.type == "error" and opened.problems.append(f"console: {m.text}"))
    opened.on("pageerror", lambda err: opened.problems.append(f"page error: {err}"))
    opened.on("requestfailed", lambda r: opened.problems.append(f"request failed: {r.url}"))
    yield opened
    context.close()


def broken_images(page) -> list[str]:
    """Images that did not load (no natural width)."""
    script = "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    return page.eval_on_selector_all("img", script)


def test_status_page_renders_every_section(page, status_server, tmp_path):
    response = page.goto(status_server.url + "/")
    assert response.status == 200
    assert page.text_content("#champion-version") == "1"
    champion = page.inner_text("#champion")
    assert "90.01%" in champion and "89.13%" in champion and "91.21%" in champion and "onnx-int8" in champion
    assert page.text_content("#verdict-status") == "stale"
    assert "AUC 0.93" in page.inner_text("#verdict")
    explanation = page.locator("#drift-explanation")
    assert explanation.is_visible() and "@united" in explanation.inner_text()
    recent, training = (page.locator("#drift-explanation table.ngrams").nth(i).bounding_box() for i in (0, 1))
    assert recent["y"] == training["y"] and recent["x"] + recent["width"] <= training["x"]  # side by side
    assert page.locator("#cycle-table tr.cycle").count() == 3
    assert "stale: mailed ops@example.org" in page.inner_text("#cycles")

    chart = page.locator("#history-chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200  # drawn, at a readable size
    assert page.locator("#history-chart polyline.series").count() == 3
    assert page.locator("#history-chart line.event").count() == 2
    points = page.get_attribute("#history-chart polyline.series[data-series='drift']", "points")
    assert len(points.split()) == 3  # one point per staleness check in the history
    page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
    assert (tmp_path / "status.png").stat().st_size > 10_000
    assert page.problems == []


def test_report_links_open_from_the_status_page(page, status_server):
    page.goto(status_server.url + "/")
    links = page.locator("#cycle-table a")
    assert links.count() == len(CYCLES)
    with page.expect_navigation():
        links.first.click()
    assert page.url.endswith("/04_staleness.html")
    assert "Staleness check of cycle" in page.inner_text("body")
    assert page.locator("img").count() == 1 and broken_images(page) == []
    page.goto(status_server.url + "/reports/index.html")
    assert page.locator("tr.cycle").count() == 3
    assert page.problems == []


def test_reports_index_and_a_notebook_report_open_from_disk(page, status_workspace, tmp_path):
    index = status_workspace / "reports" / "index.html"
    page.goto(index.as_uri())
    assert "Sentiment pipeline reports" in page.inner_text("h1")
    assert broken_images(page) == []  # the staleness plot, when there is one
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    assert hrefs, "the index links no report"
    for href in hrefs:
        response = page.goto(href)  # file:// answers have no HTTP status: a missing file shows an error page
        assert (response is None or response.ok) and "ERR_FILE_NOT_FOUND" not in page.content(), href
        assert page.inner_text("body").strip() and broken_images(page) == [], href
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert page.problems == []
