"""Segments through the API: every change is searchable, or gone, when the call returns."""

import pytest

from bench.corpus import document_text, load_corpus
from core.database import session_scope
from core.documents.models import Document
from tests.helpers import assert_error, create_dataset, create_text_document, upload_document, wait_for_batch

ABSTRACTS = load_corpus(3)
SEGMENT_FIELDS = set(
    """id position document_id content sign_content answer word_count tokens keywords index_node_id
    index_node_hash hit_count enabled disabled_at disabled_by status created_by created_at updated_at
    updated_by indexing_at completed_at error stopped_at child_chunks attachments summary page page_end
    heading_path context""".split()  # noqa: SIM905
)
HIERARCHICAL = {"mode": "hierarchical", "rules": {"pre_processing_rules": [], "parent_mode": "paragraph",
                "segmentation": {"separator": "\\n\\n", "max_tokens": 2000},
                "subchunk_segmentation": {"separator": ". ", "max_tokens": 100}}}  # fmt: skip
NEW_FACT = "Axolotls regenerate entire limbs through blastema formation after amputation."


def _document(client, tenant, indexing_technique="high_quality", **fields):
    dataset = create_dataset(client, tenant, indexing_technique=indexing_technique)
    body = create_text_document(
        client,
        tenant,
        dataset["id"],
        "notes",
        document_text(ABSTRACTS[0]),
        indexing_technique=indexing_technique,
        process_rule={"mode": "automatic"},
        **fields,
    ).json()
    wait_for_batch(client, tenant, dataset["id"], body["batch"])
    return dataset, body["document"]


def _url(dataset, document, suffix=""):
    return f"/v1/datasets/{dataset['id']}/documents/{document['id']}/segments{suffix}"


def _found(client, tenant, dataset, query, method="semantic_search") -> list[str]:
    body = {
        "query": query,
        "retrieval_model": {
            "search_method": method,
            "top_k": 3,
            "reranking_enable": False,
            "score_threshold_enabled": False,
        },
    }
    response = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    return [record["segment"]["content"] for record in response.json()["records"]]


@pytest.fixture
def indexed(client, tenant, celery_worker):
    return _document(client, tenant)


def test_created_segments_are_searchable_at_once(client, tenant, indexed):
    dataset, document = indexed
    existing = client.get(_url(dataset, document), headers=tenant.headers).json()["total"]
    body = {"segments": [{"content": NEW_FACT, "keywords": ["axolotl"]}, {"content": "A second new chunk."}]}
    response = client.post(_url(dataset, document), json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["doc_form"] == "text_model" and len(created["data"]) == 2
    first = created["data"][0]
    assert set(first) == SEGMENT_FIELDS
    assert first["position"] == existing + 1 and created["data"][1]["position"] == existing + 2
    assert first["status"] == "completed" and first["enabled"] is True and first["tokens"] > 0
    assert first["word_count"] == len(NEW_FACT) and first["keywords"] == ["axolotl"]
    for method in ("semantic_search", "full_text_search"):
        assert _found(client, tenant, dataset, "axolotl limb regeneration", method)[0] == NEW_FACT
    detail = client.get(f"/v1/datasets/{dataset['id']}/documents/{document['id']}", headers=tenant.headers)
    assert detail.json()["word_count"] >= len(NEW_FACT) + len(document_text(ABSTRACTS[0])) // 2


def test_update_re_indexes_and_disable_takes_out(client, tenant, indexed):
    dataset, document = indexed
    segment = client.get(_url(dataset, document), headers=tenant.headers).json()["data"][0]
    old = segment["content"]
    url = _url(dataset, document, f"/{segment['id']}")
    response = client.post(url, json={"segment": {"content": NEW_FACT}}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["content"] == NEW_FACT and updated["index_node_hash"] != segment["index_node_hash"]
    assert updated["updated_by"] and updated["word_count"] == len(NEW_FACT)
    assert _found(client, tenant, dataset, "axolotl limb regeneration", "full_text_search")[0] == NEW_FACT
    assert old not in _found(client, tenant, dataset, old[:200])

    disabled = client.post(url, json={"segment": {"enabled": False}}, headers=tenant.headers).json()["data"]
    assert disabled["enabled"] is False and disabled["disabled_at"]
    for method in ("semantic_search", "full_text_search"):
        assert NEW_FACT not in _found(client, tenant, dataset, "axolotl limb regeneration", method)
    assert_error(
        client.post(url, json={"segment": {"content": "edited"}}, headers=tenant.headers),
        400,
        "invalid_param",
        "Can't update disabled segment",
    )
    enabled = client.post(url, json={"segment": {"enabled": True}}, headers=tenant.headers).json()["data"]
    assert enabled["enabled"] is True
    assert _found(client, tenant, dataset, "axolotl limb regeneration")[0] == NEW_FACT


def test_delete_removes_from_both_indexes(client, tenant, indexed):
    dataset, document = indexed
    created = client.post(
        _url(dataset, document), json={"segments": [{"content": NEW_FACT}]}, headers=tenant.headers
    ).json()["data"][0]
    response = client.delete(_url(dataset, document, f"/{created['id']}"), headers=tenant.headers)
    assert response.status_code == 204
    for method in ("semantic_search", "full_text_search"):
        assert NEW_FACT not in _found(client, tenant, dataset, "axolotl limb regeneration", method)
    assert_error(
        client.get(_url(dataset, document, f"/{created['id']}"), headers=tenant.headers),
        404,
        "not_found",
        "Segment not found.",
    )


def test_list_pages_filters_and_lenient_numbers(client, tenant, indexed):
    dataset, document = indexed
    client.post(
        _url(dataset, document),
        json={"segments": [{"content": f"Extra chunk {n}."} for n in range(5)]},
        headers=tenant.headers,
    )
    everything = client.get(_url(dataset, document), headers=tenant.headers).json()
    total = everything["total"]
    assert total >= 6 and [s["position"] for s in everything["data"]] == sorted(
        s["position"] for s in everything["data"]
    )
    page = client.get(_url(dataset, document), params={"page": 2, "limit": 2}, headers=tenant.headers).json()
    assert set(page) == {"data", "doc_form", "total", "has_more", "limit", "page"}
    assert page["page"] == 2 and page["limit"] == 2 and page["has_more"] is True and len(page["data"]) == 2
    assert page["data"][0]["id"] == everything["data"][2]["id"]
    lenient = client.get(_url(dataset, document), params={"page": "x", "limit": "-3"}, headers=tenant.headers)
    assert lenient.json()["page"] == 1 and lenient.json()["limit"] == 20
    keyword = client.get(
        _url(dataset, document), params={"keyword": "EXTRA chunk"}, headers=tenant.headers
    ).json()
    assert keyword["total"] == 5
    statuses = [("status", "completed"), ("status", "error")]
    assert (
        client.get(_url(dataset, document), params=statuses, headers=tenant.headers).json()["total"] == total
    )
    assert (
        client.get(_url(dataset, document), params={"status": "error"}, headers=tenant.headers).json()[
            "total"
        ]
        == 0
    )


def test_create_errors(client, tenant, indexed, celery_worker):
    dataset, document = indexed
    url = _url(dataset, document)
    missing = client.post(url, json={"content": "x"}, headers=tenant.headers)
    assert missing.status_code == 400 and missing.json() == {"error": "Segments is required"}
    empty = client.post(url, json={"segments": []}, headers=tenant.headers)
    assert empty.status_code == 400  # Dify's bare shape, with one readable sentence in it
    assert empty.json() == {"error": "segments: List should have at least 1 item after validation, not 0"}
    assert_error(
        client.post(url, json={"segments": [{"content": "  "}]}, headers=tenant.headers), 400, "invalid_param"
    )
    unknown = _url(dataset, {"id": "00000000-0000-4000-8000-000000000000"})
    assert_error(
        client.post(unknown, json={"segments": [{"content": "x"}]}, headers=tenant.headers),
        404,
        "not_found",
        "Document not found.",
    )
    status_url = f"/v1/datasets/{dataset['id']}/documents/status"
    client.patch(f"{status_url}/disable", json={"document_ids": [document["id"]]}, headers=tenant.headers)
    assert_error(client.post(url, json={"segments": [{"content": "x"}]}, headers=tenant.headers),
                 404, "not_found", "Document is disabled.")  # fmt: skip
    with session_scope() as session:  # as a failed re-index leaves it
        session.get(Document, document["id"]).indexing_status = "error"
    assert_error(client.post(url, json={"segments": [{"content": "x"}]}, headers=tenant.headers),
                 404, "not_found", "Document is not completed.")  # fmt: skip


def test_segment_limit_per_request(client, tenant, indexed, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setattr(get_settings(), "dataset_max_segments_per_request", 2)
    dataset, document = indexed
    body = {"segments": [{"content": f"chunk {n}"} for n in range(3)]}
    assert_error(
        client.post(_url(dataset, document), json=body, headers=tenant.headers),
        400,
        "invalid_param",
        "Exceeded maximum segments limit of 2.",
    )


def test_economy_keywords_are_searchable(client, tenant, celery_worker):
    dataset, document = _document(client, tenant, indexing_technique="economy")
    body = {"segments": [{"content": "An unrelated sentence about tea.", "keywords": ["zymurgy"]}]}
    created = client.post(_url(dataset, document), json=body, headers=tenant.headers).json()["data"][0]
    assert created["tokens"] == 0
    assert (
        _found(client, tenant, dataset, "zymurgy", "keyword_search")[0] == "An unrelated sentence about tea."
    )


def test_qa_segments_need_an_answer(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    data = {
        "indexing_technique": "high_quality",
        "doc_form": "qa_model",
        "process_rule": {"mode": "automatic"},
    }
    csv = b"question,answer\nWhat powers the cell?,Mitochondria make ATP.\n"
    body = upload_document(client, tenant, dataset["id"], "faq.csv", csv, data).json()
    wait_for_batch(client, tenant, dataset["id"], body["batch"])
    url = _url(dataset, body["document"])
    assert_error(
        client.post(url, json={"segments": [{"content": "Where is DNA?"}]}, headers=tenant.headers),
        400,
        "invalid_param",
        "Answer is required",
    )
    pair = {"content": "Where is DNA kept?", "answer": "In the nucleus."}
    created = client.post(url, json={"segments": [pair]}, headers=tenant.headers).json()
    assert created["doc_form"] == "qa_model" and created["data"][0]["answer"] == "In the nucleus."
    assert created["data"][0]["word_count"] == len(pair["content"]) + len(pair["answer"])
    assert _found(client, tenant, dataset, "where is the genome stored")[0] == "Where is DNA kept?"


def test_parent_child_segments_get_child_chunks(client, tenant, celery_worker):
    rule = {
        "mode": "hierarchical",
        "rules": {
            "pre_processing_rules": [],
            "parent_mode": "paragraph",
            "segmentation": {"separator": "\\n\\n", "max_tokens": 2000},
            "subchunk_segmentation": {"separator": ". ", "max_tokens": 100},
        },
    }
    dataset = create_dataset(client, tenant)
    body = create_text_document(
        client,
        tenant,
        dataset["id"],
        "doc",
        document_text(ABSTRACTS[1]),
        process_rule=rule,
        doc_form="hierarchical_model",
    ).json()
    wait_for_batch(client, tenant, dataset["id"], body["batch"])
    text = f"{NEW_FACT} Their hearts also heal without scars. Zebrafish share the ability."
    created = client.post(
        _url(dataset, body["document"]), json={"segments": [{"content": text}]}, headers=tenant.headers
    ).json()["data"][0]
    children = created["child_chunks"]
    assert len(children) == 3 and set(children[0]) == {
        "id",
        "segment_id",
        "content",
        "position",
        "word_count",
        "type",
        "created_at",
        "updated_at",
    }
    records = client.post(
        f"/v1/datasets/{dataset['id']}/hit-testing",
        json={"query": "scarless heart healing"},
        headers=tenant.headers,
    ).json()["records"]
    assert records[0]["segment"]["id"] == created["id"] and records[0]["child_chunks"]


def test_child_chunks_are_kept_in_the_indexes(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    body = create_text_document(
        client, tenant, dataset["id"], "doc", document_text(ABSTRACTS[1]),
        process_rule=HIERARCHICAL, doc_form="hierarchical_model",
    ).json()  # fmt: skip
    wait_for_batch(client, tenant, dataset["id"], body["batch"])
    segment = client.get(_url(dataset, body["document"]), headers=tenant.headers).json()["data"][
        1
    ]  # abstract
    chunks_url = _url(dataset, body["document"], f"/{segment['id']}/child_chunks")
    listing = client.get(chunks_url, params={"limit": 2}, headers=tenant.headers).json()
    assert set(listing) == {"data", "total", "total_pages", "page", "limit"}
    assert listing["total_pages"] == (listing["total"] + 1) // 2 and len(listing["data"]) == 2

    created = client.post(chunks_url, json={"content": NEW_FACT}, headers=tenant.headers)
    assert created.status_code == 200, created.text
    chunk = created.json()["data"]
    assert chunk["type"] == "customized" and chunk["position"] == listing["total"] + 1
    assert _best_child(client, tenant, dataset, "axolotl limb regeneration") == NEW_FACT

    chunk_url = f"{chunks_url}/{chunk['id']}"
    edited = "Planarian flatworms regrow a whole body from small fragments."
    updated = client.patch(chunk_url, json={"content": edited}, headers=tenant.headers).json()["data"]
    assert updated["content"] == edited and updated["word_count"] == len(edited)
    assert _best_child(client, tenant, dataset, "flatworm regrowing its body") == edited
    assert_error(client.patch(chunk_url, json={"content": " "}, headers=tenant.headers), 400, "invalid_param")

    assert client.delete(chunk_url, headers=tenant.headers).status_code == 204
    assert _best_child(client, tenant, dataset, "flatworm regrowing its body") != edited
    assert_error(client.patch(chunk_url, json={"content": "x"}, headers=tenant.headers),
                 404, "not_found", "Child chunk not found.")  # fmt: skip


def _best_child(client, tenant, dataset, query) -> str | None:
    body = {"query": query, "retrieval_model": {"search_method": "full_text_search", "top_k": 1,
            "reranking_enable": False, "score_threshold_enabled": False}}  # fmt: skip
    records = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    found = records.json()["records"]
    return found[0]["child_chunks"][0]["content"] if found else None


def test_new_content_without_keywords_gets_keywords_of_its_own(client, tenant, celery_worker):
    """Keywords are searched with the text, so the old ones must not keep finding the old content."""
    dataset, document = _document(client, tenant, indexing_technique="economy")
    body = {
        "segments": [{"content": "Quokkas smile on Rottnest Island.", "keywords": ["quokka", "rottnest"]}]
    }
    created = client.post(_url(dataset, document), json=body, headers=tenant.headers).json()["data"][0]
    url = f"{_url(dataset, document)}/{created['id']}"
    updated = client.post(
        url, json={"segment": {"content": "Wombats dig burrows in Tasmania."}}, headers=tenant.headers
    )
    assert updated.status_code == 200, updated.text
    keywords = updated.json()["data"]["keywords"]
    assert {"Wombats", "Tasmania"} <= set(keywords) and "quokka" not in keywords
    assert _found(client, tenant, dataset, "quokka", "keyword_search") == []
    assert _found(client, tenant, dataset, "wombat", "keyword_search") == ["Wombats dig burrows in Tasmania."]
    given = {"segment": {"content": "Wombats dig deep burrows.", "keywords": ["digging"]}}
    kept = client.post(url, json=given, headers=tenant.headers).json()["data"]
    assert kept["keywords"] == ["digging"]
