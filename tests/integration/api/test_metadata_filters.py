"""Every metadata-filter operator of Dify's API, with `and` and `or`, on both search legs, read
from the metadata on the engine's points; documents whose points are behind are matched by the
database."""

import numpy as np
import pytest
from sqlalchemy import func, select, update

from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document
from core.index import keyword_index
from core.index.engines import get_vector_store, term_collections
from core.index.writer import indexed_texts, write_vectors
from core.segments.models import Segment
from retrieval.conditions import META, metadata_payload
from tests.helpers import create_dataset, create_text_document, wait_for_batch
from tests.metadata_cases import CASES, DOCUMENTS
from worker.recovery import push_stale_metadata


@pytest.fixture
def tagged_dataset(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    batches = []
    for name in DOCUMENTS:
        text = f"Report {name} on cell biology zebrafish experiments."
        response = create_text_document(
            client, tenant, dataset["id"], name, text, process_rule={"mode": "automatic"}
        )
        batches.append(response.json()["batch"])
    for batch in batches:
        wait_for_batch(client, tenant, dataset["id"], batch)
    with session_scope() as session:
        for document in session.query(Document).filter(Document.dataset_id == dataset["id"]):
            document.doc_metadata = DOCUMENTS[document.name] or None
    return dataset


@pytest.mark.parametrize("method", ["semantic_search", "full_text_search"])
def test_operators_on_both_legs(client, tenant, tagged_dataset, method):
    for conditions, expected in CASES:
        _check(client, tenant, tagged_dataset["id"], method, "and", conditions, expected)
    either = [("author", "contains", "Alan"), ("lab", "is", "genomics")]
    _check(client, tenant, tagged_dataset["id"], method, "or", either, {"alpha", "beta", "gamma"})


def _check(client, tenant, dataset_id, method, logical_operator, conditions, expected):
    body = {
        "query": "zebrafish cell biology report",
        "retrieval_model": {
            "search_method": method, "reranking_enable": False, "top_k": 10, "score_threshold_enabled": False,
            "metadata_filtering_conditions": {
                "logical_operator": logical_operator,
                "conditions": [{"name": n, "comparison_operator": op, "value": v} for n, op, v in conditions],
            },
        },
    }  # fmt: skip
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    found = {record["segment"]["document"]["name"] for record in response.json()["records"]}
    assert found == (set(DOCUMENTS) if expected is None else expected), (conditions, logical_operator)


def test_filters_read_the_engine_and_the_database_for_documents_it_has_not_caught_up_with(
    client, tenant, tagged_dataset
):
    dataset_id = tagged_dataset["id"]
    store = get_vector_store()
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        ids = {
            d.name: d.id for d in session.scalars(select(Document).where(Document.dataset_id == dataset_id))
        }
        assert not session.scalar(
            select(func.count()).where(Document.dataset_id == dataset_id, Document.metadata_stale)
        )
        collections = [dataset.vector_collection, *list(term_collections(dataset_id).values())[:2]]
    for name in collections:  # every point of the document carries its metadata
        assert store.payloads(name, [META], document_id=ids["alpha"]) and all(
            payload[META] == metadata_payload(DOCUMENTS["alpha"])[META]
            for payload in store.payloads(name, [META], document_id=ids["alpha"])
        )
    # A push that never reached the engine: its points say genomics, the database immunology.
    for name in collections:
        store.set_document_payload(name, ids["beta"], metadata_payload({"lab": "genomics"}))
    with session_scope() as session:
        session.execute(update(Document).where(Document.id == ids["beta"]).values(metadata_stale=True))
        session.commit()
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        _check(client, tenant, dataset_id, method, "and", [("lab", "is", "genomics")], {"alpha", "gamma"})
        _check(client, tenant, dataset_id, method, "and", [("lab", "is", "immunology")], {"beta"})
        _check(
            client,
            tenant,
            dataset_id,
            method,
            "or",
            [("lab", "in", ["x"]), ("year", ">", 2020)],
            {"beta", "gamma"},
        )
    assert push_stale_metadata() == 1
    with session_scope() as session:
        assert not session.get(Document, ids["beta"]).metadata_stale
    assert {p[META]["lab"] for p in store.payloads(collections[0], [META], document_id=ids["beta"])} == {
        "immunology"
    }
    _check(client, tenant, dataset_id, "hybrid_search", "and", [("lab", "is", "immunology")], {"beta"})


def test_a_write_that_raced_a_metadata_change_leaves_the_new_values_on_its_points(
    client, tenant, tagged_dataset
):
    """A writer reads a document's texts (and metadata), the metadata changes and is pushed, then the
    writer's points land with the old values: once its transaction ends they get the new ones."""
    dataset_id = tagged_dataset["id"]
    with session_scope() as writer:
        dataset = writer.get(Dataset, dataset_id)
        gamma = writer.scalars(
            select(Document).where(Document.dataset_id == dataset_id, Document.name == "gamma")
        ).one()
        gamma_id = gamma.id
        segments = list(writer.scalars(select(Segment).where(Segment.document_id == gamma_id)))
        units = indexed_texts(writer, segments)  # gamma's lab is genomics here
        with session_scope() as other:
            other.get(Document, gamma_id).doc_metadata = {**DOCUMENTS["gamma"], "lab": "virology"}
            other.commit()
        vectors = get_vector_store().vectors(dataset.vector_collection, [unit.node_id for unit in units])
        write_vectors(dataset.vector_collection, units, np.stack([vectors[unit.node_id] for unit in units]))
        keyword_index.write_texts(writer, dataset_id, units)
        writer.commit()
    for method in ("semantic_search", "full_text_search"):
        _check(client, tenant, dataset_id, method, "and", [("lab", "is", "virology")], {"gamma"})
        _check(client, tenant, dataset_id, method, "and", [("lab", "is", "genomics")], {"alpha"})
    with session_scope() as session:
        assert not session.get(Document, gamma_id).metadata_stale
