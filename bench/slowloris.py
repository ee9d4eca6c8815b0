"""Slowloris probe: N sockets that never finish their headers, and /healthz meanwhile.

    .venv/bin/python bench/slowloris.py http://127.0.0.1:8000 --sockets 300 --watch 15

Opens the sockets, each sending a request line and part of a header, then for `--watch`
seconds keeps them dribbling (one byte a second, as a slowloris does) while it asks /healthz
twice a second on a new connection. Prints, per second: how many slow sockets the server
still holds open and what /healthz answered (status or error, and latency). Used to measure
the header deadline and connection limit of src/threads_api/server.py (issue 9).
"""

import argparse
import contextlib
import select
import socket
import time
from urllib.parse import urlsplit

import httpx


def probe(url: str) -> tuple[str, float]:
    started = time.monotonic()
    try:
        response = httpx.get(f"{url}/healthz", timeout=2)
        answer = str(response.status_code)
        if response.status_code != 200:
            answer += f" {response.json().get('code', '')}"
    except httpx.HTTPError as error:
        answer = type(error).__name__
    return answer, (time.monotonic() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--sockets", type=int, default=300)
    parser.add_argument("--watch", type=float, default=15)
    args = parser.parse_args()
    address = urlsplit(args.url)
    assert address.hostname and address.port

    slow: list[socket.socket] = []
    for n in range(args.sockets):
        sock = socket.create_connection((address.hostname, address.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % n)
        sock.setblocking(False)
        slow.append(sock)
    print(f"{len(slow)} slow sockets open")

    started = time.monotonic()
    next_dribble = started
    next_report = started
    answers: list[tuple[str, float]] = []
    while (now := time.monotonic()) - started < args.watch:
        # Sockets the server closed become readable with b"" (or a reset): drop them.
        readable, _, _ = select.select(slow, [], [], 0) if slow else ([], [], [])
        for sock in readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                slow.remove(sock)
                sock.close()
        if now >= next_dribble:
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            next_dribble = now + 1
        answers.append(probe(args.url))
        if time.monotonic() >= next_report:
            latest = ", ".join(f"{a} {ms:.0f} ms" for a, ms in answers)
            print(f"t={now - started:5.1f}s  slow sockets open: {len(slow):4d}  /healthz: {latest}")
            answers.clear()
            next_report += 1
        time.sleep(0.5)
    for sock in slow:
        sock.close()


if __name__ == "__main__":
    main()
