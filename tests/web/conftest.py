"""Browser-test fixtures: one real server and one headless Chromium per module.

Chromium is Debian's (/usr/bin/chromium, installed by ./imageserver.sh), driven by Python
Playwright; never a browser download. A failing test leaves a screenshot of its page in
test-output/web/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, require_corpus
from tests.fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.ml.tiny_clip import build_tiny_clip
from tests.web.harness import WebServer, start_server

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "web"
TICK_MS = 500  # the page's refresh tick in tests (default 5 s)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    corpus = require_corpus()
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (./imageserver.sh test installs Debian's chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("web")
    model = build_tiny_clip(base / "tiny-clip").root
    server = start_server(base, corpus, model)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _context(browser: Any, width: int, height: int, token: str | None) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    script = f"sessionStorage.setItem('imageserver.tickMs', '{TICK_MS}');"
    if token:  # once per tab: logging out must stick across reloads
        script += (
            "if (!sessionStorage.getItem('seeded')) {"
            " sessionStorage.setItem('seeded', '1');"
            f" sessionStorage.setItem('imageserver.token', '{token}');"
            " sessionStorage.setItem('imageserver.expires', String(Date.now() + 3600e3)); }"
        )
    context.add_init_script(script)
    return context


@pytest.fixture
def page_factory(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """new_page(width, height, token=None) -> a page; errors it logs are collected."""
    pages: list[Any] = []

    def new_page(width: int = 1280, height: int = 800, token: str | None = None) -> Any:
        context = _context(browser, width, height, token)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.errors = []  # uncaught exceptions in the page
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        pages.append(page)
        return page

    yield new_page
    if request.node.stash.get(FAILED, False):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(pages):
            name = f"{request.node.name}-{n}.png".replace("/", "_")
            try:
                page.screenshot(path=str(OUTPUT / name), full_page=True)
            except Exception as exc:  # a crashed page must not hide the real failure
                print(f"screenshot failed: {exc}")
    for page in pages:
        page.context.close()


@pytest.fixture
def page(page_factory: Any, web_server: WebServer) -> Any:
    """A desktop-sized page already holding a login token."""
    return page_factory(token=web_server.token())


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def save_shot(page: Any, name: str) -> Path:
    """A screenshot kept for people to look at (test-output/web/pages/)."""
    folder = OUTPUT / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
