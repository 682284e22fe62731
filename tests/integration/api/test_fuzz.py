"""Requests generated from our OpenAPI document (schemathesis) against the app on PostgreSQL: no
answer is a 5xx, and every error is in the `{code, message, status}` envelope (the external
`/retrieval` answers its authorization and lookup errors in its own `{error_code, error_msg}`).
Path ids point at a real dataset, document and batch of the caller, so generated bodies reach the
handlers instead of stopping at a 404."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
EXAMPLES_PER_OPERATION = 60
MIN_REQUESTS = 2000
SEGMENT_CREATE = ("POST", "/v1/datasets/{dataset_id}/documents/{document_id}/segments")
sent: list[int] = []


@pytest.fixture
def owned(client, tenant, monkeypatch) -> dict:
    monkeypatch.setenv("KNOWLEDGE_RATE_LIMIT_ENABLED", "false")  # thousands of requests in a minute
    get_settings.cache_clear()
    return {"client": client, "tenant": tenant}


def _real_ids(client, tenant, cache: dict) -> dict:
    """A dataset with one (waiting) document of the caller; made again if a generated DELETE removed it."""
    if "dataset_id" in cache:
        alive = client.get(f"/v1/datasets/{cache['dataset_id']}", headers=tenant.headers).status_code == 200
        if alive:
            return cache
    dataset = create_dataset(client, tenant, f"fuzz-{len(sent)}")
    document = create_text_document(
        client, tenant, dataset["id"], "doc", "Some text.", process_rule={"mode": "automatic"}
    ).json()
    cache.clear()
    cache.update(dataset_id=dataset["id"], document_id=document["document"]["id"], batch=document["batch"])
    return cache


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_never_break_the_server(case, owned, database_url):
    client, tenant = owned["client"], owned["tenant"]
    cache = owned.setdefault("ids", {})
    ids = _real_ids(client, tenant, cache)
    for name in ("dataset_id", "document_id", "batch"):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = ids[name]
    response = case.call(headers=tenant.headers)
    sent.append(response.status_code)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        body = response.json()
        if case.path == "/retrieval" and "error_code" in body:
            assert set(body) == {"error_code", "error_msg"}, body
        elif (case.method, case.path) == SEGMENT_CREATE and set(body) == {"error"}:
            pass  # Dify's own exception for this route's body errors
        else:
            assert set(body) >= {"code", "message", "status"} and body["status"] == response.status_code, body


def test_the_fuzz_run_was_large_enough():
    """Runs after the generated tests (pytest keeps file order)."""
    if not sent:
        pytest.skip("run together with the generated tests")
    assert len(sent) >= MIN_REQUESTS, len(sent)
    print(f"\n{len(sent)} generated requests, none answered 5xx")
