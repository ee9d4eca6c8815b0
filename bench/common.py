"""Shared by the bench scripts: databases, servers pinned to CPU 0, wrk pinned to CPU 1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent
LUA = BENCH / "scenario.lua"

DEFAULT_ADMIN_KEY = "tk_bench_admin_key_0123456789abcdef"
ADMIN_KEY = os.environ.get("THREADS_API_ADMIN_KEY") or DEFAULT_ADMIN_KEY
POSTGRES_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") else []


# --- databases -----------------------------------------------------------------------------


@dataclass
class Database:
    kind: str  # "sqlite" | "postgres"
    url: str  # what THREADS_API_DATABASE_URL gets
    name: str = ""
    path: Path | None = None

    @property
    def plain_url(self) -> str:
        """For the ceiling and the loaders: no SQLAlchemy driver suffix."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return self.url.replace("postgresql+asyncpg://", "postgresql://")


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_SERVER.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(kind: str, label: str):
    """A new, empty database; removed (PostgreSQL: dropped) afterwards."""
    OUT.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        # Per process, as the PostgreSQL names are: two benchmarks at once on one machine
        # must not delete each other's database under a running server.
        path = OUT / f"{label}-{os.getpid()}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = Database("sqlite", f"sqlite+aiosqlite:///{path}", path=path)
        try:
            yield db
        finally:
            if not os.environ.get("BENCH_KEEP_DB"):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"threads_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield Database(
            "postgres", _pg_url(name).replace("postgresql://", "postgresql+asyncpg://"), name=name
        )
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(db: Database) -> None:
    env = {**os.environ, "THREADS_API_DATABASE_URL": db.url, "THREADS_API_ADMIN_KEY": ADMIN_KEY}
    subprocess.run(
        [str(VENV_BIN / "threads-api"), "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )


# --- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time (user + system, every thread) of the server and its child processes so
        far: per request, it is what a request costs, whatever share of the CPU the server
        got on a shared machine."""
        return process_tree_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def process_tree_cpu(pid: int) -> float:
    """utime + stime of `pid` and its descendants, in seconds, from /proc (0 when gone)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += process_tree_cpu(int(child))
    except (OSError, IndexError, ValueError):
        pass
    return total


def _wait_healthy(server: Server, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log_path}")
        try:
            with urllib.request.urlopen(server.base + path, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start; see {server.log_path}")


def _log_file(path: Path) -> int:
    """A file descriptor for a child's stderr; close it in the parent once the child started."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def start_ours(
    db: Database,
    label: str,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> Server:
    """`threads-api serve`, one uvicorn worker, pinned to the server CPU."""
    port = free_port()
    log_path = OUT / f"{label}-ours.log"
    env = {
        **os.environ,
        "THREADS_API_DATABASE_URL": db.url,
        "THREADS_API_ADMIN_KEY": ADMIN_KEY,
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            *taskset(SERVER_CPU),
            *(command or [str(VENV_BIN / "threads-api"), "serve"]),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(stderr := _log_file(log_path)),
    )
    os.close(stderr)
    server = Server("ours", port, process, log_path)
    try:
        _wait_healthy(server, "/healthz")
    except BaseException:
        server.stop()
        raise
    return server


def start_ceiling(
    db: Database,
    label: str,
    extra_env: dict[str, str] | None = None,
    *,
    server: str = "uvicorn",
    name: str = "ceiling",
    module: str = "ceiling",
) -> Server:
    """bench/ceiling.py (a raw ASGI app), pinned like ours. `server`: "uvicorn" (httptools,
    uvloop: what ours runs on) or "granian" (ASGI; `.venv/bin/pip install granian`).
    `extra_env`: CEILING_MODE, CEILING_JSON, CEILING_LOG (see ceiling.py)."""
    port = free_port()
    log_path = OUT / f"{label}-{name}.log"
    env = {**os.environ, "CEILING_DATABASE_URL": db.plain_url, **(extra_env or {})}
    process = subprocess.Popen(
        [*taskset(SERVER_CPU), *_server_command(f"{module}:app", port, server, app_dir=BENCH)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(stderr := _log_file(log_path)),
    )
    os.close(stderr)
    started = Server(name, port, process, log_path)
    try:
        _wait_healthy(started, "/v1/nothing")  # any answer (404) means it serves
    except BaseException:
        started.stop()
        raise
    return started


def _server_command(
    app: str, port: int, server: str, *, app_dir: Path | None = None, factory: bool = False
) -> list[str]:
    """The command line serving the ASGI `app` on `port` with one worker, no access log."""
    if server == "granian":
        return [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--loop",
            "uvloop",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            *(["--working-dir", str(app_dir)] if app_dir else []),
            *(["--factory"] if factory else []),
            app,
        ]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        *(["--app-dir", str(app_dir)] if app_dir else []),
        *(["--factory"] if factory else []),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]


def start_ours_on(db: Database, label: str, server: str, name: str = "ours") -> Server:
    """Our app (`create_server_app`) on a bare server command instead of `threads-api serve`:
    for comparing HTTP servers only (no connection limits, no header timeout of our own).
    Migrates first, as `serve` does."""
    migrate(db)
    port = free_port()
    log_path = OUT / f"{label}-{name}.log"
    env = {**os.environ, "THREADS_API_DATABASE_URL": db.url, "THREADS_API_ADMIN_KEY": ADMIN_KEY}
    command = _server_command("threads_api.app:create_server_app", port, server, factory=True)
    process = subprocess.Popen(
        [*taskset(SERVER_CPU), *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(stderr := _log_file(log_path)),
    )
    os.close(stderr)
    started = Server(name, port, process, log_path)
    try:
        _wait_healthy(started, "/healthz")
    except BaseException:
        started.stop()
        raise
    return started


# --- HTTP without dependencies ---------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    base: str, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("X-API-Key", ADMIN_KEY)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, reply_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, reply_headers = error.read(), error.code, error.headers
    parsed = json.loads(raw) if raw else None
    return Reply(status, {k.lower(): v for k, v in reply_headers.items()}, parsed)


def expect(reply: Reply, status: int, what: str) -> Reply:
    if reply.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {reply.status}: {reply.body}")
    return reply


# --- wrk -------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(
    base: str,
    method: str,
    path: str,
    *,
    seconds: int,
    connections: int,
    mode: str = "none",
    body: Any = None,
    key: str = "",
) -> Result:
    """One wrk run on the client CPU; mode none | unique (key is a prefix) | fixed."""
    command = [
        *taskset(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
        "--",
        method,
        path,
        ADMIN_KEY,
        mode,
        "-" if body is None else json.dumps(body),
        key or "-",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}): {completed.stdout}{completed.stderr}"
        )
    raw = json.loads(match.group(1))
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return Result(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        raw=raw,
    )


def machine() -> dict[str, str]:
    def out(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    import sqlite3

    return {
        "nproc": out("nproc"),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": out("uname", "-r"),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "wrk": out("wrk", "-v").splitlines()[0] if shutil.which("wrk") else "missing",
        "load": Path("/proc/loadavg").read_text().strip(),
        "git": out("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
        + f" (+{len(out('git', '-C', str(ROOT), 'status', '--short', 'src').splitlines())}"
        " changed files in src/)",
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def milliseconds(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values) * 1000, 1),
        "p99": round(percentile(values, 0.99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }
