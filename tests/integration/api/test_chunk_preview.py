"""Ours: the chunk preview (a text or file split exactly as indexing splits it, nothing stored) and
the indexing status of documents by id, which the admin UI's documents page polls."""

import json

import pytest

from core.ingestion.planning import plan_segments
from core.settings import get_settings
from etl.extractors.base import ExtractedPart
from etl.splitting import split_automatic
from tests.helpers import (
    assert_error,
    create_dataset,
    create_text_document,
    no_file_kept,
    stored_keys,
    wait_for_batch,
)
from tests.samples import make_docx

TEXT = "\n\n".join(
    " ".join([f"Paragraph {n} tells how chloroplasts capture light number {n}."] * 3) for n in range(12)
)
CUSTOM = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 200, "chunk_overlap": 0},
    },
}
TOO_SHORT = {**CUSTOM, "rules": {**CUSTOM["rules"], "segmentation": {"separator": "\n", "max_tokens": 10}}}
HIERARCHICAL = {
    "mode": "hierarchical",
    "rules": {
        "pre_processing_rules": [],
        "parent_mode": "paragraph",
        "segmentation": {"separator": "\n\n", "max_tokens": 500},
        "subchunk_segmentation": {"separator": ". ", "max_tokens": 100},
    },
}


def _preview(client, owner, dataset_id, **body):
    return client.post(f"/v1/datasets/{dataset_id}/documents/preview", json=body, headers=owner.headers)


def test_preview_splits_as_indexing_does_and_stores_nothing(client, tenant):
    dataset = create_dataset(client, tenant)
    automatic = _preview(client, tenant, dataset["id"], text=TEXT)
    assert automatic.status_code == 200, automatic.text
    body = automatic.json()
    assert [s["content"] for s in body["segments"]] == split_automatic(TEXT)
    assert body["total_segments"] == len(body["segments"]) and body["doc_form"] == "text_model"

    custom = _preview(client, tenant, dataset["id"], text=TEXT, process_rule=CUSTOM).json()
    assert custom["total_segments"] == 12 and all(s["word_count"] <= 200 for s in custom["segments"])

    parents = _preview(client, tenant, dataset["id"], text=TEXT, doc_form="hierarchical_model",
                       process_rule=HIERARCHICAL).json()  # fmt: skip
    assert parents["total_segments"] == 12 and all(len(s["child_chunks"]) == 3 for s in parents["segments"])

    listed = client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()
    assert listed["total"] == 0
    assert no_file_kept()


def test_indexed_chunks_equal_the_preview(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    preview = _preview(client, tenant, dataset["id"], text=TEXT, process_rule=CUSTOM).json()
    created = create_text_document(
        client, tenant, dataset["id"], "paragraphs", TEXT, process_rule=CUSTOM
    ).json()
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    path = f"/v1/datasets/{dataset['id']}/documents/{created['document']['id']}/segments?limit=100"
    indexed = client.get(path, headers=tenant.headers).json()["data"]
    assert [s["content"] for s in indexed] == [s["content"] for s in preview["segments"]]


def test_preview_of_an_uploaded_file(client, tenant, tmp_path):
    dataset = create_dataset(client, tenant)
    content = make_docx(tmp_path / "cells.docx").read_bytes()
    response = client.post(
        f"/v1/datasets/{dataset['id']}/documents/preview",
        files={"file": ("cells.docx", content, "application/octet-stream")},
        data={"data": json.dumps({"process_rule": {"mode": "automatic"}})},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    assert "Chloroplast" in response.json()["segments"][0]["content"]
    assert not any(key.endswith(".docx") for key in stored_keys())  # the upload was not kept
    assert not list(get_settings().upload_dir.rglob("tmp/*.docx"))  # nor its local copy


def test_preview_of_a_stored_document_under_another_rule_equals_its_reindex(client, tenant, celery_worker):
    """Before a re-index the person sees what the document's stored source becomes under the new rule;
    the re-index then makes exactly those chunks, and the detail tells how long each stage took."""
    dataset = create_dataset(client, tenant)
    created = create_text_document(
        client, tenant, dataset["id"], "paragraphs", TEXT, doc_language="French"
    ).json()
    document_id = created["document"]["id"]
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    preview = _preview(client, tenant, dataset["id"], document_id=document_id, process_rule=CUSTOM)
    assert preview.status_code == 200, preview.text
    assert preview.json()["total_segments"] == 12
    assert preview.json()["segments"][0]["context"] == "paragraphs"  # named like the document's chunks

    base = f"/v1/datasets/{dataset['id']}/documents/{document_id}"
    updated = client.post(f"{base}/update-by-text", json={"process_rule": CUSTOM}, headers=tenant.headers)
    assert updated.status_code == 200, updated.text
    wait_for_batch(client, tenant, dataset["id"], created["batch"])
    indexed = client.get(f"{base}/segments?limit=100", headers=tenant.headers).json()["data"]
    assert [s["content"] for s in indexed] == [s["content"] for s in preview.json()["segments"]]
    detail = client.get(base, headers=tenant.headers).json()
    assert detail["doc_language"] == "French"  # an update that names no language keeps the document's
    stages = detail["stage_seconds"]
    assert list(stages) == ["reading", "cleaning", "chunking", "indexing"]
    assert all(seconds >= 0 for seconds in stages.values()) and stages["indexing"] > 0


def test_preview_of_a_document_of_another_dataset_is_not_found(client, tenant):
    mine, other = create_dataset(client, tenant), create_dataset(client, tenant, name="Other")
    created = create_text_document(client, tenant, other["id"], "theirs", TEXT).json()
    response = _preview(client, tenant, mine["id"], document_id=created["document"]["id"])
    assert_error(response, 404, "not_found", "Document not found.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "   "}, "text or a file is required."),
        ({"text": "x", "process_rule": {"mode": "sideways"}}, "Process rule mode is invalid"),
        ({"text": "x", "doc_form": "poem"}, "Invalid doc_form."),
        ({"text": TEXT, "process_rule": TOO_SHORT}, "Custom segment length should be between 50 and 4000."),
    ],
)  # fmt: skip
def test_preview_refuses_bad_options_with_invalid_param(client, tenant, body, message):
    dataset = create_dataset(client, tenant)
    assert_error(_preview(client, tenant, dataset["id"], **body), 400, "invalid_param", message)


def test_preview_refuses_a_body_that_is_not_a_json_object(client, tenant):
    dataset = create_dataset(client, tenant)
    response = client.post(f"/v1/datasets/{dataset['id']}/documents/preview", content=b"[1]",
                           headers={**tenant.headers, "Content-Type": "application/json"})  # fmt: skip
    assert_error(response, 400, "invalid_param", "Invalid JSON payload received or JSON payload is empty.")


def test_indexing_status_by_document_id(client, tenant, other_tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    first = create_text_document(client, tenant, dataset["id"], "one", TEXT).json()
    second = create_text_document(client, tenant, dataset["id"], "two", TEXT).json()
    wait_for_batch(client, tenant, dataset["id"], second["batch"])
    wait_for_batch(client, tenant, dataset["id"], first["batch"])
    theirs = create_dataset(client, other_tenant, "theirs")
    foreign = create_text_document(client, other_tenant, theirs["id"], "foreign", TEXT).json()
    ids = [first["document"]["id"], second["document"]["id"], foreign["document"]["id"], "not-an-id"]
    response = client.get(f"/v1/datasets/{dataset['id']}/indexing-status", params={"document_id": ids},
                          headers=tenant.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["id"] for item in data] == ids[:2]  # another workspace's document is simply not there
    assert all(item["indexing_status"] == "completed" for item in data)
    assert all(
        item["completed_segments"] == item["total_segments"] == len(split_automatic(TEXT)) for item in data
    )


def test_plan_segments_is_the_preview_function():
    """One function plans chunks for indexing and for the preview, so they cannot drift apart."""
    rule = {"mode": "automatic", "rules": {"pre_processing_rules": []}}
    planned = plan_segments(get_settings(), "text_model", None, rule, [ExtractedPart(TEXT)], None, "txt")
    assert [plan.content for plan in planned] == split_automatic(TEXT)
