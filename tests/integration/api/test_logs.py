"""LOG_FORMAT=json: every line a request and the indexing run it queued write is one JSON object
carrying the request id (a proxy's, or a new one, answered in X-Request-Id) or the document id; the
run's lines carry both, the id having travelled to the worker in the task's headers."""

import io
import json
import logging

import pytest

from core.logs import ContextFilter, JsonFormatter
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch


@pytest.fixture
def json_lines(monkeypatch):
    monkeypatch.setenv("KB_ACCESS_LOG", "true")
    get_settings.cache_clear()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_request_and_indexing_lines_are_json_with_their_ids(client, tenant, celery_worker, json_lines):
    dataset = create_dataset(client, tenant)
    headers = tenant.headers | {"X-Request-Id": "proxy-req-42"}
    body = {"name": "otters", "text": "Sea otters hold hands. " * 40, "indexing_technique": "high_quality",
            "process_rule": {"mode": "automatic"}}  # fmt: skip
    created = client.post(f"/v1/datasets/{dataset['id']}/document/create-by-text", json=body, headers=headers)
    assert created.status_code == 200 and created.headers["X-Request-Id"] == "proxy-req-42"
    document_id = created.json()["document"]["id"]
    wait_for_batch(client, tenant, dataset["id"], created.json()["batch"])
    made_up = client.get("/v1/datasets", headers=tenant.headers | {"X-Request-Id": "bad id\twith spaces"})
    assert (
        made_up.headers["X-Request-Id"] != "bad id\twith spaces"
        and len(made_up.headers["X-Request-Id"]) == 32
    )
    missing = create_text_document(client, tenant, "f" * 8, "x", "y")
    assert missing.status_code == 404 and missing.headers["X-Request-Id"]

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    # the test's own client, and the S3 server the PostgreSQL half runs beside
    lines = [line for line in lines if not line["logger"].startswith(("httpx", "werkzeug"))]
    assert lines and all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    assert all(line.get("request_id") or line.get("document_id") for line in lines), lines
    access = [line for line in lines if line["logger"] == "kb.access"]
    post = next(line for line in access if line["method"] == "POST" and line["request_id"] == "proxy-req-42")
    assert post["path"] == "/v1/datasets/{dataset_id}/document/create-by-text" and post["status"] == 200
    assert post["workspace_id"] == tenant.workspace_id and post["dataset_id"] == dataset["id"]
    assert isinstance(post["ms"], float)
    run = [line for line in lines if line.get("document_id") == document_id and line["logger"] != "kb.access"]
    assert [line["event"] for line in run] == ["indexing started", "document indexed"]
    assert {line["request_id"] for line in run} == {"proxy-req-42"}  # carried to the worker
    assert run[-1]["segments"] >= 2 and run[-1]["dataset_id"] == dataset["id"]
