"""Changing the embedding model of a populated dataset (issue 5): the new model's vectors are built in
the background while searches keep working on the old ones, then the dataset switches atomically and
the old collection is dropped. The second model is an OpenAI-compatible API served locally."""

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
from sqlalchemy import select

from bench.corpus import load_corpus
from core.database import session_scope
from core.datasets.models import Dataset
from core.index.engines import get_vector_store
from core.ingestion import vector_index
from core.segments.models import Segment
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch, wait_until
from tests.http_servers import read_json, send_json, serving
from worker.embedded import EmbeddedWorker

HASH_MODEL = "hash-embedding-32"
HASH_DIMENSION = 32
SWITCH_TIMEOUT = 180


def hash_vector(text: str) -> np.ndarray:
    digest = hashlib.sha256(text.encode()).digest()
    vector = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) - 127.5
    return vector / np.linalg.norm(vector)


class _HashEmbeddings(BaseHTTPRequestHandler):
    """/v1/embeddings answering each text with a vector derived from its SHA-256."""

    texts = 0

    def do_POST(self):  # noqa: N802 - the http.server API
        texts = read_json(self)["input"]
        _HashEmbeddings.texts += len(texts)
        data = [{"object": "embedding", "index": i, "embedding": hash_vector(t).tolist()}
                for i, t in enumerate(texts)]  # fmt: skip
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        send_json(self, 200, {"object": "list", "data": data, "model": HASH_MODEL, "usage": usage})

    def log_message(self, *_args):
        pass


@pytest.fixture
def hash_model(database_url, monkeypatch):
    _HashEmbeddings.texts = 0
    with serving(_HashEmbeddings) as url:
        monkeypatch.setenv("EMBEDDING_API_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("EMBEDDING_API_MODELS", HASH_MODEL)
        get_settings.cache_clear()
        monkeypatch.setattr(vector_index, "OLD_COLLECTION_GRACE_SECONDS", 0.5)
        yield _HashEmbeddings


def _populated_dataset(client, tenant, segment_count: int) -> dict:
    """One document, then the remaining segments through the segment API (one title each)."""
    abstracts = load_corpus(segment_count)
    dataset = create_dataset(client, tenant, indexing_technique="high_quality")
    created = create_text_document(
        client, tenant, dataset["id"], "first", abstracts[0]["title"], process_rule={"mode": "automatic"}
    ).json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    segments = [{"content": a["title"] or a["text"][:200]} for a in abstracts[1:segment_count]]
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/{created['document']['id']}/segments",
        json={"segments": segments},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return dataset


def _switch_model(client, tenant, dataset_id: str) -> dict:
    response = client.patch(
        f"/v1/datasets/{dataset_id}",
        json={"embedding_model": HASH_MODEL, "embedding_model_provider": "openai_api_compatible"},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _dataset_row(dataset_id: str) -> Dataset:
    with session_scope() as session:
        return session.get(Dataset, dataset_id)


def _assert_all_vectors_from_hash_model(dataset_id: str) -> None:
    row = _dataset_row(dataset_id)
    assert (row.vector_model, row.pending_vector_collection) == (HASH_MODEL, None)
    with session_scope() as session:
        rows = session.execute(
            select(Segment.index_node_id, Segment.context, Segment.content).where(
                Segment.dataset_id == dataset_id
            )
        ).all()
    # what was embedded: the chunk's context line, then its content
    embedded = {node: f"{context}\n{content}" if context else content for node, context, content in rows}
    stored = get_vector_store().vectors(row.vector_collection, list(embedded))
    assert set(stored) == set(embedded)
    for node_id, vector in stored.items():
        assert np.allclose(vector, hash_vector(embedded[node_id]), atol=1e-5)


def _search(client, tenant, dataset_id: str, query: str) -> tuple[int, int]:
    body = {"query": query, "retrieval_model": {"search_method": "semantic_search", "top_k": 3,
            "reranking_enable": False, "score_threshold_enabled": False}}  # fmt: skip
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers)
    return response.status_code, len(response.json().get("records", []))


def test_model_change_of_500_segments_while_searching(client, tenant, celery_worker, hash_model, monkeypatch):
    monkeypatch.setenv(
        "KNOWLEDGE_RATE_LIMIT_TEAM", "1000000"
    )  # the search loop is far above a team's 1000/min
    get_settings.cache_clear()
    dataset = _populated_dataset(client, tenant, 500)
    old_collection = _dataset_row(dataset["id"]).vector_collection
    outcomes: list[tuple[int, int]] = []
    stop = threading.Event()

    def search_loop():
        while not stop.is_set():
            outcomes.append(_search(client, tenant, dataset["id"], "protein folding in cells"))

    searcher = threading.Thread(target=search_loop)
    searcher.start()
    try:
        time.sleep(0.5)
        answer = _switch_model(client, tenant, dataset["id"])
        assert answer["embedding_model"] == HASH_MODEL
        assert answer["embedding_model_provider"] == "langgenius/openai_api_compatible/openai_api_compatible"
        switched_after = len(outcomes)
        wait_until(lambda: _dataset_row(dataset["id"]).vector_model == HASH_MODEL, SWITCH_TIMEOUT)
        searches_before_switch = len(outcomes) - switched_after
        time.sleep(1)
    finally:
        stop.set()
        searcher.join()
    assert outcomes and all(status == 200 and count == 3 for status, count in outcomes), outcomes
    assert searches_before_switch > 0  # the loop really searched while the new vectors were built
    _assert_all_vectors_from_hash_model(dataset["id"])
    assert hash_model.texts >= 500
    wait_until(lambda: old_collection not in get_vector_store().collection_names(), timeout=30)


def test_chunks_written_during_a_change_reach_both_models(client, tenant, broker, hash_model):
    worker = EmbeddedWorker().start()
    dataset = _populated_dataset(client, tenant, 5)
    worker.stop()  # the build task now waits in the broker: the change stays under way
    _switch_model(client, tenant, dataset["id"])
    row = _dataset_row(dataset["id"])
    assert row.pending_vector_collection and row.vector_model == "all-MiniLM-L6-v2"
    document_id = client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()
    document_id = document_id["data"][0]["id"]
    fact = "Axolotls regenerate entire limbs through blastema formation after amputation."
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/{document_id}/segments",
        json={"segments": [{"content": fact}]},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    node_id = response.json()["data"][0]["index_node_id"]
    store = get_vector_store()
    assert store.vectors(row.vector_collection, [node_id])[node_id].shape == (384,)
    assert np.allclose(
        store.vectors(row.pending_vector_collection, [node_id])[node_id], hash_vector(fact), atol=1e-5
    )
    # Searches still embed the query with the old model and find the new chunk.
    records = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", headers=tenant.headers,
                          json={"query": "limb regeneration in salamanders"}).json()["records"]  # fmt: skip
    assert records[0]["segment"]["content"] == fact
    worker = EmbeddedWorker().start()
    try:
        wait_until(lambda: _dataset_row(dataset["id"]).vector_model == HASH_MODEL, SWITCH_TIMEOUT)
    finally:
        worker.stop()
    _assert_all_vectors_from_hash_model(dataset["id"])


def test_changing_back_before_the_build_cancels_it(client, tenant, broker, hash_model):
    worker = EmbeddedWorker().start()
    dataset = _populated_dataset(client, tenant, 3)
    worker.stop()
    serving_collection = _dataset_row(dataset["id"]).vector_collection
    _switch_model(client, tenant, dataset["id"])
    pending = _dataset_row(dataset["id"]).pending_vector_collection
    response = client.patch(
        f"/v1/datasets/{dataset['id']}",
        json={"embedding_model": "all-MiniLM-L6-v2", "embedding_model_provider": "sentence_transformers"},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    row = _dataset_row(dataset["id"])
    assert (row.vector_collection, row.pending_vector_collection) == (serving_collection, None)
    assert pending not in get_vector_store().collection_names()
    vector_index.build_vectors(dataset["id"])  # the queued task finds nothing left to build
    assert _dataset_row(dataset["id"]).vector_collection == serving_collection


def test_economy_drops_every_collection(client, tenant, broker, hash_model):
    worker = EmbeddedWorker().start()
    dataset = _populated_dataset(client, tenant, 3)
    worker.stop()
    _switch_model(client, tenant, dataset["id"])
    row = _dataset_row(dataset["id"])
    response = client.patch(
        f"/v1/datasets/{dataset['id']}", json={"indexing_technique": "economy"}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    names = get_vector_store().collection_names()
    assert row.vector_collection not in names and row.pending_vector_collection not in names
    assert _search(client, tenant, dataset["id"], "cells")[0] == 200
