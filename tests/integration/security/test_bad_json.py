"""JSON the service cannot take safely is a 400 in the error envelope, never a 500: bodies nested
past the limit, text holding half a UTF-16 surrogate pair, and metadata names an engine cannot key."""

import json

import pytest

from api.input_guard import MAX_JSON_DEPTH
from tests.helpers import assert_error, create_dataset, create_text_document

RULE = "Metadata name can only contain lowercase letters, digits and underscores."


def _post(client, tenant, path: str, raw: str):
    headers = tenant.headers | {"Content-Type": "application/json"}
    return client.post(path, content=raw.encode(), headers=headers)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def dataset(client, tenant) -> dict:
    return create_dataset(client, tenant)


def _routes(dataset: dict) -> dict[str, str]:
    """Each route with a body template whose `X` is replaced by the hostile value."""
    base = f"/v1/datasets/{dataset['id']}"
    return {
        "/v1/datasets": '{"name": X}',
        f"{base}/hit-testing": '{"query": "q", "retrieval_model": {"search_method": "semantic_search", '
        '"top_k": 2, "reranking_enable": false, "score_threshold_enabled": false, '
        '"metadata_filtering_conditions": {"logical_operator": "and", '
        '"conditions": [{"name": "owner", "comparison_operator": "is", "value": X}]}}}',
        f"{base}/document/create-by-text": '{"name": "n", "indexing_technique": "economy", "text": X}',
        f"{base}/documents/metadata": '{"operation_data": X}',
        f"{base}/documents/preview": '{"text": X}',
    }


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 995, 100_000])
def test_bodies_nested_too_deep_are_refused(client, tenant, dataset, depth):
    for path, template in _routes(dataset).items():
        response = _post(client, tenant, path, template.replace("X", _nested(depth)))
        assert_error(
            response, 400, "invalid_param", f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        )


def test_text_with_a_lone_surrogate_is_refused_naming_the_field(client, tenant, dataset):
    fields = {
        "/v1/datasets": "name",
        "hit-testing": "retrieval_model.metadata_filtering_conditions.conditions[0].value",
        "create-by-text": "text",
        "documents/metadata": "operation_data",
        "preview": "text",
    }
    for path, template in _routes(dataset).items():
        response = _post(client, tenant, path, template.replace("X", '"half \\ud800 a pair"'))
        field = next(name for suffix, name in fields.items() if path.endswith(suffix))
        assert_error(response, 400, "invalid_param")
        assert response.json()["message"].startswith(f"{field} is not valid text"), response.json()
    assert client.get("/v1/datasets", headers=tenant.headers).json()["total"] == 1


@pytest.mark.parametrize("name", ["", 'own"er', "own\u202eer", "Owner", "owner\n", "a.b"])
def test_metadata_names_outside_the_rule_are_refused_in_filters_and_fields(client, tenant, dataset, name):
    condition = {"name": name, "comparison_operator": "is", "value": "x"}
    filtering = {"logical_operator": "and", "conditions": [condition]}
    body = {
        "query": "q",
        "retrieval_model": {
            "search_method": "hybrid_search",
            "top_k": 2,
            "reranking_enable": False,
            "score_threshold_enabled": False,
            "metadata_filtering_conditions": filtering,
        },
    }
    hit = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    assert_error(hit, 400, "invalid_param")
    assert RULE in hit.json()["message"]
    external = {
        "knowledge_id": dataset["id"],
        "query": "q",
        "retrieval_setting": {"top_k": 2},
        "metadata_condition": {"logical_operator": "and", "conditions": [condition]},
    }
    assert client.post("/retrieval", json=external, headers=tenant.headers).status_code == 400
    field = {"type": "string", "name": name}
    created = client.post(f"/v1/datasets/{dataset['id']}/metadata", json=field, headers=tenant.headers)
    assert_error(created, 400, "invalid_param")


def test_a_body_within_the_limits_still_works(client, tenant, dataset):
    text = "Deeply " + json.dumps({"a": [[["fine"]]]})
    assert create_text_document(client, tenant, dataset["id"], "ok", text).status_code == 200
