"""A key of workspace A can neither read nor change nor detect workspace B's datasets and tags."""

import re
import uuid

import pytest

from api.app import create_app
from core.database import session_scope
from core.documents.models import Document
from core.online_sources.models import CrawlJob
from tests.helpers import assert_error, create_dataset, upload_document, wait_for_batch

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _dataset_routes() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document whose path names a dataset: new routes are covered."""
    paths = create_app().openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        if "{dataset_id}" in path
        for method in operations
    ]


DATASET_ROUTES = _dataset_routes()


def _naming_dataset(path: str, dataset_id: str) -> str:
    """The route's URL for that dataset, with ids that exist nowhere for its other placeholders."""
    return PLACEHOLDER.sub(
        lambda m: dataset_id if m.group(1) == "dataset_id" else "00000000-0000-4000-8000-000000000000", path
    )


def test_walk_covers_the_dataset_routes():
    assert ("GET", "/v1/datasets/{dataset_id}") in DATASET_ROUTES
    assert ("DELETE", "/v1/datasets/{dataset_id}") in DATASET_ROUTES
    assert ("GET", "/v1/datasets/{dataset_id}/tags") in DATASET_ROUTES


@pytest.mark.parametrize(("method", "path"), DATASET_ROUTES)
def test_other_workspace_dataset_is_not_found(client, tenant, other_tenant, method, path):
    victim = create_dataset(client, other_tenant, "secret")
    url = _naming_dataset(path, victim["id"])
    response = client.request(method, url, json={"name": "stolen"}, headers=tenant.headers)
    assert_error(response, 404, "not_found", "Dataset not found.")
    after = client.get(f"/v1/datasets/{victim['id']}", headers=other_tenant.headers)
    assert after.status_code == 200 and after.json()["name"] == "secret"


def test_other_workspace_datasets_are_not_listed(client, tenant, other_tenant):
    create_dataset(client, other_tenant, "secret")
    assert client.get("/v1/datasets?include_all=true", headers=tenant.headers).json()["total"] == 0
    assert client.get("/v1/datasets?keyword=secret", headers=tenant.headers).json()["data"] == []


def test_other_workspace_tags_cannot_be_used(client, tenant, other_tenant):
    victim = create_dataset(client, other_tenant, "secret")
    their_tag = client.post("/v1/datasets/tags", json={"name": "theirs"}, headers=other_tenant.headers).json()
    mine = create_dataset(client, tenant, "mine")

    rename = client.patch(
        "/v1/datasets/tags", json={"tag_id": their_tag["id"], "name": "x"}, headers=tenant.headers
    )
    assert_error(rename, 404, "not_found", "Tag not found")
    remove = client.request(
        "DELETE", "/v1/datasets/tags", json={"tag_id": their_tag["id"]}, headers=tenant.headers
    )
    assert_error(remove, 404, "not_found", "Tag not found")
    bind_theirs = {"tag_ids": [their_tag["id"]], "target_id": victim["id"]}
    assert_error(
        client.post("/v1/datasets/tags/binding", json=bind_theirs, headers=tenant.headers),
        404,
        "not_found",
        "Dataset not found.",
    )
    assert_error(
        client.post("/v1/datasets/tags/unbinding", json=bind_theirs, headers=tenant.headers),
        404,
        "not_found",
        "Dataset not found.",
    )
    # Their tag id bound to my dataset is refused as an unknown id is: the answer never says "done".
    bind_mine = {"tag_ids": [their_tag["id"]], "target_id": mine["id"]}
    assert_error(
        client.post("/v1/datasets/tags/binding", json=bind_mine, headers=tenant.headers),
        404,
        "not_found",
        "Tag not found",
    )
    assert client.get(f"/v1/datasets/{mine['id']}/tags", headers=tenant.headers).json()["total"] == 0
    assert client.get(f"/v1/datasets?tag_ids={their_tag['id']}", headers=tenant.headers).json()["total"] == 0
    theirs = client.get("/v1/datasets/tags", headers=other_tenant.headers).json()
    assert theirs == [{**their_tag, "binding_count": "0"}]


HIERARCHICAL = {"mode": "hierarchical", "rules": {"pre_processing_rules": [], "parent_mode": "paragraph",
                "segmentation": {"separator": "\\n\\n", "max_tokens": 1000},
                "subchunk_segmentation": {"separator": ". ", "max_tokens": 100}}}  # fmt: skip
ACTIONS = {"/documents/status/{action}": "disable", "/metadata/built-in/{action}": "enable"}
FIXED = {"model_type": "text-embedding", "provider": "firecrawl", "node_id": "local_file"}
# Deleting one's own dataset involves no id of another workspace (the first walk covers it).
NOT_WALKED = {("DELETE", "/v1/datasets/{dataset_id}")}


@pytest.fixture
def victim(client, other_tenant, celery_worker) -> dict:
    """Another workspace's ids of every kind: dataset, document, batch, segment, child chunk,
    metadata field, tag and uploaded file."""
    return _ids_of_a_secret_dataset(client, other_tenant)


def _ids_of_a_secret_dataset(client, owner) -> dict:
    headers = owner.headers
    dataset = create_dataset(client, owner, "secret")
    options = {
        "indexing_technique": "high_quality",
        "doc_form": "hierarchical_model",
        "process_rule": HIERARCHICAL,
    }
    created = upload_document(
        client, owner, dataset["id"], "plan.txt", b"Secret plan. Launch on Monday.", options
    ).json()
    wait_for_batch(client, owner, dataset["id"], created["batch"])
    base = f"/v1/datasets/{dataset['id']}"
    document_id = created["document"]["id"]
    segment = client.get(f"{base}/documents/{document_id}/segments", headers=headers).json()["data"][0]
    field = client.post(f"{base}/metadata", json={"type": "string", "name": "owner"}, headers=headers).json()
    tag = client.post("/v1/datasets/tags", json={"name": "secret"}, headers=headers).json()
    client.post(
        "/v1/datasets/tags/binding",
        json={"tag_ids": [tag["id"]], "target_id": dataset["id"]},
        headers=headers,
    )
    with session_scope() as session:
        upload_file_id = session.get(Document, document_id).upload_file_id
        job = CrawlJob(workspace_id=owner.workspace_id, dataset_id=dataset["id"], provider="firecrawl",
                       url="https://example.com", options={}, created_by=dataset["created_by"])  # fmt: skip
        session.add(job)
        session.flush()
        job_id = job.id
    return {
        "victim_dataset_id": dataset["id"],
        "document_id": document_id,
        "batch": created["batch"],
        "segment_id": segment["id"],
        "child_chunk_id": segment["child_chunks"][0]["id"],
        "metadata_id": field["id"],
        "tag_id": tag["id"],
        "upload_file_id": upload_file_id,
        "job_id": job_id,
    }


def _unknown_ids(ids: dict) -> dict:
    return {name: ("20991231235959000000" if name == "batch" else str(uuid.uuid4())) for name in ids}


def _request(path: str, own_dataset_id: str, ids: dict, n: int) -> tuple[str, dict]:
    def fill(match):
        name = match.group(1)
        if name == "dataset_id":
            return own_dataset_id
        if name == "action":
            return next(value for suffix, value in ACTIONS.items() if path.endswith(suffix))
        return FIXED.get(name) or ids[name]

    body = {
        "name": f"stolen-{n}", "text": "stolen", "content": "stolen", "query": "launch plan",
        "document_ids": [ids["document_id"]], "dataset_ids": [ids["victim_dataset_id"]],
        "knowledge_id": ids["victim_dataset_id"], "retrieval_setting": {"top_k": 2},
        "segments": [{"content": "stolen"}], "tag_id": ids["tag_id"], "tag_ids": [ids["tag_id"]],
        "target_id": ids["victim_dataset_id"], "type": "string", "job_id": ids["job_id"],
        "datasource_type": "local_file", "start_node_id": "local_file", "inputs": {},
        "datasource_info_list": [{"reference": ids["upload_file_id"]}],
        "operation_data": [{"document_id": ids["document_id"], "partial_update": False,
                            "metadata_list": [{"id": ids["metadata_id"], "name": "owner", "value": "x"}]}],
    }  # fmt: skip
    return PLACEHOLDER.sub(fill, path), body


def _victim_view(client, owner, ids: dict) -> list:
    base = f"/v1/datasets/{ids['victim_dataset_id']}"
    document = f"{base}/documents/{ids['document_id']}"
    urls = [base, f"{base}/documents", document, f"{document}/segments",
            f"{document}/segments/{ids['segment_id']}/child_chunks", f"{base}/metadata", "/v1/datasets/tags",
            f"{base}/documents/{ids['batch']}/indexing-status"]  # fmt: skip
    return [client.get(url, headers=owner.headers).json() for url in urls]


def test_ids_of_another_workspace_are_indistinguishable_from_unknown_ones(
    client, tenant, other_tenant, victim
):
    """Every route, with the caller's own dataset and the other workspace's ids in the path and the
    body, answers exactly as it does for ids that exist nowhere; nothing of theirs changes."""
    before = _victim_view(client, other_tenant, victim)
    own = create_dataset(client, tenant, "mine")["id"]
    _walk_every_route(client, tenant.headers, own, victim)
    assert _victim_view(client, other_tenant, victim) == before


def test_ids_outside_a_scoped_key_are_indistinguishable_from_unknown_ones(client, tenant, celery_worker):
    """The same walk with a key scoped to one dataset and the ids of another dataset of its own
    workspace (body-borne upload, document and segment ids included)."""
    from core.api_keys import service as api_keys

    outside = _ids_of_a_secret_dataset(client, tenant)
    mine = create_dataset(client, tenant, "mine")["id"]
    with session_scope() as session:
        key = api_keys.create_key(session, api_keys.authenticate(session, tenant.key).workspace, [mine])
    before = _victim_view(client, tenant, outside)
    _walk_every_route(client, {"Authorization": f"Bearer {key}"}, mine, outside)
    assert _victim_view(client, tenant, outside) == before


def _walk_every_route(client, headers: dict, own: str, ids: dict) -> None:
    routes = [(method.upper(), path) for path, operations in create_app().openapi()["paths"].items()
              for method in operations if (method.upper(), path) not in NOT_WALKED]  # fmt: skip
    differences = []
    for n, (method, path) in enumerate(routes):
        answers = []
        for k, named in enumerate((ids, _unknown_ids(ids))):
            url, body = _request(path, own, named, 2 * n + k)
            answers.append(client.request(method, url, json=body, headers=headers))
        theirs, unknown = answers
        same = theirs.status_code == unknown.status_code and (
            theirs.status_code < 300 or theirs.content == unknown.content
        )
        if not same:
            differences.append((method, path, theirs.status_code, theirs.text[:200], unknown.text[:200]))
    assert differences == [], "\n".join(map(str, differences))
    assert len(routes) > 40


@pytest.fixture
def scoped(client, tenant) -> dict:
    """A key of the tenant's own workspace that may reach one dataset (`mine`) and not the other."""
    from core.api_keys import service as api_keys

    mine, other = create_dataset(client, tenant, "mine"), create_dataset(client, tenant, "other")
    with session_scope() as session:
        workspace = api_keys.authenticate(session, tenant.key).workspace
        key = api_keys.create_key(session, workspace, [mine["id"]])
    return {"headers": {"Authorization": f"Bearer {key}"}, "mine": mine, "other": other}


@pytest.mark.parametrize(("method", "path"), DATASET_ROUTES)
def test_a_dataset_scoped_key_does_not_reach_other_datasets(client, tenant, scoped, method, path):
    url = _naming_dataset(path, scoped["other"]["id"])
    response = client.request(method, url, json={"name": "stolen"}, headers=scoped["headers"])
    assert_error(response, 404, "not_found", "Dataset not found.")
    after = client.get(f"/v1/datasets/{scoped['other']['id']}", headers=tenant.headers)
    assert after.status_code == 200 and after.json()["name"] == "other"


def test_a_dataset_scoped_key_sees_its_datasets_and_cannot_change_the_workspace(client, tenant, scoped):
    headers, mine, other = scoped["headers"], scoped["mine"], scoped["other"]
    listed = client.get("/v1/datasets?include_all=true", headers=headers).json()
    assert [item["id"] for item in listed["data"]] == [mine["id"]] and listed["total"] == 1
    assert client.get(f"/v1/datasets/{mine['id']}", headers=headers).status_code == 200
    refusal = "This API key is limited to some datasets: it cannot change the workspace."
    assert_error(
        client.post("/v1/datasets", json={"name": "new"}, headers=headers), 403, "forbidden", refusal
    )
    assert_error(
        client.post("/v1/datasets/tags", json={"name": "t"}, headers=headers), 403, "forbidden", refusal
    )
    assert_error(client.get("/v1/datasources", headers=headers), 403, "forbidden", refusal)
    tag = client.post("/v1/datasets/tags", json={"name": "t"}, headers=tenant.headers).json()
    bind = client.post("/v1/datasets/tags/binding", json={"tag_ids": [tag["id"]], "target_id": other["id"]},
                       headers=headers)  # fmt: skip
    assert_error(bind, 404, "not_found", "Dataset not found.")
    multi = client.post(
        "/v1/retrieval/multi", json={"dataset_ids": [other["id"]], "query": "x"}, headers=headers
    )
    assert_error(multi, 404, "not_found", "Dataset not found.")
    body = {"knowledge_id": other["id"], "query": "x", "retrieval_setting": {"top_k": 2}}
    external = client.post("/retrieval", json=body, headers=headers)
    assert external.status_code == 404 and external.json()["error_code"] == 2001
    signed_in = client.post("/ui/api/session", json={"api_key": headers["Authorization"][7:]})
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    assert client.get("/v1/datasets").json()["total"] == 1  # the admin UI sees what the key sees
    assert_error(client.post("/ui/api/keys", headers=csrf), 403, "forbidden", refusal)  # no way to widen it


def test_a_key_scoped_to_a_foreign_or_missing_dataset_is_refused(client, tenant, other_tenant):
    from core.api_keys import service as api_keys
    from core.errors import InvalidParam

    theirs = create_dataset(client, other_tenant, "theirs")
    with session_scope() as session:
        workspace = api_keys.authenticate(session, tenant.key).workspace
        for scope in ([theirs["id"]], [], ["00000000-0000-4000-8000-000000000000"]):
            with pytest.raises(InvalidParam):
                api_keys.create_key(session, workspace, scope)


def test_batch_actions_and_tag_binding_with_foreign_ids_say_not_found(client, tenant, other_tenant, victim):
    """Unknown or foreign ids in a batch body are a 404, not a "success" that changed nothing."""
    own = create_dataset(client, tenant, "mine")["id"]
    body = {"document_ids": [victim["document_id"]]}
    disable = client.patch(f"/v1/datasets/{own}/documents/status/disable", json=body, headers=tenant.headers)
    assert_error(disable, 404, "not_found", "Documents not found.")
    retry = client.post(f"/v1/datasets/{own}/retry", json=body, headers=tenant.headers)
    assert_error(retry, 404, "not_found", "Documents not found.")
    bind = {"tag_ids": [victim["tag_id"]], "target_id": own}
    bound = client.post("/v1/datasets/tags/binding", json=bind, headers=tenant.headers)
    assert_error(bound, 404, "not_found", "Tag not found")
    empty = client.patch(
        f"/v1/datasets/{own}/documents/status/disable", json={"document_ids": []}, headers=tenant.headers
    )
    assert empty.status_code == 200 and empty.json() == {"result": "success"}
