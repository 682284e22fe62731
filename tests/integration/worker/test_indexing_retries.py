"""A run that fails because a dependency is down (here a hosted embedding API answering 503 through
its client's own retries) is retried with back-off: the document waits, its previous version stays
searchable, and it completes once the API is back; a dependency that stays down exhausts the budget
and the document fails saying after how many attempts."""

from http.server import BaseHTTPRequestHandler

import pytest

from core.database import session_scope
from core.documents.models import Document
from core.settings import get_settings
from tests.helpers import create_dataset, create_text_document, wait_for_batch
from tests.http_servers import read_json, send_json, serving
from tests.integration.api.test_embedding_model_change import HASH_MODEL, hash_vector


class _Overloaded(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings that answers 503 to its first `refusals` requests."""

    refusals = 0
    calls = 0

    def do_POST(self):  # noqa: N802 - the http.server API
        texts = read_json(self)["input"]
        type(self).calls += 1
        if type(self).refusals > 0:
            type(self).refusals -= 1
            send_json(self, 503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})
            return
        data = [
            {"object": "embedding", "index": i, "embedding": hash_vector(t).tolist()}
            for i, t in enumerate(texts)
        ]
        send_json(
            self, 200, {"object": "list", "data": data, "model": HASH_MODEL, "usage": {"total_tokens": 1}}
        )

    def log_message(self, *_args):
        pass


@pytest.fixture
def overloaded_api(database_url, monkeypatch):
    _Overloaded.refusals = _Overloaded.calls = 0
    with serving(_Overloaded) as url:
        monkeypatch.setenv("EMBEDDING_API_BASE_URL", f"{url}/v1")
        monkeypatch.setenv("EMBEDDING_API_MODELS", HASH_MODEL)
        monkeypatch.setenv("INDEXING_RETRY_SECONDS", "0.2")
        monkeypatch.setenv("INDEXING_RETRIES", "2")
        get_settings.cache_clear()
        yield _Overloaded


def _hash_dataset(client, tenant) -> dict:
    return create_dataset(client, tenant, indexing_technique="high_quality", embedding_model=HASH_MODEL,
                          embedding_model_provider="openai_api_compatible")  # fmt: skip


def _attempts(document_id: str) -> tuple[str, int, str | None]:
    with session_scope() as session:
        document = session.get(Document, document_id)
        return document.indexing_status, document.indexing_attempts, document.error


def test_a_run_failing_on_a_dependency_is_retried_until_it_is_back(
    client, tenant, celery_worker, overloaded_api
):
    dataset = _hash_dataset(client, tenant)
    overloaded_api.refusals = 7  # more than one call's own five attempts: the first run fails
    created = create_text_document(
        client, tenant, dataset["id"], "otters", "Sea otters hold hands. " * 20
    ).json()
    [status] = wait_for_batch(client, tenant, dataset["id"], created["batch"])
    assert status["indexing_status"] == "completed" and status["error"] is None
    assert _attempts(created["document"]["id"])[1] == 0  # the budget starts again after a success
    assert overloaded_api.calls >= 8  # the first run's five attempts, then the retried run's


def test_a_dependency_that_stays_down_exhausts_the_budget(client, tenant, celery_worker, overloaded_api):
    dataset = _hash_dataset(client, tenant)
    overloaded_api.refusals = 10**6
    created = create_text_document(
        client, tenant, dataset["id"], "otters", "Sea otters hold hands. " * 20
    ).json()
    [status] = wait_for_batch(client, tenant, dataset["id"], created["batch"])
    assert status["indexing_status"] == "error" and status["retries"] == 2
    assert "Embedding API error 503" in status["error"] and status["error"].endswith("(after 3 attempts)")
    assert overloaded_api.calls == 15  # three runs (the first and two retries) of five attempts each
