"""/docs in a real browser: Swagger UI renders our OpenAPI 3.1 document, its "Try it out" works
against the server, and the page loads nothing from any other host.

Headless Chromium is Debian's /usr/bin/chromium (.ci/run installs it); playwright only drives
it. Screenshots go to test-output/ at the repository root, for a person to look at.
"""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Request, expect, sync_playwright

from tests.helpers import ADMIN_SECRET, CHROMIUM, CHROMIUM_ARGS
from tests.servers import Server

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
LIST_THREADS = ("get", "/v1/spaces/{space_id}/threads")
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.slow


@pytest.fixture
def server(sqlite_template: Path, tmp_path: Path, server_factory: Callable[..., Server]) -> Server:
    """A real `threads-api serve` on a SQLite copy: the browser needs only one database."""
    path = tmp_path / "threads.db"
    shutil.copyfile(sqlite_template, path)
    return server_factory(f"sqlite+aiosqlite:///{path}")


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def documented_operations(document: dict[str, object]) -> set[tuple[str, str]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return {
        (method, path)
        for path, operations in paths.items()
        for method in operations
        if method in HTTP_METHODS
    }


def rendered_operations(page: Page) -> set[tuple[str, str]]:
    """(method, path) of each operation block Swagger UI drew, read from its summary line."""
    pairs = page.locator(".opblock").evaluate_all(
        """blocks => blocks.map(block => [
            block.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
            block.querySelector('.opblock-summary-path').getAttribute('data-path'),
        ])"""
    )
    return {(method, path) for method, path in pairs}


def operation(page: Page, method: str, path: str) -> Locator:
    """The block of one operation, found by method and path: ids and tags may change."""
    return page.locator(f".opblock.opblock-{method}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )


def test_docs_render_and_try_it_out_works_offline(server: Server, browser: Browser) -> None:
    admin = {"X-API-Key": ADMIN_SECRET}
    space = httpx.post(f"{server.url}/v1/spaces", json={"name": "docs"}, headers=admin)
    assert space.status_code == 201, space.text
    space_id = space.json()["id"]
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    page.goto(f"{server.url}/docs", wait_until="networkidle")
    # Swagger UI 4 answers a 3.1 document with this message and no operations.
    refused = page.get_by_text("Unable to render this definition")
    page.locator(".opblock").or_(refused).first.wait_for()
    SCREENSHOTS.mkdir(exist_ok=True)
    overview = SCREENSHOTS / "docs.png"
    page.screenshot(path=overview, full_page=True)
    print(f"\nscreenshot of /docs: {overview}")
    assert refused.count() == 0
    assert rendered_operations(page) == documented_operations(document)
    # The public validator's badge would send the document's URL off-site from a real host
    # (Swagger UI skips it on 127.0.0.1, so the request check below cannot see it).
    assert page.evaluate("ui.getConfigs().validatorUrl") is None

    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").first.fill(ADMIN_SECRET)
    dialog.locator("button.authorize[type=submit]").click()
    dialog.locator("button.btn-done").click()
    expect(dialog).to_have_count(0)

    method, path = LIST_THREADS
    block = operation(page, method, path)
    assert block.count() == 1
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    block.locator('tr[data-param-name="space_id"] input').fill(space_id)
    block.locator("button.execute").click()
    response = block.locator(".live-responses-table tr.response")
    expect(response.locator(".response-col_status")).to_have_text("200")
    expect(response.locator(".response-col_description")).to_contain_text('"object": "list"')
    expect(block.locator(".request-url")).to_contain_text(f"/v1/spaces/{space_id}/threads")
    executed = SCREENSHOTS / "docs-try-it-out.png"
    block.locator(".live-responses-table").scroll_into_view_if_needed()
    page.screenshot(path=executed)
    print(f"screenshot of Try it out: {executed}")

    list_url = f"{server.url}/v1/spaces/{space_id}/threads"
    assert any(url.startswith(list_url) for url in requested), requested
    origin = urlsplit(server.url)
    elsewhere = [
        url
        for url in requested
        if urlsplit(url).scheme not in {"data", "blob"}
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
    ]
    assert elsewhere == []
