"""Retrieval through hit-testing: BM25 checked against rank-bm25 through the
engine's term collections, semantic and hybrid search, chunk structures, thresholds, the query log."""

import math
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest
from rank_bm25 import BM25Okapi
from sqlalchemy import select

from bench.corpus import document_text, load_corpus
from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document
from core.index import keyword_index
from core.index.engines import get_vector_store
from core.index.keyword_index import (
    AVERAGE_TOLERANCE,
    SETTLE_SHARE,
    average_lengths,
    statistics,
    term_collections,
)
from core.ingestion.reindex import build_missing_term_collections
from core.search import legs
from core.segments.models import Segment
from core.settings import get_settings
from retrieval.tokenizer import tokenize
from tests.helpers import (
    assert_error,
    create_dataset,
    create_text_document,
    upload_document,
    wait_for_batch,
    wait_until,
)
from tests.http_servers import read_json, send_json, serving

ABSTRACTS = load_corpus(40)
LINE_RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": ". ", "max_tokens": 300, "chunk_overlap": 0},
    },
}


class LuceneIdfBM25(BM25Okapi):
    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def _ingest(client, tenant, dataset_id, documents, **fields):
    batches = []
    for document in documents:
        response = create_text_document(
            client, tenant, dataset_id, document["_id"], document_text(document), **fields
        )
        assert response.status_code == 200, response.text
        batches.append(response.json()["batch"])
    for batch in batches:
        assert wait_for_batch(client, tenant, dataset_id, batch)[0]["indexing_status"] == "completed"
    # the run's end may still be rewriting the weights to a new average, just after the documents
    wait_until(lambda: _averages_follow_the_collections(dataset_id))


def _oracle_check(dataset_id: str, queries: list[str], tolerance: float = 1e-6) -> int:
    """Compares the keyword leg's scores with BM25Okapi over the live chunks, alone and blended with
    BM25Okapi over the documents (each the concatenation of its chunks), configured as the engine
    scores (Lucene's idf, k1 1.2, b 0.75, the average length recorded when the weights were written);
    returns the chunk count. `tolerance` is relative."""
    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        averages = average_lengths(dataset_id)
        rows = session.execute(
            select(Segment.index_node_id, Segment.document_id, Segment.content, Segment.context)
            .join(Document, Document.id == Segment.document_id)
            .where(Segment.dataset_id == dataset_id, legs.live_chunk_condition())
            .order_by(Segment.index_node_id)
        ).all()
        # what the index reads: the chunk's context line, then its content
        texts = [f"{row.context}\n{row.content}" if row.context else row.content for row in rows]
        rows, texts = zip(*[(r, t) for r, t in zip(rows, texts, strict=True) if tokenize(t)], strict=True)
        corpus = [tokenize(text) for text in texts]
        by_document: dict[str, list[str]] = {}
        for (_, document, _, _), tokens in zip(rows, corpus, strict=True):
            by_document.setdefault(document, []).extend(tokens)
        for query in queries:
            chunk_scores = _normalised_oracle_scores(corpus, tokenize(query), averages["texts"])
            expected = {rows[index].index_node_id: score for index, score in chunk_scores.items()}
            hits = legs.keyword_leg(session, dataset, query, limit=10_000, restriction=None)
            assert {hit.node_id: hit.score for hit in hits} == pytest.approx(
                expected, rel=tolerance, abs=1e-6
            )

            documents = list(by_document)
            document_scores = _normalised_oracle_scores(
                list(by_document.values()), tokenize(query), averages["documents"]
            )
            document_score = {documents[index]: score for index, score in document_scores.items()}
            expected = {rows[index].index_node_id: 0.6 * score + 0.4 * document_score[rows[index].document_id]
                        for index, score in chunk_scores.items()}  # fmt: skip
            hits = legs.keyword_leg(
                session, dataset, query, limit=10_000, restriction=None, document_weight=0.4
            )
            assert {hit.node_id: hit.score for hit in hits} == pytest.approx(
                expected, rel=tolerance, abs=1e-6
            )
    return len(rows)


def _normalised_oracle_scores(
    corpus: list[list[str]], terms: list[str], average_length: float
) -> dict[int, float]:
    """rank-bm25's scores (Lucene idf) of the texts holding a query term, over the query's bound."""
    oracle = LuceneIdfBM25(corpus, k1=1.2, b=0.75)
    oracle.avgdl = average_length
    frequencies = Counter(term for tokens in corpus for term in set(tokens))
    bound = sum(oracle.idf[term] * 2.2 for term in terms if frequencies[term])
    return {index: score / bound for index, score in enumerate(oracle.get_scores(terms)) if score > 0}


STALE_VECTORS_TOLERANCE = 0.2
QUERIES = [
    "mitochondrial DNA mutations in ageing",
    "cancer cells immune response",
    "protein folding",
    "the effect of vitamin D on bone density",
]


def test_bm25_matches_the_oracle_after_adds_and_deletes(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    _ingest(
        client, tenant, dataset["id"], ABSTRACTS[:30], indexing_technique="economy", process_rule=LINE_RULE
    )
    _check_with_the_engines_statistics(dataset["id"])
    _ingest(
        client, tenant, dataset["id"], ABSTRACTS[30:40], indexing_technique="economy", process_rule=LINE_RULE
    )
    listing = client.get(f"/v1/datasets/{dataset['id']}/documents?limit=3", headers=tenant.headers).json()
    for document in listing["data"]:
        response = client.delete(
            f"/v1/datasets/{dataset['id']}/documents/{document['id']}", headers=tenant.headers
        )
        assert response.status_code == 204
    _check_with_the_engines_statistics(dataset["id"])


def _check_with_the_engines_statistics(dataset_id: str) -> None:
    """Deleted and overwritten vectors count in the engine's idf until their segment is rewritten,
    which the store does once they are a tenth of a collection: until then a rare term's idf can be
    off (here 3 deleted documents of 40 move scores by up to 14 %), and once rewritten scores equal
    the oracle's."""
    assert _oracle_check(dataset_id, QUERIES, tolerance=STALE_VECTORS_TOLERANCE) >= 200
    for name in term_collections(dataset_id).values():
        get_vector_store().optimize(name)
    assert _oracle_check(dataset_id, QUERIES) >= 200


def test_an_indexing_run_ends_with_an_average_taken_over_the_collection(client, tenant, celery_worker):
    """Weights written during a run use the average length taken at the collection's last doubling;
    a run that leaves a collection more than SETTLE_SHARE away from the points that average was taken
    over takes it again, so the weights follow the collection's true average."""
    dataset = create_dataset(client, tenant)
    _ingest(
        client, tenant, dataset["id"], ABSTRACTS[:20], indexing_technique="economy", process_rule=LINE_RULE
    )
    assert _averages_follow_the_collections(dataset["id"])
    # about a fifth more chunks, each several sentences long: a new average, far from a doubling
    _ingest(
        client, tenant, dataset["id"], ABSTRACTS[20:30], indexing_technique="economy",
        process_rule={"mode": "automatic"},
    )  # fmt: skip
    assert _averages_follow_the_collections(dataset["id"])
    assert _oracle_check(dataset["id"], QUERIES) >= 100


def test_a_rewrite_of_the_weights_cut_short_is_finished_at_the_next_start(client, tenant, celery_worker):
    """A new average is recorded as being rewritten to before the weights are: a stop in between
    leaves some weights of the old one, and the next start rewrites them all."""
    dataset_id = _ten_abstracts_with_a_wrong_average(
        client, tenant, factor=1.5, share_of_points=1.0, rewrite_every=2, rewriting=True
    )
    build_missing_term_collections()  # what a start runs before serving
    assert keyword_index.REWRITING not in statistics(dataset_id)["texts"]
    assert _oracle_check(dataset_id, QUERIES) >= 50


def test_an_average_a_stop_left_unsettled_is_settled_at_the_next_start(client, tenant, celery_worker):
    """A stop right after a burst can cut short its end, which would have taken a new average: the
    weights then carry the average of the collection's last doubling, and the next start settles it."""
    dataset_id = _ten_abstracts_with_a_wrong_average(client, tenant, factor=1.2, share_of_points=0.7)
    assert not _averages_follow_the_collections(dataset_id)

    build_missing_term_collections()
    assert _averages_follow_the_collections(dataset_id)
    assert _oracle_check(dataset_id, QUERIES) >= 50


def _ten_abstracts_with_a_wrong_average(
    client, tenant, *, factor: float, share_of_points: float, rewrite_every: int = 1,
    rewriting: bool = False,
) -> str:  # fmt: skip
    """A dataset whose chunk collection records `factor` times its true average, taken over
    `share_of_points` of its points, with every `rewrite_every`-th weight written with it."""
    dataset = create_dataset(client, tenant)
    _ingest(
        client, tenant, dataset["id"], ABSTRACTS[:10], indexing_technique="economy", process_rule=LINE_RULE
    )
    names, store = term_collections(dataset["id"]), get_vector_store()
    stored = store.payloads(names["texts"], keyword_index.STORED_FIELDS)
    average = statistics(dataset["id"])["texts"]["average_length"] * factor
    points = int(len(stored) * share_of_points)
    keyword_index._record_average(names, "texts", points, average, rewriting=rewriting)
    rewritten = stored[::rewrite_every]
    store.upsert_terms(names["texts"], [keyword_index._point(payload, average) for payload in rewritten])
    return dataset["id"]


def _averages_follow_the_collections(dataset_id: str) -> bool:
    """Each collection's recorded average is its true one, or was taken over about as many points,
    and no rewrite to it is under way."""
    recorded, names, store = statistics(dataset_id), term_collections(dataset_id), get_vector_store()
    for kind in recorded.keys() & {"texts", "documents"}:
        if keyword_index.REWRITING in recorded[kind]:
            return False
        lengths = [payload["length"] for payload in store.payloads(names[kind], ["length"])]
        taken_over, average = recorded[kind]["points"], recorded[kind]["average_length"]
        near = abs(len(lengths) - taken_over) <= SETTLE_SHARE * taken_over
        if not near and average != pytest.approx(sum(lengths) / len(lengths), rel=AVERAGE_TOLERANCE):
            return False
    return True


def _hit_testing(client, tenant, dataset_id, query, **retrieval_model):
    body = {"query": query}
    if retrieval_model:
        body["retrieval_model"] = {"reranking_enable": False, "score_threshold_enabled": False, "top_k": 4,
                                   **retrieval_model}  # fmt: skip
    return client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=tenant.headers)


@pytest.fixture
def scientific_dataset(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    _ingest(client, tenant, dataset["id"], ABSTRACTS[:12], process_rule={"mode": "automatic"})
    return dataset


@pytest.mark.parametrize(
    "retrieval_model",
    [
        {"search_method": "semantic_search"},
        {"search_method": "full_text_search"},
        {"search_method": "hybrid_search", "reranking_mode": "weighted_score",
         "weights": {"weight_type": "customized", "vector_setting": {"vector_weight": 0.6},
                     "keyword_setting": {"keyword_weight": 0.4}}},
        {"search_method": "hybrid_search", "reranking_mode": "rrf", "rrf_k": 30},
    ],
)  # fmt: skip
def test_every_method_finds_the_abstract_a_query_is_about(
    client, tenant, scientific_dataset, retrieval_model
):
    target = ABSTRACTS[5]
    response = _hit_testing(client, tenant, scientific_dataset["id"], target["title"], **retrieval_model)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == {"content": target["title"]}
    records = body["records"]
    assert 1 <= len(records) <= 4
    assert records[0]["segment"]["document"]["name"] == target["_id"]
    assert all(0 <= r["score"] <= 1 for r in records)
    if retrieval_model.get("reranking_mode") == "rrf":  # ranked by reciprocal rank, scored by probability
        k = retrieval_model["rrf_k"]
        reciprocal = [sum(1 / (k + rank) for rank in (d["vector_rank"], d["keyword_rank"]) if rank)
                      for d in (r["score_details"] for r in records)]  # fmt: skip
        assert reciprocal == sorted(reciprocal, reverse=True)
    else:
        assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    record = records[0]
    dify_fields = {"segment", "child_chunks", "score", "tsne_position", "files", "summary"}
    ours = {"score_details", "highlights", "matched_terms", "page", "page_end", "heading_path"}
    assert set(record) == dify_fields | ours
    assert record["segment"]["status"] == "completed" and record["segment"]["enabled"] is True
    assert record["child_chunks"] == [] and record["tsne_position"] is None
    _check_leg_details(body, retrieval_model["search_method"])


def _check_leg_details(body: dict, method: str) -> None:
    """Our additions: each leg's raw score, rank and probability, the fused probability (the record's
    score), the matched words, and where the time went."""
    details = [record["score_details"] for record in body["records"]]
    first = details[0]
    assert [d["retrieval_score"] for d in details] == [r["score"] for r in body["records"]]
    assert all(d["rerank_score"] is None for d in details)
    if method == "semantic_search":
        assert first["vector_rank"] == 1 and first["vector_probability"] == body["records"][0]["score"]
        assert first["vector_score"] > first["vector_probability"] > 0.5  # the cosine, and what it means
        assert first["keyword_score"] is None and first["keyword_probability"] is None
    elif method == "full_text_search":
        assert first["keyword_rank"] == 1 and first["keyword_probability"] == body["records"][0]["score"]
        assert first["vector_score"] is None and first["vector_probability"] is None
    else:  # every hybrid candidate has both scores; ranks where a leg recalled it
        assert all(0 <= d["vector_score"] <= 1 and 0 <= d["keyword_score"] <= 1 for d in details)
        assert all(0 < d["vector_probability"] < 1 and 0 < d["keyword_probability"] < 1 for d in details)
        assert first["vector_rank"] >= 1 and first["keyword_rank"] >= 1
    timings = body["timings_ms"]
    stages = {"query_embedding", "vector_search", "keyword_search", "fusion", "rerank"}
    assert set(timings) == stages | {"total", "rendering"} and timings["rendering"] >= 0
    assert timings["total"] >= sum(timings[stage] for stage in stages) > 0
    assert (timings["query_embedding"] > 0) == (method != "full_text_search")
    content = body["records"][0]["segment"]["content"]
    words = {content[start:end].lower() for start, end in body["records"][0]["highlights"]["content"]}
    assert words and words == set(body["records"][0]["matched_terms"])
    assert all(term in body["query_terms"] for term in tokenize(" ".join(words)))


def test_defaults_threshold_top_k_and_the_query_log(client, tenant, scientific_dataset):
    dataset_id = scientific_dataset["id"]
    query = ABSTRACTS[3]["title"]
    default = _hit_testing(client, tenant, dataset_id, query).json()["records"]
    assert len(default) == 4  # the dataset's stored model: semantic, top_k 4
    capped = _hit_testing(client, tenant, dataset_id, query, search_method="semantic_search", top_k=50).json()
    assert len(capped["records"]) == 10  # TOP_K_MAX_VALUE
    threshold = default[1]["score"]
    strict = _hit_testing(
        client, tenant, dataset_id, query,
        search_method="semantic_search", score_threshold_enabled=True, score_threshold=threshold,
    ).json()["records"]  # fmt: skip
    assert 1 <= len(strict) <= 2 and all(r["score"] >= threshold for r in strict)
    log = client.get(f"/v1/datasets/{dataset_id}/queries", headers=tenant.headers).json()
    assert (
        log["total"] == 3 and log["data"][0]["content"] == query and log["data"][0]["source"] == "hit_testing"
    )
    assert log["data"][0]["retrieval_model"]["search_method"] == "semantic_search"


def test_retrieve_alias_gives_the_same_records(client, tenant, scientific_dataset):
    body = {"query": ABSTRACTS[7]["title"]}
    first = client.post(
        f"/v1/datasets/{scientific_dataset['id']}/hit-testing", json=body, headers=tenant.headers
    )
    second = client.post(
        f"/v1/datasets/{scientific_dataset['id']}/retrieve", json=body, headers=tenant.headers
    )
    assert [r["segment"]["id"] for r in first.json()["records"]] == [
        r["segment"]["id"] for r in second.json()["records"]
    ]


def test_query_errors(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    response = _hit_testing(client, tenant, dataset["id"], "anything")
    assert_error(response, 400, "dataset_not_initialized",
                 "The dataset is still being initialized or indexing. Please wait a moment.")  # fmt: skip
    _ingest(client, tenant, dataset["id"], ABSTRACTS[:1], process_rule={"mode": "automatic"})
    assert_error(_hit_testing(client, tenant, dataset["id"], "x" * 251), 400, "invalid_param",
                 "Query cannot exceed 250 characters.")  # fmt: skip
    # /retrieve is hit-testing for programs: it takes an app's whole question
    retrieve = f"/v1/datasets/{dataset['id']}/retrieve"
    long_question = {"query": ABSTRACTS[0]["title"] + " and why" * 700}
    response = client.post(retrieve, json=long_question, headers=tenant.headers)
    assert response.status_code == 200 and response.json()["records"], response.text
    too_long = client.post(retrieve, json={"query": "x" * 10_001}, headers=tenant.headers)
    assert_error(too_long, 400, "invalid_param")
    assert_error(
        _hit_testing(client, tenant, dataset["id"], ""),
        400,
        "invalid_param",
        "Query or attachment_ids is required",
    )


def test_economy_dataset_searches_by_keyword(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    _ingest(
        client,
        tenant,
        dataset["id"],
        ABSTRACTS[:5],
        indexing_technique="economy",
        process_rule={"mode": "automatic"},
    )
    records = _hit_testing(
        client, tenant, dataset["id"], ABSTRACTS[2]["title"], search_method="semantic_search"
    ).json()
    assert records["records"][0]["segment"]["document"]["name"] == ABSTRACTS[2]["_id"]


def test_parent_child_returns_parents_with_matched_children(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    rule = {
        "mode": "hierarchical",
        "rules": {"pre_processing_rules": [], "parent_mode": "paragraph",
                  "segmentation": {"separator": "\\n\\n", "max_tokens": 2000},
                  "subchunk_segmentation": {"separator": ". ", "max_tokens": 300}},
    }  # fmt: skip
    _ingest(client, tenant, dataset["id"], ABSTRACTS[:6], process_rule=rule, doc_form="hierarchical_model")
    records = _hit_testing(
        client, tenant, dataset["id"], ABSTRACTS[4]["title"], search_method="semantic_search"
    ).json()["records"]
    best = records[0]
    assert best["segment"]["document"]["name"] == ABSTRACTS[4]["_id"]
    assert best["child_chunks"] and best["score"] == max(c["score"] for c in best["child_chunks"])
    assert all(c["content"] in best["segment"]["content"] for c in best["child_chunks"])
    assert len({r["segment"]["id"] for r in records}) == len(records)


def test_qa_matches_the_question_and_returns_the_answer(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    csv = (
        b"question,answer\nWhat powers the cell?,Mitochondria make ATP.\nWhere is DNA kept?,In the nucleus.\n"
    )
    data = {
        "indexing_technique": "high_quality",
        "doc_form": "qa_model",
        "process_rule": {"mode": "automatic"},
    }
    batch = upload_document(client, tenant, dataset["id"], "faq.csv", csv, data).json()["batch"]
    wait_for_batch(client, tenant, dataset["id"], batch)
    records = _hit_testing(client, tenant, dataset["id"], "which organelle powers cells").json()["records"]
    assert records[0]["segment"]["content"] == "What powers the cell?"
    assert records[0]["segment"]["answer"] == "Mitochondria make ATP."
    with session_scope() as session:  # a Q&A pair stands alone: its file adds nothing to its score
        row = session.get(Dataset, dataset["id"])
        alone = legs.keyword_leg(session, row, "where is the cell DNA", 10, None)
        weighted = legs.keyword_leg(session, row, "where is the cell DNA", 10, None, document_weight=0.5)
    assert len(alone) == 2 and weighted == alone


def test_full_text_search_scores_a_chunk_with_its_document(client, tenant, celery_worker):
    """The last chunk of a vitamin D trial reports the fracture risk without naming vitamin D; with
    its document's evidence it outranks a short text about fractures of skiers."""
    dataset = create_dataset(client, tenant)
    filler = "Participants were followed for thirty six months in twelve clinics across the region. " * 8
    trial = f"Vitamin D supplementation in older adults\n\n{filler}\n\nFracture risk fell by a fifth."
    for name, text in (("trial", trial), ("skiing", "Fracture risk of skiers.")):
        response = create_text_document(client, tenant, dataset["id"], name, text)
        wait_for_batch(client, tenant, dataset["id"], response.json()["batch"])
    query = "vitamin D and fracture risk"

    def first_fracture_chunk(document_weight: float) -> str:
        with session_scope() as session:
            row = session.get(Dataset, dataset["id"])
            hits = legs.keyword_leg(session, row, query, 10, None, document_weight=document_weight)
            contents = [session.get(Segment, hit.segment_id).content for hit in hits]
        return next(content for content in contents if "Fracture" in content)

    assert first_fracture_chunk(0.0) == "Fracture risk of skiers."
    assert first_fracture_chunk(0.5) == "Fracture risk fell by a fifth."
    records = _hit_testing(client, tenant, dataset["id"], query, search_method="full_text_search",
                           top_k=3).json()["records"]  # fmt: skip
    fracture = [r["segment"]["content"] for r in records if "Fracture" in r["segment"]["content"]]
    assert fracture[0] == "Fracture risk fell by a fifth."


def test_disabled_documents_never_appear(client, tenant, scientific_dataset):
    from core.documents.models import Document

    with session_scope() as session:
        document = session.scalars(select(Document).where(Document.name == ABSTRACTS[5]["_id"])).one()
        document.enabled = False
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        records = _hit_testing(
            client, tenant, scientific_dataset["id"], ABSTRACTS[5]["title"], search_method=method
        ).json()
        assert ABSTRACTS[5]["_id"] not in {r["segment"]["document"]["name"] for r in records["records"]}


def test_the_vector_leg_asks_deeper_past_chunks_that_are_not_live(client, tenant, scientific_dataset):
    """The engine still holds the chunks of documents the database no longer counts live (disabled here
    in the database alone, as a run in progress leaves them): the leg skips them and still returns the
    `limit` best live chunks, whatever share of the engine's first answer they took."""
    with session_scope() as session:
        dataset = session.get(Dataset, scientific_dataset["id"])
        vector = legs.query_vector(dataset, ABSTRACTS[5]["title"])
        every_chunk = legs.vector_leg(session, dataset, vector, 10_000, None)
        hidden = list(dict.fromkeys(hit.owner.document_id for hit in every_chunk))[:9]
        for document in session.scalars(select(Document).where(Document.id.in_(hidden))):
            document.enabled = False
        session.commit()
        still_live = [hit.node_id for hit in every_chunk if hit.owner.document_id not in hidden]
        # fewer than 5 live chunks among the engine's 20 best, more than 5 in all
        assert sum(hit.node_id in still_live for hit in every_chunk[:20]) < 5 < len(still_live)
        found = legs.vector_leg(session, dataset, vector, 5, None)
    assert [hit.node_id for hit in found] == still_live[:5]


class _FavouriteReranker(BaseHTTPRequestHandler):
    """A stand-in rerank API that rates chunks of one abstract as relevant, everything else not."""

    favourite = ""

    def do_POST(self):  # noqa: N802 - the http.server API
        body = read_json(self)
        results = [{"index": i, "relevance_score": 0.9 if _FavouriteReranker.favourite in text else 0.05}
                   for i, text in enumerate(body["documents"])]  # fmt: skip
        send_json(self, 200, {"results": results})

    def log_message(self, *_args):
        pass


@pytest.fixture
def rerank_settings(monkeypatch):
    with serving(_FavouriteReranker) as url:
        monkeypatch.setenv("RERANK_PROVIDER", "jina")
        monkeypatch.setenv("RERANK_MODEL", "jina-reranker-v2")
        monkeypatch.setenv("RERANK_API_BASE_URL", f"{url}/v1")
        get_settings.cache_clear()
        yield


def test_reranking_model_orders_the_recalled_chunks(client, tenant, scientific_dataset, rerank_settings):
    favourite = ABSTRACTS[9]  # "Simplifying likelihood ratios": its title is a chunk of its own
    _FavouriteReranker.favourite = "nomograms"  # only in its body, in no other abstract
    rerank = {"reranking_provider_name": "jina", "reranking_model_name": "jina-reranker-v2"}
    for method in ("semantic_search", "hybrid_search"):
        settings = {"search_method": method, "reranking_enable": True, "reranking_model": rerank,
                    "score_threshold_enabled": True, "score_threshold": 0.5}  # fmt: skip
        response = _hit_testing(client, tenant, scientific_dataset["id"], favourite["title"], **settings)
        assert response.status_code == 200, response.text
        records = response.json()["records"]
        assert records and all("nomograms" in r["segment"]["content"] for r in records)
        assert {r["segment"]["document"]["name"] for r in records} == {favourite["_id"]}
        assert all(r["score"] == r["score_details"]["rerank_score"] == pytest.approx(0.9) for r in records)
        # the retrieval's probability stands beside the rerank model's score
        assert all(0 < r["score_details"]["retrieval_score"] < 1 for r in records)
    unknown = {"reranking_provider_name": "cohere", "reranking_model_name": "rerank-v3"}
    response = _hit_testing(client, tenant, scientific_dataset["id"], "q", search_method="semantic_search",
                            reranking_enable=True, reranking_model=unknown)  # fmt: skip
    assert_error(response, 400, "invalid_param")


def test_multi_dataset_retrieval(client, tenant, other_tenant, celery_worker):
    first, second = create_dataset(client, tenant, "first"), create_dataset(client, tenant, "second")
    _ingest(client, tenant, first["id"], ABSTRACTS[:4], process_rule={"mode": "automatic"})
    _ingest(client, tenant, second["id"], ABSTRACTS[4:8], process_rule={"mode": "automatic"})
    target = ABSTRACTS[6]
    for mode in ("weighted_score", "rrf"):
        model = {"search_method": "hybrid_search", "reranking_enable": False, "reranking_mode": mode,
                 "top_k": 6, "score_threshold_enabled": False}  # fmt: skip
        ids = [first["id"], second["id"]]
        body = {"dataset_ids": ids, "query": target["title"], "retrieval_model": model}
        response = client.post("/v1/retrieval/multi", json=body, headers=tenant.headers)
        assert response.status_code == 200, response.text
        records = response.json()["records"]
        # Scores are probabilities in every dataset, so the lists merge by score: the best six of
        # both datasets' own searches, the target first.
        assert len(records) == 6
        assert (records[0]["segment"]["document"]["name"], records[0]["dataset"]["name"]) == (
            target["_id"],
            "second",
        )
        own = [(r["score"], r["segment"]["id"]) for dataset_id in ids for r in _hit_testing(
            client, tenant, dataset_id, target["title"], **model).json()["records"]]  # fmt: skip
        assert [(r["score"], r["segment"]["id"]) for r in records] == sorted(own, reverse=True)[:6]
    foreign = create_dataset(client, other_tenant, "theirs")
    body = {"dataset_ids": [first["id"], foreign["id"]], "query": "cells"}
    assert_error(client.post("/v1/retrieval/multi", json=body, headers=tenant.headers), 404, "not_found",
                 "Dataset not found.")  # fmt: skip


def test_validation_messages_name_the_field(client, tenant):
    dataset = create_dataset(client, tenant)
    response = client.post(
        f"/v1/datasets/{dataset['id']}/hit-testing", json={"query": 1}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param", "query: Input should be a valid string")
    body = {"query": "x", "retrieval_model": {"search_method": "semantic_search"}}
    nested = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    assert_error(nested, 400, "invalid_param", "retrieval_model.reranking_enable: Field required")
