"""Shared fixtures: the API against SQLite and PostgreSQL, real Redis, workspaces with keys.

Migrations run once per session per database; each test starts from empty tables. The two kinds are
the two ways to run: SQLite with files in the data directory (the embedded defaults), and PostgreSQL
with files in an S3-compatible store (moto's server, started once for the session, an empty bucket
for each test), as a deployment of several hosts runs.
"""

import functools
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from core import database
from core.api_keys import service as api_keys
from core.database import session_scope
from core.index.engines import close_vector_stores
from core.migrate import upgrade_database
from core.models import Base
from core.queue import configure_celery
from core.settings import Settings, get_settings
from core.workspaces import service as workspaces
from tests.helpers import WorkspaceKey
from worker.embedded import EmbeddedWorker

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_TEST_DB = os.environ.get("TEST_POSTGRES_DB", "kb_test")
POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{POSTGRES_TEST_DB}"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
S3_BUCKET = "kb-test"

# The ONNX query graph is made once for the whole run (and every server the tests start), not once
# for each test's data directory.
os.environ.setdefault("MODEL_CACHE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "kb-test-models"))

# Every task the tests cause travels through the real Redis broker (a database of its own).
configure_celery(Settings(redis_url=TEST_REDIS_URL))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_TEST_DB,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{POSTGRES_TEST_DB}"')
    upgrade_database(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "kb.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    database.dispose_engines()
    return path


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with database.get_engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on a local port (moto in server mode), with the tests' bucket."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _s3_client(endpoint).create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


@functools.cache
def _s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                        region_name="us-east-1")  # fmt: skip


def _use_empty_bucket(endpoint: str, monkeypatch) -> None:
    settings = {"STORAGE_TYPE": "s3", "S3_ENDPOINT": endpoint, "S3_BUCKET_NAME": S3_BUCKET,
                "S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test", "S3_REGION": "us-east-1"}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    client = _s3_client(endpoint)
    stored = client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])
    if stored:
        client.delete_objects(Bucket=S3_BUCKET, Delete={"Objects": [{"Key": item["Key"]} for item in stored]})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated, empty database of each kind; the settings point at it for the test."""
    if request.param == "sqlite":
        path = tmp_path / "kb.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
        _use_empty_bucket(request.getfixturevalue("s3_endpoint"), monkeypatch)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield url
    close_vector_stores()
    get_settings.cache_clear()
    if request.param == "sqlite" and url in database._engines:
        database._engines.pop(url).dispose()


@pytest.fixture
def served(database_url) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, as `kb serve` runs it (its lifespan included)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(database_url) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_workspace(database_url):
    def make(name: str = "acme", plan: str | None = None) -> WorkspaceKey:
        with session_scope() as session:
            workspace = workspaces.get_or_create_workspace(session, name, plan)
            key = api_keys.create_key(session, workspace)
            return WorkspaceKey(workspace.id, name, key)

    return make


@pytest.fixture
def tenant(make_workspace) -> WorkspaceKey:
    return make_workspace("acme")


@pytest.fixture
def other_tenant(make_workspace) -> WorkspaceKey:
    return make_workspace("globex")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def celery_worker(broker) -> Iterator[EmbeddedWorker]:
    """A real Celery worker (on a thread of the test process) consuming from the real Redis. Tests that
    do not ask for it have no consumer: their tasks wait in the broker."""
    worker = EmbeddedWorker().start()
    yield worker
    worker.stop()
