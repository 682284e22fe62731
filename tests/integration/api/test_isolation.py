"""A key of workspace A can neither read nor change nor detect workspace B's datasets and tags."""

import re

import pytest

from api.app import create_app
from tests.helpers import assert_error, create_dataset

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


def test_walk_covers_the_dataset_routes():
    assert ("GET", "/v1/datasets/{dataset_id}") in DATASET_ROUTES
    assert ("DELETE", "/v1/datasets/{dataset_id}") in DATASET_ROUTES
    assert ("GET", "/v1/datasets/{dataset_id}/tags") in DATASET_ROUTES


@pytest.mark.parametrize(("method", "path"), DATASET_ROUTES)
def test_other_workspace_dataset_is_not_found(client, tenant, other_tenant, method, path):
    victim = create_dataset(client, other_tenant, "secret")
    url = PLACEHOLDER.sub(
        lambda m: victim["id"] if m.group(1) == "dataset_id" else "00000000-0000-4000-8000-000000000000", path
    )
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
    # Their tag id bound to my dataset is silently ignored, as unknown ids are.
    bind_mine = {"tag_ids": [their_tag["id"]], "target_id": mine["id"]}
    assert client.post("/v1/datasets/tags/binding", json=bind_mine, headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/datasets/{mine['id']}/tags", headers=tenant.headers).json()["total"] == 0
    assert client.get(f"/v1/datasets?tag_ids={their_tag['id']}", headers=tenant.headers).json()["total"] == 0
    theirs = client.get("/v1/datasets/tags", headers=other_tenant.headers).json()
    assert theirs == [{**their_tag, "binding_count": "0"}]
