"""Forms of Dify's API that older clients still send: the built-in fields without a dataset, a
document's upload-file view, base URLs that end in a slash, and values out of range refused."""

from tests.helpers import assert_error, create_dataset, create_text_document, upload_document


def test_built_in_fields_without_a_dataset(client, tenant):
    dataset = create_dataset(client, tenant)
    legacy = client.get("/v1/datasets/metadata/built-in", headers=tenant.headers)
    assert legacy.status_code == 200
    assert (
        legacy.json()
        == client.get(f"/v1/datasets/{dataset['id']}/metadata/built-in", headers=tenant.headers).json()
    )
    assert client.get("/v1/datasets/metadata/built-in").status_code == 401


def test_upload_file_view_of_a_document(client, tenant):
    dataset = create_dataset(client, tenant)
    data = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
    document = upload_document(client, tenant, dataset["id"], "notes.txt", b"Some notes.", data).json()[
        "document"
    ]
    response = client.get(
        f"/v1/datasets/{dataset['id']}/documents/{document['id']}/upload-file", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert set(view) == {
        "id",
        "name",
        "size",
        "extension",
        "url",
        "download_url",
        "mime_type",
        "created_by",
        "created_at",
    }
    assert view["name"] == "notes.txt" and view["size"] == len(b"Some notes.") and view["extension"] == "txt"
    assert view["download_url"] == view["url"] + "&as_attachment=true"
    assert isinstance(view["created_at"], float)
    served = client.get(view["url"].removeprefix("http://testserver"))
    assert served.status_code == 200 and served.content == b"Some notes."


def test_a_base_url_ending_in_a_slash(client, tenant):
    dataset = create_dataset(client, tenant)
    listed = client.get("/v1//datasets", headers=tenant.headers)
    assert listed.status_code == 200 and [item["id"] for item in listed.json()["data"]] == [dataset["id"]]
    created = create_text_document(client, tenant, dataset["id"], "doc", "Text.")
    assert created.status_code == 200
    documents = client.get(f"/v1//datasets/{dataset['id']}//documents", headers=tenant.headers)
    assert documents.status_code == 200 and documents.json()["total"] == 1


def test_a_score_threshold_outside_zero_to_one_is_refused(client, tenant):
    dataset = create_dataset(client, tenant)
    model = {"search_method": "semantic_search", "reranking_enable": False, "top_k": 3,
             "score_threshold_enabled": True, "score_threshold": 1.5}  # fmt: skip
    body = {"query": "x", "retrieval_model": model}
    response = client.post(f"/v1/datasets/{dataset['id']}/hit-testing", json=body, headers=tenant.headers)
    assert_error(
        response,
        400,
        "invalid_param",
        "retrieval_model.score_threshold: Input should be less than or equal to 1",
    )
