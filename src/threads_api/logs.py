"""JSON log lines on stderr, one object per line."""

import asyncio
import atexit
import json
import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TextIO

# Set by the request middleware, so every line logged while serving a request names it.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# A str as json.dumps(..., ensure_ascii=False) writes it, quotes included.
_json_string: Callable[[str], str] = json.encoder.encode_basestring
_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "api_key_id")
# Objects some lines carry, under their own name: a webhook attempt (webhook/service.py).
_OBJECTS = ("webhook_attempt",)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for field in (*_FIELDS, *_OBJECTS):
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestLog:
    """The one line per request (the middleware's), written around `logging`.

    The line is the one `JsonFormatter` would make of the record, field for field, without
    what `logging` spends on it (a `LogRecord`, the handler's lock, a formatter pass and a
    `write` each: ~25 µs a request on its own, most of what the middleware cost). The lines
    of one event-loop iteration are written together as the loop turns, so a crash loses at
    most that iteration's lines; what is left at exit (or at shutdown, middleware.py) is
    written then.

    Until `configure_logging` gives it a stream (an app served by someone else, the in-process
    tests), the line goes through `logging` like any other.
    """

    logger = logging.getLogger("threads_api.request")

    def __init__(self) -> None:
        self._stream: TextIO | None = None
        self._pending: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # the loop a flush waits on
        self._line_head = (
            f'"level": "info", "logger": {_json_string(self.logger.name)}, "message": "request", '
        )

    def write_to(self, stream: TextIO) -> None:
        self.flush()
        self._stream = stream

    def write(
        self,
        *,
        request_id: str,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        api_key_id: str | None,
    ) -> None:
        # The level as `logger.info` would see it: THREADS_API_LOG_LEVEL=WARNING drops the line.
        if not self.logger.isEnabledFor(logging.INFO):
            return
        if self._stream is None:
            self.logger.info(
                "request",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms,
                    "api_key_id": api_key_id,
                },
            )
            return
        # Written out rather than encoded from a dict: half the cost, the same bytes (strings
        # as json.dumps escapes them, numbers as it writes them; tests/test_logs.py).
        text = _json_string
        key = "null" if api_key_id is None else text(api_key_id)
        self._pending.append(
            f'{{"time": "{datetime.now(UTC).isoformat(timespec="microseconds")}", '
            f'{self._line_head}"request_id": {text(request_id)}, "method": {text(method)}, '
            f'"path": {text(path)}, "status": {status!r}, "duration_ms": {duration_ms!r}, '
            f'"api_key_id": {key}}}'
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to wait for
            self.flush()
            return
        # Compared by loop, not by "nothing pending": a flush left on a loop that was closed
        # before it ran would otherwise hold the lines until exit.
        if loop is not self._flush_on:
            self._flush_on = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_on = None
        if not self._pending or self._stream is None:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a log that cannot be written (a closed pipe) must not fail requests


request_log = RequestLog()
atexit.register(request_log.flush)


def configure_logging(level: str) -> None:
    request_log.write_to(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our middleware writes the one line per request; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
