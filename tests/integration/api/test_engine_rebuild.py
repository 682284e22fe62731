"""The database is the source of truth: `kb reindex` rebuilds the engine's collections from it and the
embedding cache; an embedded data directory from qdrant-client's local mode moves to Qdrant Edge, and
missing term collections are built, at start, before anything is served."""

import shutil

from qdrant_client import QdrantClient, models

from core.database import session_scope
from core.datasets.models import Dataset
from core.index.engines import close_vector_stores, get_vector_store
from core.index.keyword_index import term_collections
from core.ingestion.reindex import build_missing_term_collections, migrate_local_mode_vectors, reindex
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch

TEXTS = {
    "koalas": "Koalas sleep most of the day in eucalyptus trees and eat their leaves.",
    "penguins": "Emperor penguins breed on the Antarctic sea ice during the long winter.",
    "volcanoes": "Basaltic volcanoes erupt runny lava that flows far from the vent.",
}


def _indexed_dataset(client, owner) -> dict:
    dataset = create_dataset(client, owner, "animals", indexing_technique="high_quality")
    for name, text in TEXTS.items():
        batch = create_text_document(client, owner, dataset["id"], name, text).json()["batch"]
        wait_for_batch(client, owner, dataset["id"], batch)
    return dataset


def _semantic(client, owner, dataset_id: str, query: str) -> list[tuple[str, float]]:
    return _search(client, owner, dataset_id, "semantic_search", query)


def _search(client, owner, dataset_id: str, method: str, query: str) -> list[tuple[str, float]]:
    body = {"query": query, "retrieval_model": {"search_method": method, "reranking_enable": False,
                                                 "top_k": 3, "score_threshold_enabled": False}}  # fmt: skip
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text
    return [(r["segment"]["document"]["name"], round(r["score"], 5)) for r in response.json()["records"]]


def test_reindex_rebuilds_lost_vectors_and_terms_from_the_database(client, tenant, celery_worker):
    dataset = _indexed_dataset(client, tenant)
    before = _semantic(client, tenant, dataset["id"], "sleepy marsupials in trees")
    words = _search(client, tenant, dataset["id"], "full_text_search", "basaltic lava")
    assert before[0][0] == "koalas" and words[0][0] == "volcanoes"
    described = client.get(f"/v1/datasets/{dataset['id']}", headers=tenant.headers).json()
    store = get_vector_store()
    with session_scope() as session:
        vectors = session.get(Dataset, dataset["id"]).vector_collection
    store.delete_where(vectors, document_id=store.payload_values(vectors, "document_id").pop())
    for name in term_collections(dataset["id"]).values():
        store.drop_collection(name)
    assert store.count(vectors) == 2 and described["document_count"] == 3
    assert _search(client, tenant, dataset["id"], "full_text_search", "basaltic lava") == []
    assert reindex(dataset["id"]) == {dataset["id"]: 6}  # three vectors and three texts
    assert _semantic(client, tenant, dataset["id"], "sleepy marsupials in trees") == before
    # the same texts; scores move a little, the average length being taken afresh over all of them
    rebuilt = _search(client, tenant, dataset["id"], "full_text_search", "basaltic lava")
    assert [name for name, _ in rebuilt] == [name for name, _ in words]


def test_term_collections_missing_at_start_are_built_before_serving(client, tenant, celery_worker):
    """A data directory whose full-text index was still in the database tables (dropped by the
    migration) gets its term collections from the segments."""
    dataset = _indexed_dataset(client, tenant)
    words = _search(client, tenant, dataset["id"], "full_text_search", "penguins on sea ice")
    for name in term_collections(dataset["id"]).values():
        get_vector_store().drop_collection(name)
    assert build_missing_term_collections() == 1 and build_missing_term_collections() == 0
    built = _search(client, tenant, dataset["id"], "full_text_search", "penguins on sea ice")
    assert [name for name, _ in built] == [name for name, _ in words] != []


def test_a_local_mode_data_directory_moves_to_the_embedded_engine(client, tenant, celery_worker):
    dataset = _indexed_dataset(client, tenant)
    before = _semantic(client, tenant, dataset["id"], "ice and cold birds")
    settings = get_settings()
    close_vector_stores()
    shutil.rmtree(settings.resolved_qdrant_path)  # what a data directory of the previous release holds:
    legacy = QdrantClient(path=str(settings.legacy_local_mode_path))  # vectors in local mode only
    legacy.create_collection(
        "kb_old", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE)
    )
    legacy.close()
    assert migrate_local_mode_vectors(settings) is True
    assert not settings.legacy_local_mode_path.exists()
    assert _semantic(client, tenant, dataset["id"], "ice and cold birds") == before
    assert migrate_local_mode_vectors(settings) is False  # once only
