"""Both vector stores behave the same: Qdrant Edge in-process (the embedded default) and the Qdrant
server path through qdrant-client, here run against qdrant-client's in-memory implementation of the
same API, so the requests the server path builds are executed for real."""

import json
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.search.filters import engine_condition
from core.search.schemas import MetadataCondition
from retrieval.bm25 import lucene_idf, query_weights, saturated_weights, term_index
from retrieval.conditions import Condition, Restriction, keyword_key, metadata_payload, only_documents
from retrieval.edge_store import EDGE_CONFIG_FILE, EdgeVectorStore
from retrieval.vector_store import TERMS, QdrantVectorStore, TermPoint, VectorPoint, point_id
from tests.metadata_cases import CASES, DOCUMENTS


def _vector(*values):
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


# qdrant-client's in-memory Qdrant warns that it ignores payload indexes; the server uses them.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path):
    if request.param == "edge":
        opened = EdgeVectorStore(tmp_path / "engine")
    else:
        opened = QdrantVectorStore(QdrantClient(":memory:"), shard_number=2, replication_factor=1)
    yield opened
    opened.close()


def test_upsert_is_idempotent_and_search_filters_by_document(store):
    store.ensure_collection("c", 3)
    store.ensure_collection("c", 3)
    points = [
        VectorPoint("seg-1", _vector(1, 0, 0), {"dataset_id": "d1", "document_id": "doc-1"}),
        VectorPoint("seg-2", _vector(0, 1, 0), {"dataset_id": "d1", "document_id": "doc-2"}),
        VectorPoint("seg-3", _vector(0, 0, 1), {"dataset_id": "d1", "document_id": "doc-3"}),
    ]
    store.upsert("c", points)
    store.upsert("c", points)
    assert store.count("c") == 3 and store.count("c", document_id="doc-2") == 1
    hits = store.search("c", _vector(1, 0.1, 0), limit=2)
    assert [hit.key for hit in hits] == ["seg-1", "seg-2"] and hits[0].score > 0.99
    assert hits[0].payload["document_id"] == "doc-1"
    only = store.search("c", _vector(1, 0, 0), limit=5, restriction=only_documents(["doc-2", "doc-3"]))
    assert {hit.key for hit in only} == {"seg-2", "seg-3"}
    assert store.search("c", _vector(1, 0, 0), limit=5, restriction=only_documents([])) == []
    assert store.keys("c", dataset_id="d1") == {"seg-1", "seg-2", "seg-3"}
    assert store.payload_values("c", "document_id") == {"doc-1", "doc-2", "doc-3"}
    stored = store.vectors("c", ["seg-2", "missing"])
    assert list(stored) == ["seg-2"] and np.allclose(stored["seg-2"], _vector(0, 1, 0))
    query = _vector(1, 2, 0)
    similarities = store.similarities("c", query, ["seg-2", "seg-3", "missing"])
    assert similarities.keys() == {"seg-2", "seg-3"}
    assert similarities == pytest.approx({"seg-2": query @ _vector(0, 1, 0), "seg-3": 0.0}, abs=1e-6)
    store.delete_where("c", document_id="doc-1")
    store.delete_keys("c", ["seg-2"])
    assert store.keys("c") == {"seg-3"}
    assert point_id("seg-1") == point_id("seg-1") != point_id("seg-2")
    assert store.collection_names() == ["c"]
    store.drop_collection("c")
    assert store.search("c", _vector(1, 0, 0), limit=1) == [] and store.collection_names() == []
    assert store.count("c") == 0 and store.keys("c") == set() and store.vectors("c", ["seg-3"]) == {}


def test_edge_reopens_its_collections_after_a_restart_with_the_search_threads_now_set(tmp_path):
    first = EdgeVectorStore(tmp_path / "engine", search_threads=0)
    first.ensure_collection("c", 3)
    first.ensure_term_collection("t")
    first.upsert("c", [VectorPoint("seg-1", _vector(1, 0, 0), {"document_id": "doc-1"})])
    first.upsert_terms("t", [TermPoint(str(uuid.uuid4()), {7: 1.0}, {"document_id": "doc-1"})])
    first.close()
    second = EdgeVectorStore(tmp_path / "engine", search_threads=1)
    assert second.collection_names() == ["c", "t"]
    assert [hit.key for hit in second.search("c", _vector(1, 0, 0), limit=1)] == ["seg-1"]
    assert len(second.search_terms("t", {7: 1.0}, limit=5)) == 1
    second.close()
    for name in ("c", "t"):
        persisted = json.loads((tmp_path / "engine" / name / EDGE_CONFIG_FILE).read_text())
        assert persisted["max_search_threads"] == 1


def test_edge_builds_its_hnsw_index_in_the_background_and_stays_exact(tmp_path):
    """Past the threshold of points outside the graph, an optimisation runs while searches go on;
    every search before and after agrees with exact cosine ranking."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = EdgeVectorStore(tmp_path / "engine", optimize_after=1000)
    store.ensure_collection("c", 16)
    store.upsert("c", [VectorPoint(f"k{i}", v, {"document_id": f"d{i % 10}"}) for i, v in enumerate(vectors)])
    queries = vectors[:20] + 0.05 * rng.normal(size=(20, 16)).astype(np.float32)
    for _ in range(2):
        for query in queries:
            expected = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:5]
            found = [int(hit.key[1:]) for hit in store.search("c", query / np.linalg.norm(query), limit=5)]
            assert found[0] == expected[0] and len(set(found) & set(expected)) >= 4
        store.wait_for_optimizations(timeout=120)
    store.close()


def _term_points(count: int, start: int = 0) -> list[TermPoint]:
    """Points of 70 terms each: 20,000 of them pass the size from which Edge compacts a segment."""
    rng = np.random.default_rng(start)
    weights = [
        dict(
            zip(map(int, rng.choice(5000, 70, replace=False)), map(float, rng.random(70) + 0.5), strict=True)
        )
        for _ in range(count)
    ]  # distinct weights: no two points tie
    return [
        TermPoint(str(uuid.UUID(int=i + 1)), weights[i - start], {"document_id": f"d{i % 7}"})
        for i in range(start, start + count)
    ]


def _segments(path, name: str) -> int:
    return len(list((path / name / "segments").iterdir()))


def test_term_collections_are_optimised_after_enough_writes_with_the_same_rankings(tmp_path):
    """Edge indexes terms at once, in a mutable in-memory index twice the size of an optimised one:
    past the threshold of points written, an optimisation compacts it, and every ranking and idf
    stays what it was."""
    store = EdgeVectorStore(tmp_path / "engine", optimize_after=15_000)
    store.ensure_term_collection("t")
    store.upsert_terms("t", _term_points(10_000))
    query = {3: 1.0, 17: 1.0, 41: 1.0}
    before, idf = store.search_terms("t", query, limit=20), store.term_idf("t", [3, 17, 41])
    store.wait_for_optimizations(timeout=120)
    assert _segments(tmp_path / "engine", "t") == 1  # under the threshold: not yet
    store.upsert_terms("t", _term_points(10_000, start=10_000))
    store.wait_for_optimizations(timeout=120)
    assert _segments(tmp_path / "engine", "t") > 1  # optimised segments and a new empty one
    after = store.search_terms("t", query, limit=20)
    assert store.size("t") == 20_000 and len(after) == 20
    store.delete_terms("t", [point.key for point in _term_points(10_000, start=10_000)])
    assert store.search_terms("t", query, limit=20) == pytest.approx(before)
    assert store.term_idf("t", [3, 17, 41]) == pytest.approx(idf)
    store.close()


def test_a_term_collection_never_optimised_is_at_its_first_use(tmp_path):
    """Term collections written before they were optimised hold every term in the mutable index."""
    store = EdgeVectorStore(tmp_path / "engine", optimize_after=100_000)
    store.ensure_term_collection("t")
    store.upsert_terms("t", _term_points(20_000))
    expected = store.search_terms("t", {5: 1.0, 9: 1.0}, limit=10)
    store.close()
    assert _segments(tmp_path / "engine", "t") == 1
    reopened = EdgeVectorStore(tmp_path / "engine", optimize_after=15_000)
    assert reopened.search_terms("t", {5: 1.0, 9: 1.0}, limit=10) == pytest.approx(expected)
    reopened.wait_for_optimizations(timeout=120)
    assert _segments(tmp_path / "engine", "t") > 1
    assert reopened.search_terms("t", {5: 1.0, 9: 1.0}, limit=10) == pytest.approx(expected)
    reopened.close()


def test_term_collections_rank_by_bm25_with_the_engines_idf(store):
    """The same sparse vectors and query give the same BM25 in both stores: Lucene's idf over the
    points, times the weights written; document and key restrictions; payload-only records."""
    store.ensure_term_collection("t")
    store.ensure_term_collection("t")
    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))  # texts are keyed by their UUIDs
    texts = {a: {"cell": 2, "dna": 1}, b: {"dna": 1}, c: {"protein": 1, "fold": 1}, d: {"cell": 1}}
    points = []
    for key, counts in texts.items():
        payload = {
            "document_id": f"doc-{key}",
            "terms": " ".join(counts),
            "counts": " ".join(["1"] * len(counts)),
        }
        points.append(TermPoint(key, saturated_weights(counts, sum(counts.values()), 2.0), payload))
    store.upsert_terms("t", points)
    idf = store.term_idf("t", [term_index("cell"), term_index("fold"), term_index("absent")])
    assert idf == pytest.approx({term_index("cell"): lucene_idf(4, 2), term_index("fold"): lucene_idf(4, 1)})
    assert store.size("t") == 4 and store.size("missing") == 0
    hits = store.search_terms("t", query_weights(["cell", "dna"]), limit=10)
    assert list(hits)[0] == a and set(hits) == {a, b, d}  # keys come back, best first
    for key, found in hits.items():
        counts = texts[key]
        weights = saturated_weights(counts, sum(counts.values()), 2.0)
        score = sum(
            lucene_idf(4, 2) * weights[term_index(term)] for term in ("cell", "dna") if term in counts
        )
        assert found == pytest.approx(score, rel=1e-5)
    only = store.search_terms("t", query_weights(["dna"]), limit=10, restriction=only_documents([f"doc-{b}"]))
    assert list(only) == [b] and list(store.search_terms("t", query_weights(["cell"]), 10, keys=[d])) == [d]
    assert (
        store.search_terms("t", {}, limit=10) == {}
        and store.search_terms("missing", query_weights(["cell"]), 1) == {}
    )
    store.delete_terms("t", [d])
    assert set(store.search_terms("t", query_weights(["cell"]), 10)) == {a}
    # asked before the delete, and again after it: a writer makes the engine's idf current again
    assert store.term_idf("t", [term_index("cell")]) == pytest.approx({term_index("cell"): lucene_idf(3, 1)})
    store.upsert_terms("t", [TermPoint(d, saturated_weights({"cell": 1}, 1, 2.0), {"document_id": "doc-d"})])
    assert store.term_idf("t", [term_index("cell")]) == pytest.approx({term_index("cell"): lucene_idf(4, 2)})
    store.upsert_terms("t", [TermPoint("statistics", {}, {"average_length": 2.0})])
    assert store.records("t", ["statistics", "absent"]) == {
        "statistics": {"average_length": 2.0, "key": "statistics"}
    }
    assert store.payloads("t", ["counts"], document_id=f"doc-{c}") == [{"counts": "1 1"}]


def test_metadata_conditions_filter_the_same_in_both_engines(store):
    """Every operator the engine evaluates, on vectors and on terms, against the documents the API
    test expects; then new metadata set on a document's points moves it in and out of the matches."""
    store.ensure_collection("c", 3)
    store.ensure_term_collection("t")
    for rank, (name, values) in enumerate(DOCUMENTS.items()):
        payload = {"document_id": name, **metadata_payload(values)}
        store.upsert("c", [VectorPoint(f"seg-{name}", _vector(1, rank, 0), payload)])
        weights = saturated_weights({"zebrafish": 1}, 1, 1.0)
        store.upsert_terms("t", [TermPoint(str(uuid.uuid4()), weights, {**payload, TERMS: "zebrafish"})])
    query_terms = query_weights(["zebrafish"])

    def matching(restriction: Restriction) -> set[str]:
        by_vector = {
            hit.payload["document_id"] for hit in store.search("c", _vector(1, 0, 0), 10, restriction)
        }
        by_terms = store.search_terms("t", query_terms, 10, restriction=restriction)
        assert len(by_terms) == len(by_vector), restriction
        return by_vector

    checked = 0
    for conditions, expected in CASES:
        forms = [
            engine_condition(MetadataCondition(name=n, comparison_operator=o, value=v))
            for n, o, v in conditions
        ]
        if expected is None or not all(isinstance(form, Condition | Restriction) for form in forms):
            continue  # SQL's (end with), or decided without the engine (an empty `in`)
        assert matching(Restriction(must=tuple(forms))) == expected, conditions
        checked += 1
    assert checked >= 20
    either = [engine_condition(MetadataCondition(name="lab", comparison_operator="is", value=lab))
              for lab in ("immunology", "virology")]  # fmt: skip
    assert matching(Restriction(should=tuple(either))) == {"beta"}

    genomics = Restriction(must=(engine_condition(MetadataCondition(name="lab", comparison_operator="is",
                                                                     value="genomics")),))  # fmt: skip
    for name in ("c", "t"):
        store.set_document_payload(name, "delta", metadata_payload({"lab": "genomics"}))
        store.set_document_payload(name, "alpha", metadata_payload(None))
    assert matching(genomics) == {"gamma", "delta"}
    author = Condition(keyword_key("author"), "empty")
    assert matching(Restriction(must=(author,))) == {"alpha", "delta", "epsilon"}
