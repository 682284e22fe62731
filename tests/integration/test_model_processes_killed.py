"""kill -9 of every model process, again and again, while documents index and searches run: every
document still completes (a batch whose processes died goes to new ones, and a run that fails on it
is retried with back-off), no search answers 500, and no vector is left without its chunk."""

import os
import signal
import threading
import time

from sqlalchemy import func, select

from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document
from core.index.engines import get_embedder, get_vector_store
from core.segments.models import Segment
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch

DOCUMENTS = 80
KILLS = 6


def _model_processes() -> list[int]:
    settings = get_settings()
    embedder = get_embedder(settings.embedding_provider, settings.embedding_model)
    pool = embedder.inner._pool  # the pool of the model's processes (retrieval.embedders)
    return [process.pid for process in (pool._processes or {}).values() if process.is_alive()]


def _unfinished(dataset_id: str) -> int:
    with session_scope() as session:
        return session.scalar(
            select(func.count(Document.id)).where(Document.dataset_id == dataset_id,
                                                  Document.indexing_status != "completed")
        )  # fmt: skip


def test_killed_model_processes_lose_no_document_and_fail_no_search(
    client, tenant, celery_worker, monkeypatch
):
    monkeypatch.setenv("EMBEDDING_PROCESSES", "2")
    # queries on the model processes too (torch), so that searches meet the kills as indexing does
    monkeypatch.setenv("ONNX_QUERY_ENCODER", "false")
    monkeypatch.setenv("INDEXING_RETRY_SECONDS", "0.5")  # the back-off's first step, short for the test
    get_settings.cache_clear()
    dataset = create_dataset(client, tenant)
    notes = [f"Field note {n}: the axolotl regrows limb {n} within weeks. " * 60 for n in range(DOCUMENTS)]
    batches = [
        create_text_document(client, tenant, dataset["id"], f"note {n}", text).json()["batch"]
        for n, text in enumerate(notes)
    ]
    statuses, kills, stop = [], [], threading.Event()

    def search_while_killing() -> None:
        model = {"search_method": "hybrid_search", "reranking_enable": False, "top_k": 2,
                 "score_threshold_enabled": False}  # fmt: skip
        while not stop.is_set():
            body = {"query": f"axolotl limb {len(statuses)}", "retrieval_model": model}
            response = client.post(
                f"/v1/datasets/{dataset['id']}/hit-testing", headers=tenant.headers, json=body
            )
            statuses.append(response.status_code)
            time.sleep(0.2)

    searcher = threading.Thread(target=search_while_killing, daemon=True)
    unfinished_at_kills = []
    for kill in range(KILLS):
        time.sleep(1.0)
        if kill == 1:  # searches begin once a first document is live: before, the dataset answers 400
            wait_for_batch(client, tenant, dataset["id"], batches[0])
            searcher.start()
        unfinished_at_kills.append(_unfinished(dataset["id"]))
        for pid in _model_processes():
            os.kill(pid, signal.SIGKILL)
            kills.append(pid)
    for batch in batches:
        assert {
            s["indexing_status"] for s in wait_for_batch(client, tenant, dataset["id"], batch, timeout=300)
        } == {"completed"}
    stop.set()
    searcher.join(30)
    assert len(kills) >= KILLS and statuses and 200 in statuses
    assert max(unfinished_at_kills) > 0, "the kills came while documents were being indexed"
    assert 500 not in statuses and set(statuses) <= {200, 503}, statuses  # 503: retry, never a crash
    with session_scope() as session:
        segments = session.scalar(select(func.count(Segment.id)).where(Segment.dataset_id == dataset["id"]))
        collection = session.get(Dataset, dataset["id"]).vector_collection
    assert get_vector_store().count(collection) == segments  # no orphan vectors, none missing
