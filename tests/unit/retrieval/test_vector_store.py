import numpy as np

from retrieval.vector_store import QdrantVectorStore, match_all, point_id


def _vector(*values):
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_upsert_is_idempotent_and_search_filters(tmp_path):
    from retrieval.vector_store import VectorPoint

    store = QdrantVectorStore.connect(None, None, tmp_path / "qdrant")
    store.ensure_collection("c", 3)
    store.ensure_collection("c", 3)
    points = [
        VectorPoint("seg-1", _vector(1, 0, 0), {"dataset_id": "d1", "document_id": "doc-1"}),
        VectorPoint("seg-2", _vector(0, 1, 0), {"dataset_id": "d1", "document_id": "doc-2"}),
    ]
    store.upsert("c", points)
    store.upsert("c", points)
    assert store.count("c") == 2
    hits = store.search("c", _vector(1, 0.1, 0), limit=5)
    assert [hit.key for hit in hits] == ["seg-1", "seg-2"] and hits[0].score > 0.99
    only = store.search("c", _vector(1, 0, 0), limit=5, query_filter=match_all(document_id="doc-2"))
    assert [hit.key for hit in only] == ["seg-2"]
    assert store.keys("c", dataset_id="d1") == {"seg-1", "seg-2"}
    store.delete_where("c", document_id="doc-1")
    store.delete_keys("c", ["seg-2"])
    assert store.count("c") == 0
    assert point_id("seg-1") == point_id("seg-1") != point_id("seg-2")
    store.drop_collection("c")
    assert store.search("c", _vector(1, 0, 0), limit=1) == []
    store.close()
