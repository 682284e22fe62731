"""Notion import (real client code against a local server answering like Notion's API): 120 nested
pages with every rendered block type and a 300-row database, pagination and a 429 included; a change to
one page re-indexes only that page's changed chunks; a wrong token is a clear error."""

from urllib.parse import parse_qs, urlsplit

import pytest

from core.settings import get_settings
from tests.helpers import (
    assert_error,
    create_dataset,
    segment_ids_by_content,
    wait_for_batch,
    wait_for_job,
    wait_until,
)
from tests.http_servers import serving
from tests.notion_server import (
    DATABASE,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    OAUTH_CODE,
    ROOT,
    ROWS,
    TOKEN,
    NotionWorkspace,
    leaf_fact,
    notion_handler,
)

OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}


@pytest.fixture
def notion(database_url, monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    workspace = NotionWorkspace()
    with serving(notion_handler(workspace)) as url:
        yield workspace, url


def _connect(client, owner, url: str, token: str = TOKEN) -> None:
    body = {"provider": "notion", "api_key": token, "base_url": url}
    assert client.post("/v1/datasources", json=body, headers=owner.headers).status_code == 200


def _wait_for_job(client, owner, dataset_id: str, job_id: str) -> dict:
    return wait_for_job(client, owner, f"/v1/datasets/{dataset_id}/notion/import/{job_id}", timeout=120)


def _documents(client, owner, dataset_id: str) -> list[dict]:
    found, page = [], 1
    while True:
        body = client.get(
            f"/v1/datasets/{dataset_id}/documents?page={page}&limit=100", headers=owner.headers
        ).json()
        found += body["data"]
        if not body["has_more"]:
            return found
        page += 1


def test_workspace_imports_completely_and_one_changed_page_reindexes_alone(
    client, tenant, celery_worker, notion
):
    workspace, url = notion
    _connect(client, tenant, url)
    listed = client.get("/v1/datasources/notion/pages", headers=tenant.headers).json()["data"]
    assert sum(item["type"] == "page" for item in listed) == 120  # two search slices
    assert [item["title"] for item in listed if item["type"] == "database"] == ["Tasks"]

    dataset = create_dataset(client, tenant)
    body = {"items": [{"id": ROOT, "type": "page"}, {"id": DATABASE, "type": "database"}],
            "include_child_pages": True, **OPTIONS}  # fmt: skip
    started = client.post(f"/v1/datasets/{dataset['id']}/notion/import", json=body, headers=tenant.headers)
    assert started.status_code == 200, started.text
    job = _wait_for_job(client, tenant, dataset["id"], started.json()["id"])
    assert (job["status"], job["completed"], job["failed"]) == ("completed", 120 + ROWS, 0), job["error"]
    statuses = wait_for_batch(client, tenant, dataset["id"], job["batch"], timeout=600)
    assert len(statuses) == 120 + ROWS and {s["indexing_status"] for s in statuses} == {"completed"}

    documents = {d["data_source_info"]["title"]: d for d in _documents(client, tenant, dataset["id"])}
    assert documents["Handbook"]["data_source_type"] == "notion_import"
    root_text = "\n".join(segment_ids_by_content(client, tenant, dataset["id"], documents["Handbook"]["id"]))
    for rendered in ("# Handbook intro", "- Wear gloves", "- Nitrile only", "1. Label samples",
                     "2. Freeze samples",
                     "- [x] Order pipettes", "- [ ] Calibrate scale", "Eye wash is by the door.",
                     "> Measure twice, pipette once.", "print('hello lab')",
                     "Organelle: Mitochondrion; Role: Energy", "## Tasks"):  # fmt: skip
        assert rendered in root_text, rendered
    assert "Leaf 1-1 records" not in root_text  # child pages are documents of their own
    section_1 = "\n".join(segment_ids_by_content(client, tenant, dataset["id"], documents["Section 1"]["id"]))
    assert "Section 1 note 149." in section_1  # the second slice of its blocks
    row = documents["Task 7"]
    properties = {"Name": "Task 7", "Status": "Done", "Tags": "lab, t1", "Due": "2026-12-01", "Done": "yes",
                  "Points": "7"}  # fmt: skip
    assert row["data_source_info"]["properties"] == properties
    assert "Status: Done" in "\n".join(segment_ids_by_content(client, tenant, dataset["id"], row["id"]))
    fields = client.get(f"/v1/datasets/{dataset['id']}/metadata", headers=tenant.headers).json()[
        "doc_metadata"
    ]
    assert {field["name"] for field in fields} == {"name", "status", "tags", "due", "done", "points"}
    is_open = {"name": "status", "comparison_operator": "is", "value": "Open"}
    open_rows = {
        "search_method": "keyword_search", "top_k": 10, "reranking_enable": False,
        "score_threshold_enabled": False,
        "metadata_filtering_conditions": {"logical_operator": "and", "conditions": [is_open]},
    }  # fmt: skip
    search = {"query": "Task lab", "retrieval_model": open_rows}
    hit_url = f"/v1/datasets/{dataset['id']}/hit-testing"
    found = client.post(hit_url, headers=tenant.headers, json=search).json()["records"]
    assert found and all(r["segment"]["document"]["doc_metadata"]["status"] == "Open" for r in found)
    records = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json={"query": leaf_fact(3, 5)},
                          headers=tenant.headers).json()["records"]  # fmt: skip
    assert records[0]["segment"]["document"]["name"] == documents["Leaf 3-5"]["name"]

    changed, untouched = documents["Leaf 3-5"], documents["Leaf 3-6"]
    before = {
        doc["id"]: segment_ids_by_content(client, tenant, dataset["id"], doc["id"])
        for doc in (changed, untouched)
    }
    workspace.set_leaf_text(3, 5, "Leaf 3-5 now records that species 305 regrows its gills.")
    sync = {"document_ids": [changed["id"], untouched["id"]]}
    client.post(f"/v1/datasets/{dataset['id']}/documents/sync", json=sync,
                headers=tenant.headers)  # fmt: skip
    rewritten = "Leaf 3-5 now records that species 305 regrows its gills."
    wait_until(lambda: rewritten in segment_ids_by_content(client, tenant, dataset["id"], changed["id"]))
    assert segment_ids_by_content(client, tenant, dataset["id"], untouched["id"]) == before[untouched["id"]]


def test_wrong_token_is_a_clear_error_on_the_call_and_the_job(client, tenant, celery_worker, notion):
    _, url = notion
    _connect(client, tenant, url, token="secret_expired")
    listed = client.get("/v1/datasources/notion/pages", headers=tenant.headers)
    assert_error(
        listed,
        400,
        "invalid_param",
        "Notion rejected the integration token (401): check the notion data source.",
    )
    dataset = create_dataset(client, tenant)
    body = {"items": [{"id": ROOT, "type": "page"}], **OPTIONS}
    started = client.post(
        f"/v1/datasets/{dataset['id']}/notion/import", json=body, headers=tenant.headers
    ).json()
    job = _wait_for_job(client, tenant, dataset["id"], started["id"])
    assert (job["status"], job["error"]) == (
        "failed",
        "Notion rejected the integration token (401): check the notion data source.",
    )
    assert _documents(client, tenant, dataset["id"]) == []


def test_a_page_not_shared_with_the_integration_is_listed_and_the_rest_imports(
    client, tenant, celery_worker, notion
):
    _, url = notion
    _connect(client, tenant, url)
    dataset = create_dataset(client, tenant)
    missing = "00000000-0000-4000-8000-00000000dead"
    leaf = "00000000-0000-4000-0001-000000000001"
    body = {"items": [{"id": missing, "type": "page"}, {"id": leaf, "type": "page"}],
            **OPTIONS}  # fmt: skip
    started = client.post(
        f"/v1/datasets/{dataset['id']}/notion/import", json=body, headers=tenant.headers
    ).json()
    job = _wait_for_job(client, tenant, dataset["id"], started["id"])
    assert (job["status"], job["completed"], job["failed"]) == ("completed", 1, 1)
    failure = next(page for page in job["pages"] if page["status"] == "failed")
    assert failure["url"] == missing and "share it with the integration" in failure["error"]


def test_public_integration_authorizes_through_oauth(client, tenant, notion):
    _, url = notion
    redirect = "https://app.example.com/notion/callback"
    body = {"provider": "notion_oauth", "api_key": OAUTH_CLIENT_SECRET, "client_id": OAUTH_CLIENT_ID,
            "redirect_uri": redirect, "base_url": url}  # fmt: skip
    assert client.post("/v1/datasources", json=body, headers=tenant.headers).status_code == 200
    authorize = client.get("/v1/datasources/notion/oauth/authorize", headers=tenant.headers).json()["url"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{url}/v1/oauth/authorize?")
    assert (query["client_id"], query["redirect_uri"], query["response_type"]) == (
        [OAUTH_CLIENT_ID],
        [redirect],
        ["code"],
    )
    state = query["state"][0]

    callback = "/v1/datasources/notion/oauth/callback"
    wrong_state = client.post(callback, json={"code": OAUTH_CODE, "state": "0" * 64}, headers=tenant.headers)
    assert_error(wrong_state, 400, "invalid_param", "The OAuth state does not belong to this workspace.")
    bad_code = client.post(callback, json={"code": "stale", "state": state}, headers=tenant.headers)
    assert_error(bad_code, 400, "invalid_param")
    assert "Notion refused the authorization code (400)" in bad_code.json()["message"]
    granted = client.post(callback, json={"code": OAUTH_CODE, "state": state}, headers=tenant.headers).json()
    assert granted == {"provider": "notion", "workspace_name": "Lab", "bot_id": "bot-1"}
    assert len(client.get("/v1/datasources/notion/pages", headers=tenant.headers).json()["data"]) == 121
