"""Clear answers when something the service depends on is not there: 503 with Retry-After for an
unreachable database, a rate limit that counts per process while Redis is down, and 507 for a full
data directory with nothing half-written left behind."""

import os
import subprocess

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import get_settings
from tests.helpers import create_dataset

UNREACHABLE = "The database is unreachable at the moment; nothing was changed. Please retry shortly."


def test_an_unreachable_database_is_503_and_the_connection_stays_usable(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            for _ in range(2):  # the same client (connection) answers again
                response = client.get("/v1/datasets", headers={"Authorization": "Bearer ds-any"})
                assert response.status_code == 503 and response.headers["Retry-After"] == "5"
                assert response.json() == {
                    "code": "service_unavailable",
                    "message": UNREACHABLE,
                    "status": 503,
                }
    finally:
        get_settings.cache_clear()


def test_rate_limits_count_per_process_while_redis_is_down(client, make_workspace, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    sandbox = make_workspace("small-co", "sandbox")
    dataset = create_dataset(client, sandbox)  # 1 of 10
    answers = [
        client.patch(f"/v1/datasets/{dataset['id']}", json={"description": str(n)}, headers=sandbox.headers)
        for n in range(10)
    ]
    assert [answer.status_code for answer in answers] == [200] * 9 + [403]
    assert answers[0].headers["RateLimit-Remaining"] == "8"


@pytest.fixture
def full_data_directory(tmp_path, monkeypatch):
    """The data directory on a 256 KB tmpfs (root can mount one; this machine's tests run as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    data = tmp_path / "full"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(data)], check=True)
    monkeypatch.setenv("KB_DATA_DIR", str(data))
    get_settings.cache_clear()
    yield data
    subprocess.run(["umount", str(data)], check=False)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_full_data_directory_is_507_and_leaves_no_temp_file(database_url, tenant, full_data_directory):
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        dataset = create_dataset(client, tenant)
        form = {"data": '{"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}'}
        files = {"file": ("big.txt", b"words " * 100_000, "text/plain")}  # 600 KB
        url = f"/v1/datasets/{dataset['id']}/document/create-by-file"
        response = client.post(url, files=files, data=form, headers=tenant.headers)
        assert response.status_code == 507, response.text
        assert response.json()["code"] == "insufficient_storage"
        assert list((full_data_directory / "uploads" / "tmp").iterdir()) == []
        listed = client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()
        assert listed["total"] == 0
        body = {"name": "small", "text": "Fits.", "indexing_technique": "high_quality"}
        small = client.post(
            f"/v1/datasets/{dataset['id']}/document/create-by-text", json=body, headers=tenant.headers
        )
        assert small.status_code == 200, small.text  # once there is room, writes go on


def test_readiness_names_each_dependency(client):
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "search_engine": "ok", "embedding_model": "ok"},
    }


@pytest.mark.parametrize(
    ("variable", "value", "down"),
    [
        ("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "database"),
        ("REDIS_URL", "redis://127.0.0.1:1/0", "redis"),
        ("QDRANT_URL", "http://127.0.0.1:1", "search_engine"),
    ],
)
def test_readiness_is_503_naming_what_is_down(client, monkeypatch, variable, value, down):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    response = client.get("/health/ready")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    checks = response.json()["checks"]
    assert checks[down].startswith("down: ")
    assert [name for name, state in checks.items() if state != "ok"] == [down]
    assert client.get("/health").status_code == 200  # liveness stays cheap and up


def test_readiness_follows_instances_the_test_stops_and_starts(tmp_path, monkeypatch):
    """A PostgreSQL and a Redis of the test's own, stopped and started again: readiness names each
    while it is down, a data route answers 503 (never 500) meanwhile, and both recover by themselves."""
    from core import database
    from core.api_keys import service as api_keys
    from core.database import session_scope
    from core.migrate import upgrade_database
    from core.workspaces import service as workspaces
    from tests.helpers import wait_until
    from tests.own_services import OwnPostgres, OwnRedis

    postgres, cache = OwnPostgres().start(), OwnRedis(tmp_path).start()
    try:
        upgrade_database(postgres.url)
        for name, value in (("DATABASE_URL", postgres.url), ("REDIS_URL", cache.url),
                            ("KB_DATA_DIR", str(tmp_path / "data"))):  # fmt: skip
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        with session_scope() as session:
            key = api_keys.create_key(session, workspaces.get_or_create_workspace(session, "own"))
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(), raise_server_exceptions=False) as client:

            def not_ok() -> tuple[int, list[str]]:
                answer = client.get("/health/ready")
                return answer.status_code, [
                    name for name, state in answer.json()["checks"].items() if state != "ok"
                ]

            assert not_ok() == (200, [])
            cache.stop()
            assert not_ok() == (503, ["redis"])
            cache.start()
            wait_until(lambda: not_ok() == (200, []), timeout=30)
            postgres.stop()
            assert not_ok() == (503, ["database"])
            listed = client.get("/v1/datasets", headers=headers)
            assert listed.status_code == 503 and listed.json()["code"] == "service_unavailable"
            postgres.start()
            wait_until(lambda: not_ok() == (200, []), timeout=30)
            assert client.get("/v1/datasets", headers=headers).status_code == 200
    finally:
        cache.stop()
        postgres.stop()
        postgres.remove()
        database.dispose_engines()
        get_settings.cache_clear()
