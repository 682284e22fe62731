"""The knowledge request rate limit through the API, with the in-process window
of the embedded mode and the Redis window of server mode."""

import time

import pytest
from sqlalchemy import select

from core.database import session_scope
from core.rate_limits.models import RateLimitLog
from core.rate_limits.service import LocalSlidingWindow, RedisSlidingWindow
from core.settings import get_settings
from tests.conftest import TEST_REDIS_URL
from tests.helpers import assert_error, create_dataset

REFUSAL = "Sorry, you have reached the knowledge base request rate limit of your subscription."


@pytest.fixture(params=["in-process", "redis"])
def limiter_backend(request, database_url, monkeypatch, broker):
    if request.param == "redis":
        monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
        get_settings.cache_clear()
    return request.param


@pytest.fixture
def sandbox(make_workspace, limiter_backend):
    return make_workspace("small-co", "sandbox")


def _patch(client, owner, dataset_id: str, n: int):
    return client.patch(f"/v1/datasets/{dataset_id}", json={"description": f"v{n}"}, headers=owner.headers)


def test_sandbox_gets_ten_counted_requests_a_minute(client, sandbox, tenant):
    dataset = create_dataset(client, sandbox)  # 1
    for n in range(9):  # 2..10
        assert _patch(client, sandbox, dataset["id"], n).status_code == 200
    refused = _patch(client, sandbox, dataset["id"], 99)
    assert_error(refused, 403, "forbidden", REFUSAL)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Reads are not counted; another workspace has its own window.
    for _ in range(15):
        assert (
            client.get(f"/v1/datasets/{dataset['id']}", headers=sandbox.headers).json()["description"] == "v8"
        )
    assert create_dataset(client, tenant)["id"]
    with session_scope() as session:
        logs = session.scalars(select(RateLimitLog)).all()
        assert [(log.workspace_id, log.subscription_plan, log.operation) for log in logs] == [
            (sandbox.workspace_id, "sandbox", "knowledge")
        ]


def test_refused_requests_change_nothing_and_errors_still_count(client, sandbox):
    dataset = create_dataset(client, sandbox)
    for _ in range(9):  # a 404 behind the limiter is still a counted request, as in Dify
        response = client.delete(
            f"/v1/datasets/{dataset['id']}/documents/{dataset['id']}", headers=sandbox.headers
        )
        assert response.status_code == 404
    assert_error(_patch(client, sandbox, dataset["id"], 1), 403, "forbidden", REFUSAL)
    assert client.get(f"/v1/datasets/{dataset['id']}", headers=sandbox.headers).json()["description"] == ""


def test_bad_keys_are_refused_before_counting(client, sandbox):
    for _ in range(12):
        assert (
            client.post(
                "/v1/datasets", json={"name": "x"}, headers={"Authorization": "Bearer ds-nope"}
            ).status_code
            == 401
        )
    assert create_dataset(client, sandbox)["id"]


def test_multi_dataset_retrieval_counts_once(client, sandbox):
    first, second = create_dataset(client, sandbox, "a"), create_dataset(client, sandbox, "b")
    for n in range(7):  # 2 creates + 7 = 9
        assert _patch(client, sandbox, first["id"], n).status_code == 200
    response = client.post(
        "/v1/retrieval/multi",
        json={"dataset_ids": [first["id"], second["id"]], "query": "cells"},
        headers=sandbox.headers,
    )
    assert response.status_code != 403, response.text  # the 10th request, however many datasets
    assert_error(_patch(client, sandbox, first["id"], 8), 403, "forbidden", REFUSAL)


def test_external_retrieval_is_limited_in_its_own_envelope(client, sandbox):
    dataset = create_dataset(client, sandbox)
    body = {"knowledge_id": dataset["id"], "query": "cells", "retrieval_setting": {"top_k": 2}}
    answers = [client.post("/retrieval", json=body, headers=sandbox.headers) for _ in range(10)]
    assert all(answer.status_code != 403 for answer in answers[:9])
    refused = answers[9]
    assert refused.status_code == 403
    assert refused.json() == {"error_code": 3001, "error_msg": REFUSAL}
    assert int(refused.headers["Retry-After"]) >= 1


def test_set_plan_changes_the_limit(client, sandbox, make_workspace):
    dataset = create_dataset(client, sandbox)
    for n in range(9):
        _patch(client, sandbox, dataset["id"], n)
    assert _patch(client, sandbox, dataset["id"], 9).status_code == 403
    make_workspace("small-co", "professional")
    assert _patch(client, sandbox, dataset["id"], 10).status_code == 200


@pytest.mark.parametrize("backend", ["in-process", "redis"])
def test_window_slides(backend, broker):
    import redis

    window = (
        LocalSlidingWindow()
        if backend == "in-process"
        else RedisSlidingWindow(redis.Redis.from_url(TEST_REDIS_URL))
    )
    key = f"kb:rate_limit:test-{time.time_ns()}"
    assert [window.admit(key, 3, 1.0).admitted for _ in range(3)] == [True] * 3
    refused = window.admit(key, 3, 1.0)
    assert not refused.admitted and 0 < refused.reset <= 1.0
    for _ in range(5):  # refusals are not counted: they do not push the window forward
        window.admit(key, 3, 1.0)
    time.sleep(refused.reset + 0.05)
    assert window.admit(key, 3, 1.0).admitted


def test_counted_requests_carry_ratelimit_headers(client, sandbox):
    """Ours (Dify sends none): the plan's limit, what the window still takes, and when it frees up."""
    dataset = create_dataset(client, sandbox)  # 1
    answers = [_patch(client, sandbox, dataset["id"], n) for n in range(8)]  # 2..9
    answers.append(client.delete(f"/v1/datasets/{dataset['id']}", headers=sandbox.headers))  # 10, a 204
    remaining = [int(answer.headers["RateLimit-Remaining"]) for answer in answers]
    assert remaining == list(range(8, -1, -1))
    assert all(answer.headers["RateLimit-Limit"] == "10" for answer in answers)
    assert all(0 <= int(answer.headers["RateLimit-Reset"]) <= 60 for answer in answers)
    refused = client.post("/v1/datasets", json={"name": "more"}, headers=sandbox.headers)
    assert refused.status_code == 403 and refused.headers["RateLimit-Remaining"] == "0"
    assert int(refused.headers["RateLimit-Reset"]) <= int(refused.headers["Retry-After"])
    external = client.post("/retrieval", json={}, headers=sandbox.headers)
    assert external.status_code == 403 and external.headers["RateLimit-Remaining"] == "0"
    read = client.get("/v1/datasets", headers=sandbox.headers)
    assert read.status_code == 200 and "RateLimit-Limit" not in read.headers  # reads are not counted
