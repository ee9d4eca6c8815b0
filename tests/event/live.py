"""A real HTTP server in the test's own event loop: streams need one (httpx's ASGI transport
buffers a response until it ends), and the test can still look at the app's state. The `live`
fixture (conftest.py) starts one per test."""

import asyncio
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from tests.helpers import ADMIN_SECRET, Api
from threads_api.api_key.service import api_key as api_key_service
from threads_api.app import create_app
from threads_api.config import Settings
from threads_api.server import ConnectionLimits, ServerConfig, ThreadsHttpProtocol, listen
from threads_api.state import app_state


@dataclass
class Live:
    url: str
    app: FastAPI
    http: httpx.AsyncClient  # with the admin key
    api: Api
    server: uvicorn.Server
    task: "asyncio.Task[None]"

    async def stop(self) -> None:
        """A graceful shutdown, as on SIGTERM."""
        self.server.should_exit = True
        await asyncio.wait_for(asyncio.shield(self.task), 30)


async def start_live(settings: Settings) -> Live:
    app = create_app(settings)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = ServerConfig(
        app,  # type: ignore[arg-type]
        limits=ConnectionLimits(header_timeout_seconds=10, max_connections=1000),
        http=ThreadsHttpProtocol,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.01)
    await api_key_service.bootstrap(app_state(app).database, ADMIN_SECRET)
    url = f"http://127.0.0.1:{port}"
    http = httpx.AsyncClient(base_url=url, headers={"X-API-Key": ADMIN_SECRET}, timeout=30)
    return Live(url, app, http, Api(http), server, task)
