"""GET /metrics in Prometheus's text format: it parses with prometheus-client's own parser, and its
samples move when requests, searches, indexing and refusals happen, in the API and in a worker."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.service import free_port
from core.metrics import serve_worker_metrics
from tests.helpers import create_dataset, create_text_document, wait_for_batch

TEXT = "Mitochondria make most of the cell's ATP.\n\nThe nucleus keeps the DNA of the cell."


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def test_metrics_move_with_requests_searches_indexing_and_refusals(
    client, tenant, celery_worker, make_workspace
):
    before = _scrape(client)
    dataset = create_dataset(client, tenant, indexing_technique="high_quality")
    batch = create_text_document(client, tenant, dataset["id"], "cells", TEXT).json()["batch"]
    wait_for_batch(client, tenant, dataset["id"], batch)
    model = {"search_method": "hybrid_search", "top_k": 2, "reranking_enable": False,
             "score_threshold_enabled": False, "reranking_mode": "rrf"}  # fmt: skip
    body = {"query": "what makes ATP", "retrieval_model": model}
    assert client.post(
        f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers
    ).is_success
    sandbox = make_workspace("small-co", "sandbox")
    small = create_dataset(client, sandbox)
    for n in range(10):  # the sandbox plan's tenth and eleventh counted requests are refused
        client.patch(f"/v1/datasets/{small['id']}", json={"description": str(n)}, headers=sandbox.headers)
    after = _scrape(client)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    route = {"method": "POST", "route": "/v1/datasets/{dataset_id}/hit-testing"}
    assert moved("kb_http_requests_total", **route, status="200") == 1
    assert moved("kb_http_request_duration_seconds_count", **route) == 1
    assert (
        moved("kb_http_requests_total", method="PATCH", route="/v1/datasets/{dataset_id}", status="403") >= 1
    )
    for stage in ("total", "query_embedding", "vector_search", "keyword_search", "fusion"):
        assert moved("kb_search_duration_seconds_count", method="hybrid_search", stage=stage) == 1
    assert moved("kb_search_duration_seconds_count", method="hybrid_search", stage="rerank") == 0
    assert moved("kb_chunks_indexed_total") >= 1 and moved("kb_embedding_batch_duration_seconds_count") >= 1
    assert moved("kb_rate_limit_refusals_total", plan="sandbox") >= 1
    assert _value(after, "kb_documents", status="completed") >= 1
    assert ("kb_queue_depth", ()) in after


def test_a_worker_serves_its_own_metrics(client, tenant, celery_worker):
    """What `kb worker --metrics-port` starts: the worker's instruments over HTTP."""
    port = free_port()
    serve_worker_metrics(port)
    before = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
    dataset = create_dataset(client, tenant)
    batch = create_text_document(client, tenant, dataset["id"], "cells", TEXT).json()["batch"]
    wait_for_batch(client, tenant, dataset["id"], batch)
    after = _samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
    assert _value(after, "kb_chunks_indexed_total") - _value(before, "kb_chunks_indexed_total") >= 1
