"""Dify's knowledge-pipeline calls with the payloads its client sends: the pipeline upload, the
datasource nodes, node runs (Notion's pages, a Firecrawl crawl as a stream) and pipeline runs for each
source, blocking and streaming, through a real worker; and their errors."""

import json

import pytest

from core.settings import get_settings
from tests.crawler_servers import GOOD_KEY, FirecrawlState, firecrawl_handler, sitemap_site_handler
from tests.helpers import assert_error, create_dataset, wait_for_batch
from tests.http_servers import serving
from tests.notion_server import TOKEN, NotionWorkspace, leaf_fact, notion_handler

STAGES = ["extract", "clean", "chunk", "index"]


@pytest.fixture
def local_outbound(database_url, monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CRAWL_POLL_INTERVAL", "0.05")
    get_settings.cache_clear()


def _upload(client, owner, name: str, content: bytes, mime: str = "text/plain"):
    files = {"file": (name, content, mime)}
    return client.post("/v1/datasets/pipeline/file-upload", files=files, headers=owner.headers)


def _run(client, owner, dataset_id: str, **body):
    body = {"inputs": {}, "is_published": True, "response_mode": "blocking"} | body
    return client.post(f"/v1/datasets/{dataset_id}/pipeline/run", json=body, headers=owner.headers)


def _events(client, owner, url: str, body: dict) -> list[dict]:
    with client.stream("POST", url, json=body, headers=owner.headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    return [json.loads(line.removeprefix("data: ")) for line in lines]


def _hit(client, owner, dataset_id: str, query: str) -> list[str]:
    model = {"search_method": "hybrid_search", "top_k": 3, "reranking_enable": False,
             "score_threshold_enabled": False}  # fmt: skip
    body = {"query": query, "retrieval_model": model}
    response = client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=owner.headers)
    assert response.status_code == 200, response.text
    return [record["segment"]["content"] for record in response.json()["records"]]


def test_uploaded_files_run_through_the_pipeline_blocking_and_streaming(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    plugins = client.get(
        f"/v1/datasets/{dataset['id']}/pipeline/datasource-plugins?is_published=true", headers=tenant.headers
    )
    assert plugins.status_code == 200, plugins.text
    nodes = {node["node_id"]: node for node in plugins.json()}
    assert {node: nodes[node]["datasource_type"] for node in nodes} == {
        "local_file": "local_file", "notion": "online_document", "firecrawl": "website_crawl",
        "jinareader": "website_crawl",
    }  # fmt: skip
    assert {"url", "limit", "crawl_sub_pages"} <= {
        v["variable"] for v in nodes["firecrawl"]["user_input_variables"]
    }

    uploaded = _upload(client, tenant, "wombats.txt", b"Wombats leave cube-shaped droppings on rocks.")
    assert uploaded.status_code == 201, uploaded.text
    upload = uploaded.json()
    assert set(upload) == {"id", "name", "size", "extension", "mime_type", "created_by", "created_at"}
    assert (upload["name"], upload["size"], upload["extension"]) == ("wombats.txt", 45, "txt")
    assert isinstance(upload["created_at"], str) and upload["created_at"][:2] == "20"  # ISO, as Dify

    blocking = _run(client, tenant, dataset["id"], datasource_type="local_file", start_node_id="local_file",
                    datasource_info_list=[{"reference": upload["id"], "name": "wombats.txt"}])  # fmt: skip
    assert blocking.status_code == 200, blocking.text
    body = blocking.json()
    assert set(body) == {"batch", "dataset", "documents"}
    assert body["dataset"] == {"id": dataset["id"], "name": "handbook", "description": "",
                               "chunk_structure": "text_model"}  # fmt: skip
    [document] = body["documents"]
    assert set(document) == {"id", "position", "data_source_type", "data_source_info", "name",
                             "indexing_status", "error", "enabled"}  # fmt: skip
    assert (document["name"], document["data_source_type"]) == ("wombats.txt", "upload_file")
    assert {s["indexing_status"] for s in wait_for_batch(client, tenant, dataset["id"], body["batch"])} == {
        "completed"
    }
    assert _hit(client, tenant, dataset["id"], "wombat droppings")[0].startswith("Wombats leave cube-shaped")

    second = _upload(
        client, tenant, "quokkas.md", b"# Quokkas\n\nQuokkas smile on Rottnest Island.", "text/markdown"
    )
    related = {"related_id": second.json()["id"], "name": "quokkas.md"}  # the alias Dify also reads
    body = {"inputs": {}, "datasource_type": "local_file", "datasource_info_list": [related],
            "start_node_id": "local_file", "is_published": True, "response_mode": "streaming"}  # fmt: skip
    events = _events(client, tenant, f"/v1/datasets/{dataset['id']}/pipeline/run", body)
    kinds = [event["event"] for event in events if event["event"] != "ping"]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    started = [e["data"]["node_id"] for e in events if e["event"] == "node_started"]
    finished = [e["data"]["node_id"] for e in events if e["event"] == "node_finished"]
    assert started == STAGES and finished == STAGES  # every stage, in order
    run_ids = {event["workflow_run_id"] for event in events if "workflow_run_id" in event}
    assert len(run_ids) == 1
    final = events[-1]["data"]
    assert final["status"] == "succeeded", final
    [made] = final["outputs"]["documents"]
    assert (made["name"], made["indexing_status"]) == ("quokkas.md", "completed")
    assert _hit(client, tenant, dataset["id"], "quokkas smile")[0].startswith("# Quokkas")


def test_a_crawl_node_streams_its_pages_and_the_run_indexes_the_chosen_ones(
    client, tenant, celery_worker, local_outbound
):
    with serving(sitemap_site_handler(6)) as site:
        state = FirecrawlState(site, pages=6, failed=0)
        with serving(firecrawl_handler(state)) as firecrawl:
            body = {"provider": "firecrawl", "api_key": GOOD_KEY, "base_url": firecrawl}
            assert client.post("/v1/datasources", json=body, headers=tenant.headers).status_code == 200
            dataset = create_dataset(client, tenant)
            plugins = client.get(
                f"/v1/datasets/{dataset['id']}/pipeline/datasource-plugins", headers=tenant.headers
            )
            [credential] = next(n for n in plugins.json() if n["node_id"] == "firecrawl")["credentials"]
            node_body = {"inputs": {"url": site, "limit": 6, "crawl_sub_pages": True},
                         "datasource_type": "website_crawl", "is_published": True,
                         "credential_id": credential["id"]}  # fmt: skip
            url = f"/v1/datasets/{dataset['id']}/pipeline/datasource/nodes/firecrawl/run"
            events = _events(client, tenant, url, node_body)
    assert state.crawl_bodies[0]["url"] == site and state.crawl_bodies[0]["limit"] == 6
    assert events[-1]["event"] == "datasource_completed", events[-1]
    assert all(event["event"] == "datasource_processing" for event in events[:-1])
    pages = events[-1]["data"]
    assert len(pages) == 6 and events[-1]["completed"] == 6
    assert set(pages[0]) == {"source_url", "title", "description", "content"}
    chosen = [page for page in pages if page["source_url"].endswith(("/page-2", "/page-5"))]

    run = _run(client, tenant, dataset["id"], datasource_type="website_crawl", start_node_id="firecrawl",
               datasource_info_list=chosen)  # fmt: skip
    assert run.status_code == 200, run.text
    made = run.json()["documents"]
    assert sorted(d["name"] for d in made) == [f"{site}/page-2", f"{site}/page-5"]
    assert made[0]["data_source_type"] == "website_crawl"
    assert made[0]["data_source_info"]["provider"] == "firecrawl"
    wait_for_batch(client, tenant, dataset["id"], run.json()["batch"])
    assert "axolotl fact number 5" in _hit(client, tenant, dataset["id"], "axolotl fact number 5")[0]


def test_notion_pages_are_listed_by_the_node_and_imported_by_a_run(
    client, tenant, celery_worker, local_outbound
):
    with serving(notion_handler(NotionWorkspace())) as notion:
        body = {"provider": "notion", "api_key": TOKEN, "base_url": notion}
        assert client.post("/v1/datasources", json=body, headers=tenant.headers).status_code == 200
        dataset = create_dataset(client, tenant)
        url = f"/v1/datasets/{dataset['id']}/pipeline/datasource/nodes/notion/run"
        [listed] = _events(client, tenant, url, {"inputs": {}, "datasource_type": "online_document",
                                                 "is_published": True})  # fmt: skip
        assert listed["event"] == "datasource_completed"
        [workspace] = listed["data"]
        pages = {page["page_name"]: page for page in workspace["pages"]}
        leaf = pages["Leaf 2-3"]
        item = {"workspace_id": workspace["workspace_id"], "page": leaf}
        run = _run(client, tenant, dataset["id"], datasource_type="online_document", start_node_id="notion",
                   datasource_info_list=[item])  # fmt: skip
    assert run.status_code == 200, run.text
    [document] = run.json()["documents"]
    assert document["data_source_type"] == "notion_import"
    wait_for_batch(client, tenant, dataset["id"], run.json()["batch"])
    assert leaf_fact(2, 3) in _hit(client, tenant, dataset["id"], "species 203 regenerates")[0]


def test_pipeline_errors_are_clear(client, tenant, other_tenant):
    dataset = create_dataset(client, tenant)
    base = f"/v1/datasets/{dataset['id']}/pipeline"
    local = {"inputs": {}, "datasource_type": "local_file", "is_published": True}
    assert_error(client.post(f"{base}/datasource/nodes/dropbox/run", json=local, headers=tenant.headers),
                 404, "not_found")  # fmt: skip
    wrong_type = client.post(f"{base}/datasource/nodes/notion/run", json=local, headers=tenant.headers)
    assert_error(
        wrong_type, 400, "invalid_param", "The notion node is a online_document node, not local_file."
    )
    assert_error(client.post(f"{base}/datasource/nodes/local_file/run", json=local, headers=tenant.headers),
                 400, "invalid_param")  # fmt: skip
    crawl = {"inputs": {"limit": 5}, "datasource_type": "website_crawl", "is_published": True}
    no_url = client.post(f"{base}/datasource/nodes/firecrawl/run", json=crawl, headers=tenant.headers)
    assert_error(no_url, 400, "invalid_param", "inputs.url is required: the page to start crawling from.")

    missing = _run(client, tenant, dataset["id"], datasource_type="local_file", start_node_id="local_file",
                   datasource_info_list=[{"name": "x.txt"}])  # fmt: skip
    assert_error(missing, 400, "invalid_param")
    theirs = _upload(client, other_tenant, "theirs.txt", b"Not yours.").json()
    foreign = _run(client, tenant, dataset["id"], datasource_type="local_file", start_node_id="local_file",
                   datasource_info_list=[{"reference": theirs["id"]}])  # fmt: skip
    assert_error(foreign, 404, "not_found")
    bad_item = _run(client, tenant, dataset["id"], datasource_type="website_crawl", start_node_id="firecrawl",
                    datasource_info_list=[{"source_url": "https://example.org/a"}])  # fmt: skip
    assert_error(bad_item, 400, "invalid_param", "datasource_info_list[0].content: Field required")
    drive = _run(client, tenant, dataset["id"], datasource_type="online_drive", start_node_id="local_file",
                 datasource_info_list=[{}])  # fmt: skip
    assert_error(drive, 400, "invalid_param")
    assert_error(_upload(client, tenant, "tool.exe", b"MZ"), 415, "unsupported_file_type")
    no_file = client.post("/v1/datasets/pipeline/file-upload", headers=tenant.headers)
    assert_error(no_file, 400, "no_file_uploaded")
    listed = client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()
    assert listed["total"] == 0  # nothing half-made
