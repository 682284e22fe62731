"""Metadata fields, built-in fields and document values through the API; every change
applies to the next filtered search."""

import pytest

from tests.helpers import assert_error, create_dataset, create_text_document, wait_for_batch

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def library(client, tenant, celery_worker):
    dataset = create_dataset(client, tenant)
    documents = {}
    for name in ("alpha", "beta"):
        body = create_text_document(
            client, tenant, dataset["id"], name, f"Report {name} on zebrafish cells."
        ).json()
        wait_for_batch(client, tenant, dataset["id"], body["batch"])
        documents[name] = body["document"]["id"]
    return dataset, documents


def _base(dataset) -> str:
    return f"/v1/datasets/{dataset['id']}"


def _names_found(client, tenant, dataset, conditions) -> set[str]:
    filters = {"logical_operator": "and", "conditions": conditions}
    body = {"query": "zebrafish", "retrieval_model": {"search_method": "full_text_search", "top_k": 10,
            "reranking_enable": False, "score_threshold_enabled": False,
            "metadata_filtering_conditions": filters}}  # fmt: skip
    records = client.post(f"{_base(dataset)}/hit-testing", json=body, headers=tenant.headers).json()[
        "records"
    ]
    return {record["segment"]["document"]["name"] for record in records}


def _assign(client, tenant, dataset, document_id, values, partial=False):
    body = {
        "operation_data": [{"document_id": document_id, "metadata_list": values, "partial_update": partial}]
    }
    return client.post(f"{_base(dataset)}/documents/metadata", json=body, headers=tenant.headers)


def test_fields_values_rename_and_delete(client, tenant, library):
    dataset, documents = library
    created = client.post(f"{_base(dataset)}/metadata", json={"type": "string", "name": "team"},
                          headers=tenant.headers)  # fmt: skip
    assert created.status_code == 201
    team = created.json()
    assert set(team) == {"id", "type", "name"} and team["type"] == "string"
    year = client.post(f"{_base(dataset)}/metadata", json={"type": "number", "name": "year"},
                       headers=tenant.headers).json()  # fmt: skip

    assigned = _assign(
        client, tenant, dataset, documents["alpha"], [{**team, "value": "genomics"}, {**year, "value": 2021}]
    )
    assert assigned.json() == {"result": "success"}
    _assign(client, tenant, dataset, documents["beta"], [{**team, "value": "immunology"}])
    assert _names_found(
        client, tenant, dataset, [{"name": "team", "comparison_operator": "is", "value": "genomics"}]
    ) == {"alpha"}
    assert _names_found(
        client, tenant, dataset, [{"name": "year", "comparison_operator": ">", "value": 2020}]
    ) == {"alpha"}

    listing = client.get(f"{_base(dataset)}/metadata", headers=tenant.headers).json()
    assert listing["built_in_field_enabled"] is False
    assert {(f["name"], f["count"]) for f in listing["doc_metadata"]} == {("team", 2), ("year", 1)}

    renamed = client.patch(
        f"{_base(dataset)}/metadata/{team['id']}", json={"name": "group"}, headers=tenant.headers
    )
    assert renamed.json() == {**team, "name": "group"}
    assert _names_found(
        client, tenant, dataset, [{"name": "group", "comparison_operator": "is", "value": "immunology"}]
    ) == {"beta"}
    detail = client.get(f"{_base(dataset)}/documents/{documents['beta']}", headers=tenant.headers).json()
    assert detail["doc_metadata"] and "team" not in str(detail["doc_metadata"])

    # Without partial_update the values are replaced; with it, the others stay.
    _assign(client, tenant, dataset, documents["alpha"], [{**year, "value": 1999}], partial=True)
    assert _names_found(
        client, tenant, dataset, [{"name": "group", "comparison_operator": "is", "value": "genomics"}]
    ) == {"alpha"}
    _assign(client, tenant, dataset, documents["alpha"], [{**year, "value": 1999}])
    assert (
        _names_found(
            client, tenant, dataset, [{"name": "group", "comparison_operator": "is", "value": "genomics"}]
        )
        == set()
    )
    counts = {
        f["name"]: f["count"]
        for f in client.get(f"{_base(dataset)}/metadata", headers=tenant.headers).json()["doc_metadata"]
    }
    assert counts == {"group": 1, "year": 1}

    assert client.delete(f"{_base(dataset)}/metadata/{year['id']}", headers=tenant.headers).status_code == 204
    assert (
        _names_found(client, tenant, dataset, [{"name": "year", "comparison_operator": "=", "value": 1999}])
        == set()
    )
    assert_error(
        client.delete(f"{_base(dataset)}/metadata/{year['id']}", headers=tenant.headers), 404, "not_found"
    )


def test_field_errors(client, tenant):
    dataset = create_dataset(client, tenant)
    url = f"{_base(dataset)}/metadata"
    client.post(url, json={"type": "string", "name": "team"}, headers=tenant.headers)
    for body, message in (
        ({"type": "string", "name": "team"}, "Metadata name already exists."),
        ({"type": "string", "name": "document_name"}, "Metadata name already exists in Built-in fields."),
        ({"type": "string", "name": "x" * 256}, "Metadata name cannot exceed 255 characters."),
        ({"type": "string", "name": "Team Name"}, None),
        ({"type": "colour", "name": "shade"}, None),
    ):
        assert_error(client.post(url, json=body, headers=tenant.headers), 400, "invalid_param", message)
    assert_error(_assign(client, tenant, dataset, UNKNOWN, []), 404, "not_found")


def test_built_in_fields(client, tenant, library):
    dataset, documents = library
    fields = client.get(f"{_base(dataset)}/metadata/built-in", headers=tenant.headers).json()["fields"]
    assert [f["name"] for f in fields] == [
        "document_name",
        "uploader",
        "upload_date",
        "last_update_date",
        "source",
    ]
    enabled = client.post(f"{_base(dataset)}/metadata/built-in/enable", headers=tenant.headers)
    assert enabled.json() == {"result": "success"}
    assert (
        client.get(f"{_base(dataset)}/metadata", headers=tenant.headers).json()["built_in_field_enabled"]
        is True
    )
    assert _names_found(
        client, tenant, dataset, [{"name": "document_name", "comparison_operator": "is", "value": "beta"}]
    ) == {"beta"}
    assert _names_found(
        client,
        tenant,
        dataset,
        [{"name": "upload_date", "comparison_operator": "after", "value": 1_600_000_000}],
    ) == {"alpha", "beta"}
    later = create_text_document(
        client, tenant, dataset["id"], "gamma", "Report gamma on zebrafish cells."
    ).json()
    wait_for_batch(client, tenant, dataset["id"], later["batch"])
    assert _names_found(
        client, tenant, dataset, [{"name": "source", "comparison_operator": "is", "value": "file_upload"}]
    ) == {"alpha", "beta", "gamma"}
    client.post(f"{_base(dataset)}/metadata/built-in/disable", headers=tenant.headers)
    assert (
        _names_found(
            client, tenant, dataset, [{"name": "document_name", "comparison_operator": "is", "value": "beta"}]
        )
        == set()
    )
