"""OpenTelemetry traces over OTLP/HTTP to a local receiver that decodes them as a collector would: a
request's span (continuing the caller's traceparent), the search and its stages under it, and the
indexing run the request queued, in the same trace although a worker ran it."""

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from core import tracing
from tests.helpers import create_dataset, create_text_document, wait_for_batch
from tests.http_servers import serving

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Received:
    def __init__(self):
        self.spans: list = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        received = self

        class Collector(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                with received.lock:
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            received.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        return Collector


@pytest.fixture
def collector():
    received = Received()
    with serving(received.handler()) as url:
        assert tracing.configure_tracing(url)
        yield received
        tracing.shutdown_tracing()  # sends what is buffered


def _named(spans, name: str) -> list:
    return [span for span in spans if span.name == name]


def _attributes(span) -> dict:
    return {item.key: getattr(item.value, item.value.WhichOneof("value")) for item in span.attributes}


def test_requests_searches_and_indexing_are_traced(client, tenant, celery_worker, collector):
    dataset = create_dataset(client, tenant)
    created = create_text_document(
        client, tenant, dataset["id"], "otters", "Sea otters hold hands. " * 60
    ).json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    model = {"search_method": "hybrid_search", "reranking_enable": False, "top_k": 2,
             "score_threshold_enabled": False}  # fmt: skip
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    body = {"query": "otters", "retrieval_model": model}
    searched = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body,
                           headers=tenant.headers | {"traceparent": traceparent})  # fmt: skip
    assert searched.status_code == 200
    tracing.shutdown_tracing()
    spans = collector.spans

    [upload] = _named(spans, "POST /v1/datasets/{dataset_id}/document/create-by-text")
    assert _attributes(upload)["http.response.status_code"] == 200
    run = _named(spans, "index.run")
    assert run and {span.trace_id for span in run} == {upload.trace_id}  # the worker's run joins the trace
    stages = {span.name for span in spans if span.trace_id == upload.trace_id}
    assert {"index.extract", "index.chunk", "index.embed_and_write", "index.go_live"} <= stages
    assert _attributes(_named(spans, "index.go_live")[0])["document_id"] == created["document"]["id"]

    [search_request] = _named(spans, "POST /v1/datasets/{dataset_id}/hit-testing")
    assert (
        search_request.trace_id.hex() == CALLER_TRACE and search_request.parent_span_id.hex() == CALLER_SPAN
    )
    [search] = _named(spans, "search")
    assert (
        search.trace_id == search_request.trace_id and _attributes(search)["search_method"] == "hybrid_search"
    )
    legs = {span.name for span in spans if span.parent_span_id == search.span_id}
    assert {
        "search.query_embedding",
        "search.vector_search",
        "search.keyword_search",
        "search.fusion",
    } <= legs
