"""The request line written around `logging` (logs.RequestLog): the same line as before,
written once the event loop turns, and at exit."""

import asyncio
import io
import json
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from threads_api import middleware
from threads_api.logs import JsonFormatter, RequestLog, current_request_id

REQUEST: dict[str, Any] = {
    "request_id": "req-1.a:b_c",
    "method": "GET",
    # Quotes, a backslash and non-ASCII: the encoder must treat them as JsonFormatter does.
    "path": '/v1/spaces/spc_1/threads/thr_"quoted"\\é✓',
    "status": 200,
    "duration_ms": 12.345,
    "api_key_id": "key_01M8MKTJ66CD0QQXWDCG9M1VNF",
}


class CountingStream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def info_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="threads_api.request")


def as_logging_wrote_it(request: dict[str, Any]) -> str:
    """The line the middleware used to log: `logger.info("request", extra=…)` while serving
    the request (its id in `current_request_id`), formatted by JsonFormatter."""
    fields = {k: v for k, v in request.items() if k != "request_id"}
    record = logging.getLogger("threads_api.request").makeRecord(
        "threads_api.request", logging.INFO, __file__, 1, "request", (), None, extra=fields
    )
    token = current_request_id.set(request["request_id"])
    try:
        return JsonFormatter().format(record)
    finally:
        current_request_id.reset(token)


@pytest.mark.usefixtures("info_level")
@pytest.mark.parametrize("api_key_id", [REQUEST["api_key_id"], None])
def test_the_line_is_the_one_logging_wrote(api_key_id: str | None) -> None:
    request = {**REQUEST, "api_key_id": api_key_id}
    stream = io.StringIO()
    log = RequestLog()
    log.write_to(stream)
    log.write(**request)  # no event loop runs here: written at once

    [line] = stream.getvalue().splitlines()
    before = as_logging_wrote_it(request)
    written, expected = json.loads(line), json.loads(before)
    assert list(written) == list(expected)  # the same keys in the same order
    assert written | {"time": None} == expected | {"time": None}
    assert line == before.replace(expected["time"], written["time"])  # byte for byte
    assert written["time"].endswith("+00:00") and len(written["time"]) == 32


@pytest.mark.usefixtures("info_level")
async def test_lines_are_written_together_once_the_loop_turns() -> None:
    stream = CountingStream()
    log = RequestLog()
    log.write_to(stream)
    for n in range(3):
        log.write(**{**REQUEST, "request_id": f"r{n}"})
    assert stream.writes == 0

    await asyncio.sleep(0)  # nothing else happens: no request, no timer

    assert stream.writes == 1
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [
        "r0",
        "r1",
        "r2",
    ]


@pytest.mark.usefixtures("info_level")
def test_a_loop_closed_before_its_flush_does_not_hold_later_lines() -> None:
    stream = io.StringIO()
    log = RequestLog()
    log.write_to(stream)

    first = asyncio.new_event_loop()

    def serve_one() -> None:
        log.write(**{**REQUEST, "request_id": "first"})
        first.stop()  # in the iteration that wrote the line: its flush never runs

    first.call_soon(serve_one)
    first.run_forever()
    first.close()
    assert stream.getvalue() == ""

    async def serve_another() -> None:
        log.write(**{**REQUEST, "request_id": "second"})

    asyncio.run(serve_another())
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [
        "first",
        "second",
    ]


def test_a_level_above_info_drops_the_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="threads_api.request")
    stream = io.StringIO()
    log = RequestLog()
    log.write_to(stream)
    log.write(**REQUEST)
    assert stream.getvalue() == ""
    assert caplog.records == []


@pytest.mark.usefixtures("info_level")
def test_without_a_stream_the_line_goes_through_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = current_request_id.set(REQUEST["request_id"])
    try:
        RequestLog().write(**REQUEST)  # configure_logging never called: an embedded app
    finally:
        current_request_id.reset(token)
    [record] = caplog.records
    assert record.name == "threads_api.request"
    assert record.getMessage() == "request"
    assert record.__dict__["path"] == REQUEST["path"]  # an `extra` field


@pytest.mark.usefixtures("info_level")
def test_a_stream_that_fails_does_not_fail_the_request() -> None:
    stream = io.StringIO()
    log = RequestLog()
    log.write_to(stream)
    stream.close()
    log.write(**REQUEST)  # ValueError on a closed stream, swallowed


@pytest.mark.usefixtures("info_level")
async def test_lines_still_waiting_are_written_when_the_app_shuts_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uvicorn ends a process told to stop with SIGTERM by raising the signal again once the
    # app is shut down: the loop does not turn again and exit handlers do not run.
    stream = io.StringIO()
    log = RequestLog()
    log.write_to(stream)
    monkeypatch.setattr(middleware, "request_log", log)

    async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
        log.write(**REQUEST)  # a request that ended as the shutdown began
        await send({"type": "lifespan.shutdown.complete"})

    async def receive() -> Message:
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        pass

    await middleware.RequestContextMiddleware(lifespan)({"type": "lifespan"}, receive, send)
    assert json.loads(stream.getvalue())["request_id"] == REQUEST["request_id"]


def test_lines_still_waiting_are_written_at_exit() -> None:
    # The loop is stopped in the iteration that wrote the line and closed: only the exit
    # handler can write it.
    script = textwrap.dedent(
        """
        import asyncio
        from threads_api.logs import configure_logging, request_log

        configure_logging("INFO")
        loop = asyncio.new_event_loop()

        def serve_one() -> None:
            request_log.write(
                request_id="last-one", method="GET", path="/healthz", status=200,
                duration_ms=0.5, api_key_id=None,
            )
            loop.stop()

        loop.call_soon(serve_one)
        loop.run_forever()
        loop.close()
        print("closed", flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "closed\n"
    [line] = [json.loads(line) for line in done.stderr.splitlines()]
    assert line["request_id"] == "last-one" and line["status"] == 200
