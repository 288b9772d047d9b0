"""A page opened in Debian's chromium, headless, through playwright at 1280 × 900: what a
reader's browser shows of it (skipped where chromium is absent, failed in CI where
`LOSSBENCH_BROWSER=required`)."""

import os
import shutil
from pathlib import Path

import pytest

_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def shown(page_path: Path, screenshot: Path) -> dict:
    """Console errors, images (alt, loaded, natural width, drawn width), links, the page's
    scroll width, the top of `.answer`, and the count of verdict tables."""
    playwright = pytest.importorskip("playwright.sync_api")
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        if os.environ.get("LOSSBENCH_BROWSER") == "required":  # .ci/run installs it
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        facts = {
            "errors": errors,
            "images": page.evaluate(
                "() => Array.from(document.images).map(i => "
                "[i.alt, i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
            ),
            "links": page.evaluate(
                "() => Array.from(document.links).map(a => a.getAttribute('href'))"
            ),
            "width": page.evaluate("() => document.documentElement.scrollWidth"),
            "answer": page.evaluate(
                "() => document.querySelector('.answer').getBoundingClientRect().top"
            ),
            "tables": page.evaluate("() => document.querySelectorAll('table.verdicts').length"),
        }
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return facts
