"""A small HTTP/1.1 proxy that breaks things on purpose, in front of a real server.

Each client connection carries one request: the proxy reads it, forwards it to the server on
a fresh connection (with `Connection: close`), reads the whole answer and relays it, unless a
fault says otherwise:

- `drop`: forward the request, read the server's answer (so the server has committed), then
  close the client's connection without a byte: the answer is lost on the way back.
- `hold`: forward it, then keep the answer back for `seconds` (past the client's timeout).
- `answer`: do not forward; answer with the given bytes (a 503, a 429, …).

An event stream (`…/events/stream`) is relayed as it comes, event by event; its fault
(`cut_stream`) may ask the server from another `Last-Event-ID`, and cut the stream after
some events, with a `stream.reset` event first or without a word.

It runs its own event loop in a thread, so sync and async clients can both use it.
"""

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]


@dataclass
class Fault:
    matches: Callable[[SeenRequest], bool]
    action: str  # "drop", "hold" or "answer"
    times: int = 1
    answer: bytes = b""
    seconds: float = 0.0
    events: int | None = None  # a stream: cut after this many events
    reset: bool = False  # … and send `stream.reset` first
    last_event_id: str | None = None  # ask the server for the stream from here instead


def http_response(status: int, reason: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"content-length: {len(body)}", "connection: close"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def problem_response(status: int, reason: str, code: str, retry_after: str = "0") -> bytes:
    body = (
        f'{{"type": "urn:threads-api:problem:{code}", "title": "{reason}", "status": {status},'
        f' "detail": "Injected by the test proxy.", "code": "{code}", "request_id": "proxy"}}'
    ).encode()
    return http_response(
        status,
        reason,
        body,
        content_type="application/problem+json",
        retry_after=retry_after,
        x_request_id="proxy",
    )


@dataclass
class FaultProxy:
    upstream: str
    requests: list[SeenRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # --- faults ---------------------------------------------------------------------------

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def drop(self, method: str, times: int = 1) -> None:
        self.add(Fault(lambda seen: seen.method == method, "drop", times))

    def hold(self, method: str, seconds: float, times: int = 1) -> None:
        self.add(Fault(lambda seen: seen.method == method, "hold", times, seconds=seconds))

    def answer(self, method: str, response: bytes, times: int = 1) -> None:
        self.add(Fault(lambda seen: seen.method == method, "answer", times, answer=response))

    def cut_stream(
        self, events: int | None, *, reset: bool = False, last_event_id: str | None = None
    ) -> None:
        self.add(
            Fault(
                lambda seen: "/events/stream" in seen.target,
                "stream",
                events=events,
                reset=reset,
                last_event_id=last_event_id,
            )
        )

    def seen(self, method: str) -> list[SeenRequest]:
        with self._lock:
            return [request for request in self.requests if request.method == method]

    def _take(self, seen: SeenRequest) -> Fault | None:
        with self._lock:
            self.requests.append(seen)
            for fault in self.faults:
                if fault.times > 0 and fault.matches(seen):
                    fault.times -= 1
                    return fault
        return None

    # --- running --------------------------------------------------------------------------

    def start(self) -> str:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in handlers:  # a held answer, say
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            fault = self._take(SeenRequest(method, target, headers))
            if "/events/stream" in target:
                await self._stream(lines, fault, writer)
                return
            if fault is not None and fault.action == "answer":
                writer.write(fault.answer)
                await writer.drain()
                return
            answer = await self._forward(lines, body)
            if fault is not None and fault.action == "drop":
                return  # the server has answered (and committed); the client gets nothing
            if fault is not None and fault.action == "hold":
                await asyncio.sleep(fault.seconds)
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(self, lines: list[str], body: bytes) -> bytes:
        kept = [line for line in lines[1:] if line and not line.lower().startswith("connection:")]
        request = "\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n"
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            writer.write(request.encode("latin-1") + body)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()

    async def _stream(
        self, lines: list[str], fault: Fault | None, writer: asyncio.StreamWriter
    ) -> None:
        if fault is not None and fault.last_event_id is not None:
            lines = [line for line in lines if not line.lower().startswith("last-event-id:")]
            lines.append(f"Last-Event-ID: {fault.last_event_id}")
        kept = [line for line in lines[1:] if line and not line.lower().startswith("connection:")]
        request = "\r\n".join([lines[0], *kept, "Connection: close"]) + "\r\n\r\n"
        reader, upstream = await asyncio.open_connection(self._host, self._port)
        try:
            upstream.write(request.encode("latin-1"))
            await upstream.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                writer.write(head + await reader.read())
                return
            chunked = b"transfer-encoding: chunked" in head.lower()
            # Relayed without chunks, the body ending when the connection closes.
            kept_head = [
                line
                for line in head.split(b"\r\n")
                if line and not line.lower().startswith((b"transfer-encoding", b"connection"))
            ]
            writer.write(b"\r\n".join([*kept_head, b"connection: close"]) + b"\r\n\r\n")
            await self._relay_events(reader, chunked, fault, writer)
        finally:
            upstream.close()

    async def _relay_events(
        self,
        reader: asyncio.StreamReader,
        chunked: bool,
        fault: Fault | None,
        writer: asyncio.StreamWriter,
    ) -> None:
        buffer, relayed, last_id = b"", 0, b"0"
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await reader.readexactly(size + 2) if size else b""
                data = data[:-2]
            else:
                data = await reader.read(65536)
            if not data:
                return
            buffer += data
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                writer.write(frame + b"\n\n")
                await writer.drain()
                if frame.startswith(b"id: "):
                    relayed += 1
                    last_id = frame.split(b"\n", 1)[0][4:]
                if fault is not None and fault.events is not None and relayed >= fault.events:
                    if fault.reset:
                        data = b'{"reason":"slow_subscriber","resume_after":%s}' % last_id
                        writer.write(b"id: %s\nevent: stream.reset\ndata: %s\n\n" % (last_id, data))
                        await writer.drain()
                    return
