"""The MCP server at /mcp, driven by the official MCP client over streamable HTTP against a real
uvicorn server of the app, and over stdio through `kb mcp`: the same keys, limits, isolation and
search function as the REST API."""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from core.api_keys import service as api_keys
from core.database import session_scope
from core.workspaces import service as workspaces
from tests.helpers import create_dataset, create_text_document, wait_for_batch

REFUSAL = "Sorry, you have reached the knowledge base request rate limit of your subscription."
OTTERS = "Sea otters hold hands while they sleep so they do not drift apart."
OTHER_TEXTS = [
    "Beavers build dams of branches and mud across streams.",
    "Penguins huddle together to keep warm through the polar winter.",
]
HIT_TESTING = {
    "search_method": "hybrid_search",
    "top_k": 3,
    "reranking_enable": False,
    "score_threshold_enabled": False,
}


@pytest.fixture
def library(client, tenant, celery_worker) -> dict:
    dataset = create_dataset(client, tenant, name="animals")
    for number, text in enumerate([OTTERS, *OTHER_TEXTS]):
        rule = {"mode": "automatic"}
        created = create_text_document(
            client, tenant, dataset["id"], f"animal {number}", text, process_rule=rule
        )
        assert created.status_code == 200, created.text
        wait_for_batch(client, tenant, dataset["id"], created.json()["batch"])
    return dataset


async def _session_call(url: str, key: str, work):
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        return await work(session)


def _mcp(url: str, key: str, work):
    return _in_own_thread(_session_call, url, key, work)


def _in_own_thread(function, *arguments):
    """Runs an async client in a thread of its own: the browser tests' Playwright keeps an event loop
    running in the test thread for the whole session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, function, *arguments).result()


def _structured(result) -> dict:
    assert not result.is_error, result.content
    return result.structured_content


def test_tools_have_valid_input_schemas_and_descriptions(served, tenant):
    async def tools(session):
        return (await session.list_tools()).tools

    listed = _mcp(served, tenant.key, tools)
    assert {tool.name for tool in listed} == {"list_datasets", "retrieve", "list_documents", "read_segment"}
    for tool in listed:
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert len(tool.description) > 60


def test_retrieve_finds_the_chunk_first_as_hit_testing_does_and_records_the_query(
    served, client, tenant, library
):
    async def work(session):
        datasets = _structured(await session.call_tool("list_datasets", {}))
        found = _structured(
            await session.call_tool(
                "retrieve", {"query": "how do otters sleep", "dataset_ids": [library["id"]], "top_k": 3}
            )
        )
        return datasets, found

    datasets, found = _mcp(served, tenant.key, work)
    assert [(d["id"], d["documents"]) for d in datasets["datasets"]] == [(library["id"], 3)]
    first = found["records"][0]
    assert first["content"] == OTTERS and first["document_name"] == "animal 0"
    assert first["link"].startswith(f"{served}/ui/datasets/{library['id']}/documents/")
    body = {"query": "how do otters sleep", "retrieval_model": HIT_TESTING}
    records = client.post(f"/v1/datasets/{library['id']}/hit-testing", json=body, headers=tenant.headers)
    assert [(r["segment"]["id"], r["score"]) for r in records.json()["records"]] == [
        (record["segment_id"], record["score"]) for record in found["records"]
    ]
    queries = client.get(f"/v1/datasets/{library['id']}/queries", headers=tenant.headers).json()["data"]
    assert "mcp" in [query["source"] for query in queries]


def test_documents_and_a_segment_with_its_neighbours(served, tenant, library):
    async def work(session):
        listed = _structured(await session.call_tool("list_documents", {"dataset_id": library["id"]}))
        found = _structured(
            await session.call_tool(
                "retrieve",
                {"query": "otters", "dataset_ids": [library["id"]], "search_method": "full_text_search"},
            )
        )
        segment_id = found["records"][0]["segment_id"]
        read = _structured(
            await session.call_tool("read_segment", {"dataset_id": library["id"], "segment_id": segment_id})
        )
        return listed, read, segment_id

    listed, read, segment_id = _mcp(served, tenant.key, work)
    assert sorted(d["name"] for d in listed["documents"]) == ["animal 0", "animal 1", "animal 2"]
    assert [(s["id"], s["asked"], s["content"]) for s in read["segments"]] == [(segment_id, True, OTTERS)]


def test_a_scoped_key_sees_only_its_dataset_and_other_workspaces_nothing(
    served, client, tenant, other_tenant, library
):
    second = create_dataset(client, tenant, name="plants")
    with session_scope() as session:
        workspace = workspaces.get_or_create_workspace(session, "acme")
        scoped = api_keys.create_key(session, workspace, [second["id"]])

    async def listed(session):
        return _structured(await session.call_tool("list_datasets", {}))

    async def search_foreign(session):
        return await session.call_tool("retrieve", {"query": "otters", "dataset_ids": [library["id"]]})

    assert [d["id"] for d in _mcp(served, scoped, listed)["datasets"]] == [second["id"]]
    assert _mcp(served, other_tenant.key, listed)["datasets"] == []
    for key in (scoped, other_tenant.key):
        refused = _mcp(served, key, search_foreign)
        assert refused.is_error and "Dataset not found." in refused.content[0].text
        assert OTTERS not in json.dumps(refused.model_dump())


def _refused(url: str, key: str) -> list[BaseException]:
    """What the MCP client raises when it cannot even list the tools with this key."""

    async def tools(session):
        return await session.list_tools()

    with pytest.raises(BaseExceptionGroup) as raised:
        _mcp(url, key, tools)
    return _leaves(raised.value)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def test_it_answers_under_any_host_name(served, tenant):
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "1"},
        },
    }
    headers = {**tenant.headers, "Host": "kb.example.com", "Accept": "application/json, text/event-stream"}
    answer = httpx.post(f"{served}/mcp", json=initialize, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["serverInfo"]["name"] == "knowledge-base"


def test_a_wrong_or_revoked_key_is_refused(served, tenant):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    answer = httpx.post(f"{served}/mcp", json=initialize, headers={"Authorization": "Bearer ds-not-a-key"})
    assert answer.status_code == 401 and answer.json()["message"] == "Access token is invalid"
    assert answer.headers["X-Request-Id"]  # logged and counted as every request is
    assert 'route="/mcp"' in httpx.get(f"{served}/metrics").text
    assert httpx.post(f"{served}/mcp", json=initialize).status_code == 401
    assert any(isinstance(leaf, MCPError) for leaf in _refused(served, "ds-not-a-key"))
    with session_scope() as session:
        key = api_keys.list_keys(session, workspaces.get_or_create_workspace(session, "acme"))[0]
        api_keys.revoke_key(session, key.id)
    assert any(isinstance(leaf, MCPError) for leaf in _refused(served, tenant.key))


def test_the_rate_limit_applies_to_searches(served, client, make_workspace, broker):
    small = make_workspace("small-co", "sandbox")
    dataset = create_dataset(client, small, name="tiny")

    async def many(session):
        results = []
        for _ in range(11):
            results.append(
                await session.call_tool("retrieve", {"query": "x", "dataset_ids": [dataset["id"]]})
            )
        return results

    results = _mcp(served, small.key, many)
    said = [result.content[0].text for result in results]
    # A sandbox takes 10 counted requests a minute: creating the dataset was the first.
    assert not any(REFUSAL in text for text in said[:9]), said
    assert all(text.endswith(REFUSAL) for text in said[9:]), said


def test_kb_mcp_proxies_stdio_to_the_service(served, tenant, library):
    environment = {**os.environ, "KB_MCP_URL": f"{served}/mcp", "KB_API_KEY": tenant.key}
    params = StdioServerParameters(command=sys.executable, args=["-m", "kb", "mcp"], env=environment)

    async def run():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
            found = await session.call_tool("retrieve", {"query": "how do otters sleep"})
            return names, found

    names, found = _in_own_thread(run)
    assert "retrieve" in names
    assert _structured(found)["records"][0]["content"] == OTTERS
