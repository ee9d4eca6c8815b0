"""One delivery attempt: an HTTP/1.1 POST to a vetted address, and its status code.

Plain asyncio rather than an HTTP client library, because what §15 asks is mostly what such
a library does for us and must not: no redirects, no proxy from the environment, connect to
the address vetted in address.py (not to whatever the name resolves to by then), read at most
1 KiB of the answer. TLS is checked against the URL's host name.
"""

import asyncio
import ssl
import time
from dataclasses import dataclass

from threads_api.webhook.address import IpAddress, RefusedAddress, Target, resolve

MAX_RESPONSE_BYTES = 1024
USER_AGENT = "threads-api-webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None  # None: a 2xx
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.error is None


class InvalidResponse(Exception):
    """The endpoint's answer is not HTTP/1.x; the message says how, for the deliveries log."""


_tls = ssl.create_default_context()


async def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Outcome:
    """Send `body` to `url`; a 2xx within `timeout` seconds is a success, anything else an
    Outcome with the reason. Never raises for what the receiver or the network does."""
    started = time.monotonic()
    status: int | None = None
    try:
        async with asyncio.timeout(timeout):
            status = await _exchange(Target.of(url), body, headers, allow_private)
        error = None if 200 <= status < 300 else f"the endpoint answered {status}"
    except RefusedAddress as refused:
        error = str(refused)
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except ssl.SSLError as tls_error:
        error = f"TLS failed: {tls_error.reason or type(tls_error).__name__}"
    except ConnectionRefusedError:
        error = "the connection was refused"
    except OSError as network_error:
        error = f"the connection failed ({type(network_error).__name__})"
    except InvalidResponse as invalid:
        error = str(invalid)
    duration_ms = round((time.monotonic() - started) * 1000)
    return Outcome(status, error, duration_ms)


async def _exchange(
    target: Target, body: bytes, headers: dict[str, str], allow_private: bool
) -> int:
    addresses = await resolve(target, allow_private=allow_private)
    reader, writer = await _connect(target, addresses)
    try:
        head = [
            f"POST {target.path} HTTP/1.1",
            f"Host: {target.host_header}",
            f"User-Agent: {USER_AGENT}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body)
        await writer.drain()
        try:
            return _status(await reader.readuntil(b"\r\n"))
        except asyncio.LimitOverrunError:
            raise InvalidResponse("the endpoint's status line is too long") from None
        except asyncio.IncompleteReadError:
            raise InvalidResponse("the endpoint closed the connection without answering") from None
    finally:
        writer.close()


async def _connect(
    target: Target, addresses: list[IpAddress]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The first vetted address that accepts the connection."""
    last_error: OSError | None = None
    for address in addresses:
        try:
            return await asyncio.open_connection(
                str(address),
                target.port,
                ssl=_tls if target.https else None,
                server_hostname=target.host if target.https else None,
                limit=MAX_RESPONSE_BYTES,
            )
        except ssl.SSLError:
            raise
        except OSError as error:
            last_error = error
    assert last_error is not None  # resolve() returns at least one address
    raise last_error


def _status(line: bytes) -> int:
    """The status code of an HTTP/1.x status line."""
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise InvalidResponse("the endpoint did not answer HTTP/1.x")
    return int(parts[1])
