"""Text the database cannot store, and bytes that are not text, get a clear 400 and change nothing."""

import pytest

from core.settings import get_settings
from tests.helpers import assert_error, create_dataset, upload_document

NUL = "Text must not contain NUL (\\u0000) characters."


def test_nul_in_a_json_string_is_refused_before_anything_is_written(client, tenant):
    response = client.post("/v1/datasets", json={"name": "evil\u0000name"}, headers=tenant.headers)
    assert_error(response, 400, "invalid_param", NUL)
    nested = client.post("/v1/datasets", json={"name": "ok", "retrieval_model": {"x": ["\u0000"]}},
                         headers=tenant.headers)  # fmt: skip
    assert_error(nested, 400, "invalid_param", NUL)
    assert client.get("/v1/datasets", headers=tenant.headers).json()["total"] == 0


def test_nul_in_the_query_string_is_refused(client, tenant):
    create_dataset(client, tenant)
    assert_error(client.get("/v1/datasets?keyword=a%00b", headers=tenant.headers), 400, "invalid_param", NUL)


def test_nul_in_the_upload_options_is_refused(client, tenant):
    dataset = create_dataset(client, tenant)
    data = {"indexing_technique": "economy", "process_rule": {"mode": "custom", "rules": {
        "pre_processing_rules": [], "segmentation": {"separator": "\u0000", "max_tokens": 100}}}}  # fmt: skip
    response = upload_document(client, tenant, dataset["id"], "a.txt", b"hello", data)
    assert_error(response, 400, "invalid_param", NUL)
    assert client.get(f"/v1/datasets/{dataset['id']}/documents", headers=tenant.headers).json()["total"] == 0


def test_invalid_utf8_json_is_invalid_param(client, tenant):
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = client.post("/v1/datasets", content=b'{"name": "\xff\xfe"}', headers=headers)
    assert_error(response, 400, "invalid_param", "Invalid JSON payload received or JSON payload is empty.")
    assert client.get("/v1/datasets", headers=tenant.headers).json()["total"] == 0


def test_an_escaped_backslash_before_u0000_is_ordinary_text(client, tenant):
    dataset = create_dataset(client, tenant, name="literal \\u0000 text")
    assert dataset["name"] == "literal \\u0000 text"


def test_json_bodies_over_the_limit_are_refused_while_streaming(client, tenant, monkeypatch):
    monkeypatch.setenv("JSON_BODY_LIMIT_MB", "1")
    get_settings.cache_clear()
    big = {"name": "big", "description": "x" * (2 * 2**20)}
    declared = client.post("/v1/datasets", json=big, headers=tenant.headers)
    assert_error(declared, 413, "request_entity_too_large", "The request body is larger than the 1 MB limit.")

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"name": "big", "description": "'
        for _ in range(2 * 16):
            yield b"x" * 2**16
        yield b'"}'

    headers = {**tenant.headers, "Content-Type": "application/json"}
    streamed = client.post("/v1/datasets", content=chunks(), headers=headers)
    assert_error(streamed, 413, "request_entity_too_large")
    assert client.get("/v1/datasets", headers=tenant.headers).json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"content": b"name=handbook", "headers": {"Content-Type": "text/plain"}},
        {"data": {"name": "handbook"}},  # form-encoded
        {"json": [{"name": "handbook"}]},
    ],
)
def test_a_body_that_is_not_a_json_object_gets_the_readme_message(client, tenant, body):
    headers = {**tenant.headers, **body.pop("headers", {})}
    response = client.post("/v1/datasets", headers=headers, **body)
    assert_error(response, 400, "invalid_param", "Invalid JSON payload received or JSON payload is empty.")
    assert client.get("/v1/datasets", headers=tenant.headers).json()["total"] == 0
