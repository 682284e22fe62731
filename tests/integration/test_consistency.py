"""`kb check`: each kind of drift between the database, the engine and the file storage, made here on
purpose, is found; `--repair` removes what can be removed, and search works from the repaired index."""

import tempfile
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import select

from core.consistency import check
from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document, UploadFile
from core.files.storage import file_storage
from core.index import keyword_index
from core.index.engines import get_vector_store
from core.index.keyword_index import IndexedText
from core.index.point_metadata import point_payload
from core.index.writer import write_vectors
from core.segments.models import Segment
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch

KINDS = {
    "chunks without a vector",
    "vectors of no chunk",
    "chunks missing from the full-text index",
    "full-text points of no chunk",
    "files no upload refers to",
    "uploads whose file is missing",
    "collections of no dataset",
    "documents whose points carry old metadata",
}


def _drift(client, tenant) -> tuple[str, str]:
    """Indexes two documents, then breaks their index every way; returns the dataset and the chunk
    whose vector and terms were removed."""
    dataset = create_dataset(client, tenant)
    for name, text in (("otters", "Sea otters hold hands while they sleep. " * 8),
                       ("kelp", "Kelp forests shelter fish and urchins. " * 8)):  # fmt: skip
        created = create_text_document(client, tenant, dataset["id"], name, text).json()
        wait_for_batch(client, tenant, dataset["id"], created["batch"])
    store = get_vector_store()
    with session_scope() as session:
        row = session.get(Dataset, dataset["id"])
        segment = session.scalars(
            select(Segment).join(Document).where(Document.name == "otters", Segment.dataset_id == row.id)
        ).first()
        store.delete_keys(row.vector_collection, [segment.id])  # a chunk without its vector
        keyword_index.delete_texts(session, row.id, [segment.id], {segment.document_id})  # nor its terms
        stray = IndexedText(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), row.workspace_id, row.id,
                            "ghost text about nothing")  # fmt: skip
        write_vectors(row.vector_collection, [stray], np.ones((1, 384), dtype=np.float32) / np.sqrt(384))
        keyword_index.write_texts(session, row.id, [stray])
        kelp = session.scalars(select(UploadFile).where(UploadFile.name == "kelp")).one()
        file_storage(get_settings()).delete(kelp.storage_key)  # an upload whose file is gone
        session.commit()
    with tempfile.NamedTemporaryFile(delete=False) as orphan:
        orphan.write(b"nobody's file")
    name = orphan.name
    file_storage(get_settings()).save("ff/ffff.txt", Path(name))
    store.ensure_collection(f"kb_{uuid.uuid4().hex}_1", 384)
    with session_scope() as session:
        kelp_document = session.scalars(select(Document).where(Document.name == "kelp")).one()
        kelp_document.doc_metadata = {"habitat": "ocean"}  # revision 1, set on its points at commit
        session.commit()
        kelp_id, row = kelp_document.id, session.get(Dataset, dataset["id"])
        for name in (row.vector_collection, keyword_index.term_collections(row.id)[keyword_index.TEXTS]):
            store.set_document_payload(name, kelp_id, point_payload(None, 0))  # the engine lost it
    return dataset["id"], segment.id


def test_check_finds_each_drift_and_repair_removes_it(client, tenant, celery_worker):
    dataset_id, broken_chunk = _drift(client, tenant)
    found = {drift.kind: drift for drift in check(file_grace_seconds=0)}
    assert set(found) == KINDS
    assert found["chunks without a vector"].ids == [broken_chunk]
    assert found["chunks missing from the full-text index"].ids == [broken_chunk]

    repaired = check(repair=True, file_grace_seconds=0)
    assert {drift.kind for drift in repaired if not drift.repaired} == {"uploads whose file is missing"}
    assert {drift.kind for drift in check(file_grace_seconds=0)} == {"uploads whose file is missing"}
    model = {"search_method": "hybrid_search", "reranking_enable": False, "top_k": 1,
             "score_threshold_enabled": False}  # fmt: skip
    body = {"query": "otters hold hands while they sleep", "retrieval_model": model}
    records = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers).json()
    assert records["records"][0]["segment"]["id"] == broken_chunk  # found again, by both legs
    assert records["records"][0]["score_details"]["vector_rank"] == 1
    assert records["records"][0]["score_details"]["keyword_rank"] == 1
    model["metadata_filtering_conditions"] = {"conditions": [{"name": "habitat", "comparison_operator": "is",
                                                              "value": "ocean"}]}  # fmt: skip
    body = {"query": "kelp forests", "retrieval_model": model}
    records = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers).json()
    assert [record["segment"]["document"]["name"] for record in records["records"]] == ["kelp"]


def test_repair_settles_when_node_ids_differ_from_segment_ids(client, tenant, celery_worker):
    """A chunk whose points are keyed by a node id other than its row id (as after an import) is
    neither missing nor stray; when its points are lost, one repair brings them back and the next
    check finds nothing."""
    dataset = create_dataset(client, tenant)
    created = create_text_document(client, tenant, dataset["id"], "otters", "Sea otters hold hands. " * 8)
    wait_for_batch(client, tenant, dataset["id"], created.json()["batch"])
    store = get_vector_store()
    with session_scope() as session:
        row = session.get(Dataset, dataset["id"])
        segment = session.scalars(select(Segment).where(Segment.dataset_id == row.id)).first()
        keyword_index.delete_texts(session, row.id, [segment.id], {segment.document_id})
        store.delete_keys(row.vector_collection, [segment.id])
        segment.index_node_id = str(uuid.uuid4())
        session.commit()
    first = {drift.kind for drift in check(repair=True, file_grace_seconds=0)}
    assert first == {"chunks without a vector", "chunks missing from the full-text index"}
    assert check(repair=True, file_grace_seconds=0) == []
    assert check(file_grace_seconds=0) == []
