"""Knowledge tags."""

from tests.helpers import assert_error, create_dataset


def _tag(client, owner, name):
    response = client.post("/v1/datasets/tags", json={"name": name}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_create_and_list_tags(client, tenant):
    tag = _tag(client, tenant, "finance")
    assert tag == {"id": tag["id"], "name": "finance", "type": "knowledge", "binding_count": "0"}
    assert client.get("/v1/datasets/tags", headers=tenant.headers).json() == [tag]


def test_tag_name_rules(client, tenant):
    _tag(client, tenant, "finance")
    response = client.post("/v1/datasets/tags", json={"name": "finance"}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", "Tag name already exists")
    for name in ("", "x" * 51):
        assert_error(
            client.post("/v1/datasets/tags", json={"name": name}, headers=tenant.headers),
            400,
            "invalid_param",
        )


def test_rename_tag(client, tenant):
    tag = _tag(client, tenant, "old")
    _tag(client, tenant, "taken")
    body = client.patch(
        "/v1/datasets/tags", json={"tag_id": tag["id"], "name": "new"}, headers=tenant.headers
    ).json()
    assert body["name"] == "new" and body["binding_count"] == "0"
    response = client.patch(
        "/v1/datasets/tags", json={"tag_id": tag["id"], "name": "taken"}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param", "Tag name already exists")
    response = client.patch("/v1/datasets/tags", json={"tag_id": "nope", "name": "x"}, headers=tenant.headers)
    assert_error(response, 404, "not_found", "Tag not found")


def test_delete_tag_with_json_body(client, tenant):
    tag = _tag(client, tenant, "gone")
    response = client.request(
        "DELETE", "/v1/datasets/tags", json={"tag_id": tag["id"]}, headers=tenant.headers
    )
    assert response.status_code == 204
    assert client.get("/v1/datasets/tags", headers=tenant.headers).json() == []
    response = client.request(
        "DELETE", "/v1/datasets/tags", json={"tag_id": tag["id"]}, headers=tenant.headers
    )
    assert_error(response, 404, "not_found", "Tag not found")


def test_bind_and_unbind(client, tenant):
    dataset = create_dataset(client, tenant)
    first, second = _tag(client, tenant, "a"), _tag(client, tenant, "b")
    # An unknown tag id refuses the binding (nothing bound), rather than a 204 that ignored it.
    unknown = {"tag_ids": [first["id"], second["id"], "unknown-tag"], "target_id": dataset["id"]}
    bound = client.post("/v1/datasets/tags/binding", json=unknown, headers=tenant.headers)
    assert_error(bound, 404, "not_found", "Tag not found")
    assert client.get(f"/v1/datasets/{dataset['id']}/tags", headers=tenant.headers).json()["total"] == 0
    body = {"tag_ids": [first["id"], second["id"]], "target_id": dataset["id"]}
    assert client.post("/v1/datasets/tags/binding", json=body, headers=tenant.headers).status_code == 204
    # binding twice keeps one binding per tag
    assert client.post("/v1/datasets/tags/binding", json=body, headers=tenant.headers).status_code == 204
    listing = client.get(f"/v1/datasets/{dataset['id']}/tags", headers=tenant.headers).json()
    assert listing == {
        "data": [{"id": first["id"], "name": "a"}, {"id": second["id"], "name": "b"}],
        "total": 2,
    }
    counts = {
        t["name"]: t["binding_count"] for t in client.get("/v1/datasets/tags", headers=tenant.headers).json()
    }
    assert counts == {"a": "1", "b": "1"}

    legacy = {"tag_id": first["id"], "target_id": dataset["id"]}
    assert client.post("/v1/datasets/tags/unbinding", json=legacy, headers=tenant.headers).status_code == 204
    newest = {"tag_ids": [second["id"]], "target_id": dataset["id"]}
    assert client.post("/v1/datasets/tags/unbinding", json=newest, headers=tenant.headers).status_code == 204
    assert client.get(f"/v1/datasets/{dataset['id']}/tags", headers=tenant.headers).json() == {
        "data": [],
        "total": 0,
    }


def test_binding_needs_tag_ids_and_a_known_target(client, tenant):
    dataset = create_dataset(client, tenant)
    response = client.post(
        "/v1/datasets/tags/binding", json={"tag_ids": [], "target_id": dataset["id"]}, headers=tenant.headers
    )
    assert_error(response, 400, "invalid_param")
    tag = _tag(client, tenant, "a")
    response = client.post(
        "/v1/datasets/tags/binding",
        json={"tag_ids": [tag["id"]], "target_id": "00000000-0000-4000-8000-000000000000"},
        headers=tenant.headers,
    )
    assert_error(response, 404, "not_found", "Dataset not found.")


def test_tags_are_per_workspace(client, tenant, other_tenant):
    _tag(client, tenant, "shared")
    assert _tag(client, other_tenant, "shared")["name"] == "shared"
    assert len(client.get("/v1/datasets/tags", headers=other_tenant.headers).json()) == 1
