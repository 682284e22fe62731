"""The external-knowledge endpoint exactly as Dify calls it."""

import pytest

from bench.corpus import document_text, load_corpus
from tests.helpers import create_dataset, create_text_document, wait_for_batch

ABSTRACTS = load_corpus(8)


@pytest.fixture
def knowledge(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    for document in ABSTRACTS:
        text = document_text(document)
        body = create_text_document(
            client, tenant, dataset["id"], document["_id"], text, process_rule={"mode": "automatic"}
        ).json()
        wait_for_batch(client, tenant, dataset["id"], body["batch"])
    return dataset


def _call(client, headers, knowledge_id, query="cell biology", top_k=3, threshold=0.0, **extra):
    body = {"knowledge_id": knowledge_id, "query": query,
            "retrieval_setting": {"top_k": top_k, "score_threshold": threshold}, **extra}  # fmt: skip
    return client.post("/retrieval", json=body, headers=headers)


@pytest.mark.parametrize("path", ["/retrieval", "/v1/retrieval"])
def test_records_as_dify_expects(client, tenant, knowledge, path):
    setting = {"top_k": 3, "score_threshold": 0.0}
    body = {"knowledge_id": knowledge["id"], "query": ABSTRACTS[2]["title"], "retrieval_setting": setting,
            "metadata_condition": None}  # fmt: skip
    response = client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    assert 1 <= len(records) <= 3
    assert set(records[0]) == {"content", "score", "title", "metadata"}
    assert records[0]["title"] == ABSTRACTS[2]["_id"] and isinstance(records[0]["metadata"], dict)
    assert records[0]["metadata"]["document_name"] == ABSTRACTS[2]["_id"]


def test_same_segments_as_hit_testing(client, tenant, knowledge):
    query = ABSTRACTS[4]["title"]
    external = _call(client, tenant.headers, knowledge["id"], query, top_k=4).json()["records"]
    url = f"/v1/datasets/{knowledge['id']}/hit-testing"
    hit_testing = client.post(url, json={"query": query}, headers=tenant.headers).json()["records"]
    assert [r["metadata"]["segment_id"] for r in external] == [r["segment"]["id"] for r in hit_testing]
    assert [r["score"] for r in external] == pytest.approx([r["score"] for r in hit_testing], abs=1e-5)


def test_app_retrieval_counts_hits_and_hit_testing_does_not(client, tenant, knowledge):
    query = ABSTRACTS[3]["title"]
    client.post(f"/v1/datasets/{knowledge['id']}/hit-testing", json={"query": query}, headers=tenant.headers)
    assert _hit_counts(client, tenant, knowledge) == {}
    for _ in range(2):
        records = _call(client, tenant.headers, knowledge["id"], query, top_k=3).json()["records"]
    expected: dict[str, int] = {}
    for record in records:
        document_id = record["metadata"]["document_id"]
        expected[document_id] = expected.get(document_id, 0) + 2
    assert _hit_counts(client, tenant, knowledge) == expected


def _hit_counts(client, tenant, knowledge) -> dict[str, int]:
    """Per document: the sum of its segments' hit counts, as the document list reports it."""
    documents = client.get(f"/v1/datasets/{knowledge['id']}/documents", headers=tenant.headers).json()["data"]
    return {document["id"]: document["hit_count"] for document in documents if document["hit_count"]}


def test_threshold_and_metadata_condition(client, tenant, knowledge):
    records = _call(client, tenant.headers, knowledge["id"], ABSTRACTS[1]["title"], top_k=5).json()["records"]
    cut = records[0]["score"] - 1e-3  # repeated query embeddings differ in the last float bits
    strict = _call(
        client, tenant.headers, knowledge["id"], ABSTRACTS[1]["title"], top_k=5, threshold=cut
    ).json()
    assert len(strict["records"]) >= 1 and all(r["score"] >= cut for r in strict["records"])
    nobody = {"name": "team", "comparison_operator": "is", "value": "nobody"}
    condition = {"logical_operator": "and", "conditions": [nobody]}
    filtered = _call(client, tenant.headers, knowledge["id"], metadata_condition=condition).json()
    assert filtered == {"records": []}


def test_a_whole_long_question_gets_records(client, tenant, knowledge):
    """Apps send their user's whole question: a 5,000-character one is searched (the vector leg reads
    what the model takes of it, BM25 every term); past 10,000 characters the body is refused."""
    target = ABSTRACTS[3]
    question = f"{target['title']}? " + " ".join(["Please explain the background in detail."] * 130)
    question = question[:5000]
    assert len(question) == 5000
    records = _call(client, tenant.headers, knowledge["id"], question, top_k=3).json()["records"]
    assert records and records[0]["title"] == target["_id"]
    too_long = _call(client, tenant.headers, knowledge["id"], "x" * 10_001)
    assert too_long.status_code == 400 and too_long.json()["error_code"] == 4001


def test_a_nonsense_question_scores_low_and_a_threshold_keeps_it_out(client, tenant, knowledge):
    """Scores are probabilities of relevance: a question the dataset cannot answer gets low scores in
    every method, so Dify's threshold keeps its chunks out of the prompt, while a real question's best
    chunk passes the same threshold."""
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        model = {
            "search_method": method,
            "reranking_enable": False,
            "top_k": 4,
            "score_threshold_enabled": False,
        }
        response = client.patch(f"/v1/datasets/{knowledge['id']}", json={"retrieval_model": model},
                                headers=tenant.headers)  # fmt: skip
        assert response.status_code == 200, response.text
        nonsense = _call(client, tenant.headers, knowledge["id"], "zxqv blorf wuggle", top_k=4).json()[
            "records"
        ]
        assert all(r["score"] < 0.1 for r in nonsense), (method, [r["score"] for r in nonsense])
        assert _call(client, tenant.headers, knowledge["id"], "zxqv blorf wuggle", threshold=0.5).json() == {
            "records": []
        }
        real = _call(client, tenant.headers, knowledge["id"], ABSTRACTS[1]["title"], threshold=0.5).json()
        assert real["records"] and real["records"][0]["title"] == ABSTRACTS[1]["_id"], method


@pytest.mark.parametrize("header", [None, "Bearer", "Token abc", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization_is_1001(client, knowledge, header):
    headers = {"Authorization": header} if header else {}
    response = _call(client, headers, knowledge["id"])
    assert response.status_code == 403
    assert response.json()["error_code"] == 1001 and response.json()["error_msg"]


def test_wrong_key_is_1002(client, knowledge):
    response = _call(client, {"Authorization": "Bearer ds-not-a-real-key-000000000"}, knowledge["id"])
    assert response.status_code == 403 and response.json()["error_code"] == 1002


def test_unknown_or_foreign_knowledge_is_2001(client, tenant, other_tenant, knowledge):
    for knowledge_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", knowledge["id"]):
        headers = other_tenant.headers if knowledge_id == knowledge["id"] else tenant.headers
        response = _call(client, headers, knowledge_id)
        assert response.status_code == 404 and response.json()["error_code"] == 2001


def test_registration_probe_checks_the_key_before_the_body(client, tenant):
    """Dify registers an external knowledge API by posting an empty body with the key alone."""
    right = client.post("/retrieval", headers=tenant.headers)
    assert right.status_code == 400
    assert right.json() == {
        "error_code": 4001,
        "error_msg": "Invalid JSON payload received or JSON payload is empty.",
    }
    wrong = client.post("/retrieval", headers={"Authorization": "Bearer ds-not-a-real-key-000000000"})
    assert wrong.status_code == 403 and wrong.json()["error_code"] == 1002
    for path in ("/retrieval", "/v1/retrieval"):
        invalid = client.post(path, json={"knowledge_id": "x", "query": 1}, headers=tenant.headers)
        assert invalid.status_code == 400 and invalid.json()["error_code"] == 4001
        assert invalid.json()["error_msg"].startswith("query: ")


def test_the_nulls_dify_sends_take_the_defaults(client, tenant, knowledge):
    body = {
        "knowledge_id": knowledge["id"],
        "query": ABSTRACTS[2]["title"],
        "retrieval_setting": {"top_k": None, "score_threshold": None},
        "metadata_condition": {"logical_operator": None, "conditions": None},
    }
    response = client.post("/retrieval", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert 1 <= len(response.json()["records"]) <= 4  # the dataset's own top_k
