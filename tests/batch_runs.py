"""A batch of SciFact abstracts sent to a running `kb serve` over HTTP, as a user sends them, and what a
clean run of that batch gives, for the tests that break something in the middle of it."""

import time

import httpx

from bench.corpus import document_text, load_corpus
from core.index.engines import collection_name
from core.index.keyword_index import TEXTS, term_collections
from core.ingestion.planning import plan_segments
from core.ingestion.process_rules import AUTOMATIC_RULES
from core.settings import Settings
from etl.extractors.base import ExtractedPart
from retrieval.edge_store import EdgeVectorStore


def abstracts(count: int, skip: int = 0) -> dict[str, str]:
    return {item["_id"]: document_text(item) for item in load_corpus(skip + count)[skip:]}


def send_batch(client: httpx.Client, dataset_id: str, corpus: dict[str, str]) -> None:
    for name, text in corpus.items():
        body = {
            "name": name,
            "text": text,
            "indexing_technique": "high_quality",
            "process_rule": {"mode": "automatic"},
        }
        client.post(f"/v1/datasets/{dataset_id}/document/create-by-text", json=body).raise_for_status()


def statuses(client: httpx.Client, dataset_id: str) -> dict[str, str]:
    listing = client.get(f"/v1/datasets/{dataset_id}/documents", params={"limit": 100}).json()
    return {item["name"]: item["indexing_status"] for item in listing["data"]}


def wait_for_a_completed_document(client: httpx.Client, dataset_id: str, timeout: float = 120) -> None:
    """Until the batch is under way: one document done, the others waiting or indexing."""
    deadline = time.monotonic() + timeout
    while "completed" not in statuses(client, dataset_id).values():
        assert time.monotonic() < deadline, "indexing did not start"
        time.sleep(0.2)


def seconds_until_all_completed(client: httpx.Client, dataset_ids: list[str], timeout: float) -> float:
    started = time.monotonic()
    while any(set(statuses(client, dataset_id).values()) != {"completed"} for dataset_id in dataset_ids):
        assert time.monotonic() - started < timeout, [
            statuses(client, dataset_id) for dataset_id in dataset_ids
        ]
        time.sleep(0.2)
    return time.monotonic() - started


def segment_counts(client: httpx.Client, dataset_id: str) -> dict[str, int]:
    counts = {}
    for item in client.get(f"/v1/datasets/{dataset_id}/documents", params={"limit": 100}).json()["data"]:
        path = f"/v1/datasets/{dataset_id}/documents/{item['id']}/segments"
        counts[item["name"]] = client.get(path, params={"limit": 1}).json()["total"]
    return counts


def clean_counts(corpus: dict[str, str]) -> dict[str, int]:
    """The chunks each document makes when nothing goes wrong."""
    rule = {"mode": "automatic", "rules": AUTOMATIC_RULES}
    return {
        name: len(plan_segments(Settings(), "text_model", None, rule, [ExtractedPart(text)], None, "txt"))
        for name, text in corpus.items()
    }


def assert_engine_holds(engine_dir, dataset_id: str, chunks: int) -> None:
    """One vector and one full-text entry per chunk, no orphans (read once the service has stopped:
    the engine's directory opens in one process)."""
    store = EdgeVectorStore(engine_dir)
    try:
        assert store.count(collection_name(dataset_id)) == chunks
        texts = term_collections(dataset_id)[TEXTS]
        assert store.count(texts) == chunks
    finally:
        store.close()
