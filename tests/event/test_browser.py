"""A browser's own EventSource (contract §14): a page from another origin gets a stream
token, opens the stream with it (EventSource cannot send X-API-Key), posts a message through
the API and sees it arrive. Headless Chromium (/usr/bin/chromium) driven by playwright."""

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import ADMIN_SECRET, CHROMIUM, CHROMIUM_ARGS
from tests.servers import Server

pytestmark = pytest.mark.slow

PAGE = "<!doctype html><html><head><title>feed</title></head><body>events</body></html>"
SCRIPT = """
async ({api, space, thread, key}) => {
  const headers = {"X-API-Key": key};
  const created = await fetch(`${api}/v1/spaces/${space}/events/stream-tokens`,
                              {method: "POST", headers});
  const {token} = await created.json();
  const source = new EventSource(
    `${api}/v1/spaces/${space}/events/stream?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => {
    source.onopen = resolve;
    source.onerror = () => reject(new Error("the stream did not open"));
  });
  const arrived = new Promise(resolve => source.addEventListener("message.created",
    event => resolve({id: event.lastEventId, data: JSON.parse(event.data)})));
  const posted = await fetch(`${api}/v1/spaces/${space}/threads/${thread}/messages`, {
    method: "POST",
    headers: {...headers, "Content-Type": "application/json"},
    body: JSON.stringify({content: "sent from the browser"}),
  });
  const message = await posted.json();
  const event = await arrived;
  source.close();
  return {status: posted.status, message, event};
}
"""


@pytest.fixture
def page_origin(tmp_path: Path) -> Iterator[str]:
    """A page served from an origin of its own, as a web app would be."""
    (tmp_path / "feed.html").write_text(PAGE)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_eventsource_in_a_browser_sees_a_posted_message(
    database_url: str, page_origin: str, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(database_url, env={"THREADS_API_CORS_ORIGINS": page_origin})
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}) as admin:
        space = admin.post("/v1/spaces", json={"name": "browser"}).json()
        thread = admin.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "first"}
        ).json()["thread"]
        key = admin.post(
            "/v1/api-keys", json={"name": "web", "scopes": ["write"], "space_ids": [space["id"]]}
        ).json()["secret"]
    args: dict[str, Any] = {"api": server.url, "space": space["id"], "thread": thread["id"]}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{page_origin}/feed.html")
            result = page.evaluate(SCRIPT, {**args, "key": key})
        finally:
            browser.close()
    assert result["status"] == 201
    event = result["event"]
    assert event["data"]["type"] == "message.created"
    assert event["data"]["data"] == result["message"]
    assert event["id"] == str(event["data"]["position"])
    # The key went in a header, never in a URL: no log line holds it.
    assert key not in server.log.read_text()
