"""Every call of Dify's Python knowledge client (`KnowledgeBaseClient` in Dify's repository SDK, and
`WorkspaceClient.get_available_models`), written here from its documented requests: the same methods,
paths, bodies and headers (JSON calls send Content-Type, multipart calls only Authorization), the
underscore aliases it still uses, and `is_published` as httpx encodes a bool. Each call must succeed."""

import json
import time

import httpx
import pytest

from core.settings import get_settings
from tests.helpers import WorkspaceKey
from tests.http_servers import serving
from tests.notion_server import TOKEN, NotionWorkspace, notion_handler


class KnowledgeClient:
    """The SDK's knowledge calls over any httpx client (here the app's TestClient)."""

    def __init__(self, http: httpx.Client, api_key: str, dataset_id: str | None = None):
        self.http, self.api_key, self.dataset_id = http, api_key, dataset_id

    def _send(self, method: str, path: str, json_body=None, params=None, stream=False) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        request = self.http.build_request(
            method, f"/v1{path}", json=json_body, params=params, headers=headers
        )
        return self.http.send(request, stream=stream)

    def _send_files(self, method: str, path: str, data: dict | None, files: dict) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return self.http.request(method, f"/v1{path}", data=data, files=files, headers=headers)

    @property
    def _dataset(self) -> str:
        return f"/datasets/{self.dataset_id}"

    def create_dataset(self, name):
        return self._send("POST", "/datasets", {"name": name})

    def list_datasets(self, page=1, page_size=20):
        return self._send("GET", "/datasets", params={"page": page, "limit": page_size})

    def get_dataset(self, dataset_id):
        return self._send("GET", f"/datasets/{dataset_id}")

    def update_dataset(self, dataset_id, **fields):
        return self._send(
            "PATCH", f"/datasets/{dataset_id}", {k: v for k, v in fields.items() if v is not None}
        )

    def delete_dataset(self):
        return self._send("DELETE", self._dataset)

    def create_document_by_text(self, name, text, extra_params=None):
        data = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}, "name": name,
                "text": text} | (extra_params or {})  # fmt: skip
        return self._send("POST", f"{self._dataset}/document/create_by_text", data)

    def update_document_by_text(self, document_id, name, text, extra_params=None):
        data = {"name": name, "text": text} | (extra_params or {})
        return self._send("POST", f"{self._dataset}/documents/{document_id}/update_by_text", data)

    def create_document_by_file(self, name, content, original_document_id=None, extra_params=None):
        data = {"process_rule": {"mode": "automatic"}, "indexing_technique": "high_quality"}
        data |= extra_params or {}
        if original_document_id is not None:
            data["original_document_id"] = original_document_id
        return self._send_files(
            "POST",
            f"{self._dataset}/document/create_by_file",
            {"data": json.dumps(data)},
            {"file": (name, content)},
        )

    def update_document_by_file(self, document_id, name, content, extra_params=None):
        return self._send_files(
            "POST",
            f"{self._dataset}/documents/{document_id}/update_by_file",
            {"data": json.dumps(extra_params or {})},
            {"file": (name, content)},
        )

    def batch_indexing_status(self, batch_id):
        return self._send("GET", f"{self._dataset}/documents/{batch_id}/indexing-status")

    def delete_document(self, document_id):
        return self._send("DELETE", f"{self._dataset}/documents/{document_id}")

    def list_documents(self, page=None, page_size=None, keyword=None):
        params = {name: value for name, value in (("page", page), ("limit", page_size), ("keyword", keyword))
                  if value is not None}  # fmt: skip
        return self._send("GET", f"{self._dataset}/documents", params=params)

    def add_segments(self, document_id, segments):
        return self._send("POST", f"{self._dataset}/documents/{document_id}/segments", {"segments": segments})

    def query_segments(self, document_id, keyword=None, status=None, **kwargs):
        params = {
            name: value for name, value in (("keyword", keyword), ("status", status)) if value is not None
        }
        params |= kwargs.pop("params", {})
        return self._send("GET", f"{self._dataset}/documents/{document_id}/segments", params=params)

    def delete_document_segment(self, document_id, segment_id):
        return self._send("DELETE", f"{self._dataset}/documents/{document_id}/segments/{segment_id}")

    def update_document_segment(self, document_id, segment_id, segment_data):
        path = f"{self._dataset}/documents/{document_id}/segments/{segment_id}"
        return self._send("POST", path, {"segment": segment_data})

    def hit_testing(self, query, retrieval_model=None, external_retrieval_model=None):
        data = {"query": query}
        if retrieval_model:
            data["retrieval_model"] = retrieval_model
        if external_retrieval_model:
            data["external_retrieval_model"] = external_retrieval_model
        return self._send("POST", f"{self._dataset}/hit-testing", data)

    def get_dataset_metadata(self):
        return self._send("GET", f"{self._dataset}/metadata")

    def create_dataset_metadata(self, metadata_data):
        return self._send("POST", f"{self._dataset}/metadata", metadata_data)

    def update_dataset_metadata(self, metadata_id, metadata_data):
        return self._send("PATCH", f"{self._dataset}/metadata/{metadata_id}", metadata_data)

    def get_built_in_metadata(self):
        return self._send("GET", f"{self._dataset}/metadata/built-in")

    def manage_built_in_metadata(self, action, metadata_data=None):
        return self._send("POST", f"{self._dataset}/metadata/built-in/{action}", metadata_data or {})

    def update_documents_metadata(self, operation_data):
        return self._send("POST", f"{self._dataset}/documents/metadata", {"operation_data": operation_data})

    def list_dataset_tags(self):
        return self._send("GET", "/datasets/tags")

    def bind_dataset_tags(self, tag_ids):
        return self._send(
            "POST", "/datasets/tags/binding", {"tag_ids": tag_ids, "target_id": self.dataset_id}
        )

    def unbind_dataset_tag(self, tag_id):
        return self._send(
            "POST", "/datasets/tags/unbinding", {"tag_id": tag_id, "target_id": self.dataset_id}
        )

    def get_dataset_tags(self):
        return self._send("GET", f"{self._dataset}/tags")

    def get_datasource_plugins(self, is_published=True):
        return self._send(
            "GET", f"{self._dataset}/pipeline/datasource-plugins", params={"is_published": is_published}
        )

    def run_datasource_node(self, node_id, inputs, datasource_type, is_published=True, credential_id=None):
        data = {"inputs": inputs, "datasource_type": datasource_type, "is_published": is_published}
        if credential_id:
            data["credential_id"] = credential_id
        return self._send(
            "POST", f"{self._dataset}/pipeline/datasource/nodes/{node_id}/run", data, stream=True
        )

    def run_rag_pipeline(
        self,
        inputs,
        datasource_type,
        datasource_info_list,
        start_node_id,
        is_published=True,
        response_mode="blocking",
    ):
        data = {
            "inputs": inputs,
            "datasource_type": datasource_type,
            "datasource_info_list": datasource_info_list,
            "start_node_id": start_node_id,
            "is_published": is_published,
            "response_mode": response_mode,
        }
        return self._send("POST", f"{self._dataset}/pipeline/run", data, stream=response_mode == "streaming")

    def upload_pipeline_file(self, name, content):
        return self._send_files("POST", "/datasets/pipeline/file-upload", None, {"file": (name, content)})

    def batch_update_document_status(self, action, document_ids, dataset_id=None):
        path = f"/datasets/{dataset_id or self.dataset_id}/documents/status/{action}"
        return self._send("PATCH", path, {"document_ids": document_ids})

    def get_available_models(self, model_type):  # WorkspaceClient
        return self._send("GET", f"/workspaces/current/models/model-types/{model_type}")


def _ok(response: httpx.Response, status: int = 200) -> dict | list | None:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if status != 204 else None


def _events(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.read()
    events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    response.close()
    return events


def _indexed(sdk: KnowledgeClient, batch: str) -> list[dict]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = _ok(sdk.batch_indexing_status(batch))["data"]
        if all(status["indexing_status"] in ("completed", "error") for status in statuses):
            assert {status["indexing_status"] for status in statuses} == {"completed"}, statuses
            return statuses
        time.sleep(0.1)
    raise AssertionError(f"batch {batch} did not finish")


@pytest.fixture
def notion_url(database_url, monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    with serving(notion_handler(NotionWorkspace())) as url:
        yield url


def test_every_call_of_difys_knowledge_client_succeeds(
    client, tenant: WorkspaceKey, celery_worker, notion_url
):
    sdk = KnowledgeClient(client, tenant.key)
    dataset = _ok(sdk.create_dataset("dify client"))
    sdk.dataset_id = dataset["id"]
    assert dataset["id"] in [item["id"] for item in _ok(sdk.list_datasets(page=1, page_size=20))["data"]]
    assert _ok(sdk.get_dataset(dataset["id"]))["name"] == "dify client"
    assert (
        _ok(sdk.update_dataset(dataset["id"], name="sdk", description="written by the SDK"))["name"] == "sdk"
    )
    models = _ok(sdk.get_available_models("text-embedding"))["data"]
    assert models and models[0]["models"]

    text = _ok(sdk.create_document_by_text("otters.txt", "Sea otters hold hands while they sleep."))
    _indexed(sdk, text["batch"])
    document_id = text["document"]["id"]
    by_file = _ok(sdk.create_document_by_file("kelp.md", b"# Kelp\n\nKelp forests shelter sea otters."))
    _indexed(sdk, by_file["batch"])
    file_id = by_file["document"]["id"]
    replaced = _ok(
        sdk.create_document_by_file("kelp.md", b"# Kelp\n\nKelp grows fast.", original_document_id=file_id)
    )
    assert replaced["document"]["id"] == file_id
    _indexed(sdk, replaced["batch"])
    updated = _ok(sdk.update_document_by_text(document_id, "otters.txt", "Sea otters use rocks as tools."))
    _indexed(sdk, updated["batch"])
    _indexed(
        sdk, _ok(sdk.update_document_by_file(file_id, "kelp.md", b"# Kelp\n\nKelp is an alga."))["batch"]
    )
    listed = _ok(sdk.list_documents(page=1, page_size=20, keyword="otters"))
    assert [item["id"] for item in listed["data"]] == [document_id]

    added = _ok(
        sdk.add_segments(document_id, [{"content": "Otters have the densest fur.", "keywords": ["fur"]}])
    )
    segment_id = added["data"][0]["id"]
    found = _ok(sdk.query_segments(document_id, keyword="densest", status="completed", params={"page": 1}))
    assert [segment["id"] for segment in found["data"]] == [segment_id]
    changed = _ok(
        sdk.update_document_segment(
            document_id,
            segment_id,
            {"content": "Otters groom their fur.", "keywords": ["groom"], "enabled": True},
        )
    )
    assert changed["data"]["content"] == "Otters groom their fur."
    retrieval_model = {"search_method": "hybrid_search", "reranking_enable": False, "top_k": 2,
                       "score_threshold_enabled": False}  # fmt: skip
    records = _ok(sdk.hit_testing("otters grooming fur", retrieval_model=retrieval_model))["records"]
    assert records[0]["segment"]["id"] == segment_id
    _ok(sdk.delete_document_segment(document_id, segment_id), 204)

    field = _ok(sdk.create_dataset_metadata({"type": "string", "name": "author"}), 201)
    assert _ok(sdk.update_dataset_metadata(field["id"], {"name": "writer"}))["name"] == "writer"
    assert [item["name"] for item in _ok(sdk.get_dataset_metadata())["doc_metadata"]] == ["writer"]
    assert "document_name" in [item["name"] for item in _ok(sdk.get_built_in_metadata())["fields"]]
    assert _ok(sdk.manage_built_in_metadata("enable")) == {"result": "success"}
    operation = [{"document_id": document_id, "metadata_list": [{"id": field["id"], "name": "writer",
                                                                  "value": "Ada"}]}]  # fmt: skip
    assert _ok(sdk.update_documents_metadata(operation)) == {"result": "success"}
    assert _ok(sdk.manage_built_in_metadata("disable")) == {"result": "success"}

    tag = _ok(client.post("/v1/datasets/tags", json={"name": "marine"}, headers=tenant.headers))
    assert tag["id"] in [item["id"] for item in _ok(sdk.list_dataset_tags())]
    _ok(sdk.bind_dataset_tags([tag["id"]]), 204)
    assert [item["name"] for item in _ok(sdk.get_dataset_tags())["data"]] == ["marine"]
    _ok(sdk.unbind_dataset_tag(tag["id"]), 204)

    assert _ok(sdk.batch_update_document_status("disable", [document_id], dataset["id"])) == {
        "result": "success"
    }
    assert _ok(sdk.batch_update_document_status("enable", [document_id])) == {"result": "success"}

    credentials = {"provider": "notion", "api_key": TOKEN, "base_url": notion_url}
    _ok(client.post("/v1/datasources", json=credentials, headers=tenant.headers))
    # The dataset's documents are uploads, so its pipeline offers that source only; a new one offers all.
    assert [node["node_id"] for node in _ok(sdk.get_datasource_plugins(is_published=True))] == ["local_file"]
    fresh = KnowledgeClient(client, tenant.key, _ok(sdk.create_dataset("pipeline"))["id"])
    nodes = {node["node_id"]: node for node in _ok(fresh.get_datasource_plugins())}
    assert set(nodes) == {"local_file", "notion", "firecrawl", "jinareader"}
    notion_credential = nodes["notion"]["credentials"][0]["id"]
    [completed] = _events(
        fresh.run_datasource_node("notion", {}, "online_document", credential_id=notion_credential)
    )
    assert completed["event"] == "datasource_completed" and completed["data"][0]["pages"]
    upload = _ok(sdk.upload_pipeline_file("sloths.txt", b"Sloths swim surprisingly well."), 201)
    run = _ok(sdk.run_rag_pipeline({}, "local_file", [{"reference": upload["id"], "name": upload["name"]}],
                                   "local_file"))  # fmt: skip
    _indexed(sdk, run["batch"])
    second = _ok(sdk.upload_pipeline_file("sloths-2.txt", b"Sloths descend once a week."), 201)
    events = _events(sdk.run_rag_pipeline({}, "local_file", [{"reference": second["id"]}], "local_file",
                                          response_mode="streaming"))  # fmt: skip
    assert events[-1]["event"] == "workflow_finished" and events[-1]["data"]["status"] == "succeeded"

    _ok(sdk.delete_document(document_id), 204)
    _ok(sdk.delete_dataset(), 204)
    assert sdk.get_dataset(dataset["id"]).status_code == 404
