"""A private PostgreSQL cluster that tests may stop and start at will.

The machine's shared cluster serves every other test; outage and crash tests stop their own
instead: `initdb` into a temporary directory, on a free port, with its socket in that
directory. It runs as the `postgres` user when the tests run as root (initdb refuses root).
It fails loudly when it cannot start; it never skips. The fixtures `pg_cluster` and
`running_pg_cluster` are in tests/conftest.py.
"""

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.servers import free_port


def _bin_dir() -> Path:
    """The newest PostgreSQL server binaries: PG_BINDIR, else /usr/lib/postgresql/*/bin."""
    if "PG_BINDIR" in os.environ:
        return Path(os.environ["PG_BINDIR"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("no PostgreSQL server binaries (initdb) found; set PG_BINDIR")


@dataclass
class PgCluster:
    """One private cluster: `stop()` is `pg_ctl -m immediate stop` (a crash), `start()`
    brings it back (with crash recovery)."""

    directory: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = self.log.read_text()[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        # Durable as in production: fsync and synchronous_commit stay at their defaults (on).
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.directory}'\n"
                "max_connections = 120\n"
                "shared_buffers = 32MB\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def execute(self, statement: str, database: str = "postgres") -> None:
        connection = await asyncpg.connect(self.dsn(database), timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def create_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        asyncio.run(self.execute(f'CREATE DATABASE "{name}"'))
        return self.url(name)


def _owner() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as error:
        raise RuntimeError("running as root and there is no `postgres` user for initdb") from error
    return "postgres"


def start_cluster() -> PgCluster:
    run_as = _owner()
    # Not under pytest's tmp dir: that one is private to root, and the cluster runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="threads-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    cluster = PgCluster(directory, free_port(), _bin_dir(), run_as)
    cluster.init()
    cluster.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            asyncio.run(cluster.execute("SELECT 1"))
            return cluster
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
