"""The database and the broker go down in the middle of a batch, under a `kb serve` on PostgreSQL and
Redis that the test starts, stops and starts again itself (never the machine's shared ones). Nothing is
restarted but the dependency: every document must still end `completed` with exactly a clean run's
chunks, and while the database is down the API answers 503, never 500."""

import time
from collections import Counter

import httpx
import pytest

from bench.service import EmbeddedServer
from core.migrate import upgrade_database
from tests.batch_runs import (
    abstracts,
    assert_engine_holds,
    clean_counts,
    seconds_until_all_completed,
    segment_counts,
    send_batch,
    wait_for_a_completed_document,
)
from tests.own_services import OwnPostgres, OwnRedis

DOCUMENTS = 40
DATABASE_DOWN_SECONDS = 20
RECOVERY_SECONDS = 120


@pytest.fixture(scope="module")
def postgres():
    cluster = OwnPostgres().start()
    yield cluster
    cluster.stop()
    cluster.remove()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    instance = OwnRedis(tmp_path_factory.mktemp("redis")).start()
    yield instance
    instance.stop()


def _serve(workdir, database_url: str, cache: OwnRedis) -> EmbeddedServer:
    """One process on server-mode dependencies: PostgreSQL, Redis as broker and rate-limit store, and
    the worker inside (the embedded engine opens in one process; no Qdrant server here)."""
    upgrade_database(database_url)
    return EmbeddedServer(workdir, DATABASE_URL=database_url, REDIS_URL=cache.url, KB_EMBEDDED_WORKER="true")


def _answers_while(seconds: float, client: httpx.Client, dataset_id: str) -> Counter:
    """The status codes of a listing and a hit-test, asked every half second."""
    answers: Counter = Counter()
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        answers[client.get(f"/v1/datasets/{dataset_id}/documents").status_code] += 1
        hit = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json={"query": "protein folding"})
        answers[hit.status_code] += 1
        time.sleep(0.5)
    return answers


def test_postgresql_down_for_20_s_mid_batch(tmp_path, postgres, cache):
    corpus = abstracts(DOCUMENTS)
    server = _serve(tmp_path, postgres.new_database("database_outage"), cache)
    headers = {"Authorization": f"Bearer {server.first_key()}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            dataset_id = client.post("/v1/datasets", json={"name": "outage"}).json()["id"]
            send_batch(client, dataset_id, corpus)
            wait_for_a_completed_document(client, dataset_id)
            postgres.stop()
            try:
                answers = _answers_while(DATABASE_DOWN_SECONDS, client, dataset_id)
            finally:
                postgres.start()
            recovered = seconds_until_all_completed(client, [dataset_id], RECOVERY_SECONDS)
            counts = segment_counts(client, dataset_id)
    finally:
        server.stop()
    assert set(answers) == {503}, answers
    assert counts == clean_counts(corpus)
    assert_engine_holds(tmp_path / "data" / "qdrant-edge", dataset_id, sum(counts.values()))
    print(f"\nPostgreSQL down {DATABASE_DOWN_SECONDS} s: all {DOCUMENTS} completed {recovered:.1f} s after")


def test_redis_restarted_empty_mid_batch(tmp_path, postgres, cache):
    """The queue is lost with Redis (no persistence): the tasks of the batch that was not running yet
    are gone, and must be found again without a restart; so must that of a document created while
    Redis is down, whose create succeeds."""
    first, second = abstracts(DOCUMENTS // 2), abstracts(DOCUMENTS // 2, skip=DOCUMENTS // 2)
    late = abstracts(1, skip=DOCUMENTS)
    server = _serve(tmp_path, postgres.new_database("broker_outage"), cache)
    headers = {"Authorization": f"Bearer {server.first_key()}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            dataset_ids = [client.post("/v1/datasets", json={"name": name}).json()["id"] for name in "ab"]
            for dataset_id, corpus in zip(dataset_ids, (first, second), strict=True):
                send_batch(client, dataset_id, corpus)
            wait_for_a_completed_document(client, dataset_ids[0])
            cache.stop()
            try:
                answers = _answers_while(3, client, dataset_ids[0])
                send_batch(client, dataset_ids[1], late)
            finally:
                cache.start()
            recovered = seconds_until_all_completed(client, dataset_ids, RECOVERY_SECONDS)
            counts = [segment_counts(client, dataset_id) for dataset_id in dataset_ids]
    finally:
        server.stop()
    assert set(answers) == {200}, answers  # rate limits count per process meanwhile
    assert counts == [clean_counts(first), clean_counts(second | late)]
    for dataset_id, dataset_counts in zip(dataset_ids, counts, strict=True):
        assert_engine_holds(tmp_path / "data" / "qdrant-edge", dataset_id, sum(dataset_counts.values()))
    print(f"\nRedis restarted empty: all {DOCUMENTS + 1} completed {recovered:.1f} s after it came back")
