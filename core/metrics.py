"""Prometheus metrics of the API and the workers, through prometheus-client.

The instruments live in this module's registry and are updated where the work happens (requests in
`api.metrics`, searches in `core.search.service`, indexing in `core.ingestion.stages`, refusals in
`core.rate_limits.service`, recoveries in `core.ingestion.recovery`). What the database or the queue
knows (documents by status, tasks waiting) is read when the metrics are scraped. With several API
processes (`kb serve --workers N`) each writes its samples under PROMETHEUS_MULTIPROC_DIR and a
scrape of any of them sums them all (prometheus-client's multiprocess mode).
"""

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "kb_http_requests", "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "kb_http_request_duration_seconds", "Time to answer a request, by method and route template",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
SEARCH_SECONDS = Histogram(
    "kb_search_duration_seconds",
    "Search time by method and stage (total, query_embedding, vector_search, keyword_search, fusion, rerank)",
    ["method", "stage"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
RATE_LIMIT_REFUSALS = Counter(
    "kb_rate_limit_refusals", "Knowledge requests refused by the rate limit, by plan", ["plan"]
)
CHUNKS_INDEXED = Counter("kb_chunks_indexed", "Chunks written to the indexes by indexing runs")
EMBEDDING_BATCH_SECONDS = Histogram(
    "kb_embedding_batch_duration_seconds", "Time from sending a batch of chunks to the model to its vectors",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
DOCUMENT_RECOVERIES = Counter(
    "kb_document_recoveries", "Documents re-queued because their run was lost or never started, by cause",
    ["cause"],
)  # fmt: skip


class StateCollector:
    """Documents by indexing status and tasks waiting in the queue, read at each scrape."""

    def collect(self):
        from sqlalchemy import func, select

        from core.database import session_scope
        from core.documents.models import Document
        from core.queue import queue_depth

        documents = GaugeMetricFamily("kb_documents", "Documents by indexing status", labels=["status"])
        with session_scope() as session:
            statuses = select(Document.indexing_status, func.count()).group_by(Document.indexing_status)
            for status, count in session.execute(statuses):
                documents.add_metric([status], count)
        yield documents
        yield GaugeMetricFamily("kb_queue_depth", "Tasks waiting in the indexing queue", value=queue_depth())


def render() -> bytes:
    """The text exposition of this process's instruments (of every API process's in multiprocess
    mode), then of the state read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    state = CollectorRegistry()
    state.register(StateCollector())
    return generate_latest(registry) + generate_latest(state)


def serve_worker_metrics(port: int) -> None:
    """`kb worker --metrics-port`: this worker's instruments over HTTP on their own port."""
    start_http_server(port, registry=REGISTRY)
