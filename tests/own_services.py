"""PostgreSQL and Redis instances a test starts, stops and starts again itself (never the machine's
shared ones), for outage tests: each on a free port with its data in the test's directory."""

import glob
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    def __init__(self, directory: Path):
        self.port, self.directory = _free_port(), directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "OwnRedis":
        """Without persistence: a restart loses every key, as the outage it stands for."""
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            ["redis-server", *arguments, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: redis.Redis.from_url(self.url).ping())
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class OwnPostgres:
    """A cluster of the installed PostgreSQL, run as the `postgres` user (initdb refuses root)."""

    def __init__(self):
        # Not under pytest's directory: the postgres user cannot enter root's private one.
        self.directory = Path(tempfile.mkdtemp(prefix="kb-test-postgres-"))
        shutil.chown(self.directory, "postgres")
        self.port, self.data = _free_port(), self.directory / "pgdata"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
        self._as_postgres(self._bin / "initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres")

    def _as_postgres(self, *command) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")  # fmt: skip

    def start(self) -> "OwnPostgres":
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}"
        self._as_postgres(
            self._bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.data / "log", "-w", "start"
        )
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        _wait(lambda: psycopg.connect(dsn, connect_timeout=1).close())
        return self

    def new_database(self, name: str) -> str:
        """An empty database of this cluster, by its URL."""
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        """As a crash: connections drop at once, nothing is flushed politely."""
        self._as_postgres(self._bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _wait(probe, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
