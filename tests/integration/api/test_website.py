"""Website crawls through Firecrawl and Jina Reader (real client code against local servers that
answer like the providers), importing pages as documents, syncing them, and data-source credentials."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.database import session_scope
from core.datasets.models import Dataset
from core.datasources.models import DataSourceCredential
from core.online_sources import sync as online_sync
from core.queue import celery_app
from core.settings import get_settings
from tests.crawler_servers import (
    GOOD_KEY,
    FirecrawlState,
    firecrawl_handler,
    jina_handler,
    sitemap_site_handler,
)
from tests.helpers import (
    assert_error,
    create_dataset,
    create_text_document,
    segment_ids_by_content,
    wait_for_batch,
    wait_for_job,
    wait_until,
)
from tests.http_servers import serving
from worker.embedded import EmbeddedWorker

IMPORT_OPTIONS = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}


@pytest.fixture
def local_outbound(database_url, monkeypatch):
    """The providers and the site are on 127.0.0.1, which requests may only reach when allow-listed."""
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CRAWL_POLL_INTERVAL", "0.05")
    get_settings.cache_clear()


@pytest.fixture
def site():
    with serving(sitemap_site_handler(25)) as url:
        yield url


def _save(client, owner, provider: str, key: str, base_url: str):
    body = {"provider": provider, "api_key": key, "base_url": base_url}
    return client.post("/v1/datasources", json=body, headers=owner.headers)


def _crawl(client, owner, dataset_id: str, provider: str, url: str, **options):
    body = {"provider": provider, "url": url, "options": options}
    return client.post(f"/v1/datasets/{dataset_id}/website/crawl", json=body, headers=owner.headers)


def _wait_for_job(client, owner, dataset_id: str, job_id: str, seen: list | None = None) -> dict:
    return wait_for_job(client, owner, f"/v1/datasets/{dataset_id}/website/crawl/{job_id}", seen)


def _import(client, owner, dataset_id: str, job_id: str, **fields):
    body = {"job_id": job_id, **IMPORT_OPTIONS, **fields}
    return client.post(f"/v1/datasets/{dataset_id}/website/import", json=body, headers=owner.headers)


def _hit(client, owner, dataset_id: str, query: str) -> list[dict]:
    body = {"query": query, "retrieval_model": {"search_method": "hybrid_search", "top_k": 3,
            "reranking_enable": False, "score_threshold_enabled": False}}  # fmt: skip
    return client.post(f"/v1/datasets/{dataset_id}/hit-testing", json=body, headers=owner.headers).json()[
        "records"
    ]


def test_firecrawl_crawl_of_50_pages_imports_with_failures_listed(
    client, tenant, celery_worker, local_outbound, site
):
    state = FirecrawlState(site, pages=50, failed=2)
    with serving(firecrawl_handler(state)) as firecrawl:
        assert _save(client, tenant, "firecrawl", GOOD_KEY, firecrawl).status_code == 200
        dataset = create_dataset(client, tenant)
        started = _crawl(client, tenant, dataset["id"], "firecrawl", site, limit=50, max_depth=3,
                         includes=["/page-*"], excludes=["/private/*"], only_main_content=True)  # fmt: skip
        assert started.status_code == 200, started.text
        assert started.json()["status"] == "running"
        seen: list = []
        job = _wait_for_job(client, tenant, dataset["id"], started.json()["id"], seen)
    assert state.crawl_bodies == [
        {"url": site, "limit": 50, "includePaths": ["/page-*"], "excludePaths": ["/private/*"],
         "scrapeOptions": {"formats": ["markdown"], "onlyMainContent": True}, "maxDepth": 3}
    ]  # fmt: skip
    assert (job["status"], job["total"], job["completed"], job["failed"]) == ("completed", 50, 48, 2)
    failed = {page["url"]: page["error"] for page in job["pages"] if page["status"] == "failed"}
    assert failed == {f"{site}/page-49": "Timeout after 30s", f"{site}/page-50": "Timeout after 30s"}
    assert any(0 < completed < 48 for completed, _ in seen) or len(seen) == 1  # half the pages came first

    imported = _import(client, tenant, dataset["id"], job["id"])
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert len(body["documents"]) == 48
    statuses = wait_for_batch(client, tenant, dataset["id"], body["batch"])
    assert {status["indexing_status"] for status in statuses} == {"completed"}
    document = body["documents"][0]
    assert document["data_source_type"] == "website_crawl"
    assert document["data_source_info"]["url"] == f"{site}/page-1"
    assert document["data_source_info"]["title"] == "Title of page-1"
    records = _hit(client, tenant, dataset["id"], "axolotl fact number 17 limb regeneration 17")
    assert records[0]["segment"]["document"]["name"] == f"{site}/page-17"


def test_jina_sitemap_crawl_of_20_pages_with_progress(client, tenant, celery_worker, local_outbound, site):
    broken = {f"{site}/page-4"}
    with serving(jina_handler("jina-key", broken, delay=0.05)) as jina:
        assert _save(client, tenant, "jinareader", "jina-key", jina).status_code == 200
        dataset = create_dataset(client, tenant)
        started = _crawl(client, tenant, dataset["id"], "jinareader", site, crawl_sub_pages=True, limit=20)
        assert started.status_code == 200, started.text
        seen: list = []
        job = _wait_for_job(client, tenant, dataset["id"], started.json()["id"], seen)
        imported = _import(
            client, tenant, dataset["id"], job["id"], urls=[f"{site}/page-1", f"{site}/page-2"]
        )
    assert (job["status"], job["total"], job["completed"], job["failed"]) == ("completed", 20, 19, 1)
    assert [page["url"] for page in job["pages"]] == [f"{site}/page-{n}" for n in range(1, 21)]
    failure = next(page for page in job["pages"] if page["status"] == "failed")
    assert failure["url"] == f"{site}/page-4" and "ERR_NAME_NOT_RESOLVED" in failure["error"]
    assert any(0 < completed < 19 for completed, total in seen if total == 20)  # progress while running
    assert [d["name"] for d in imported.json()["documents"]] == [f"{site}/page-1", f"{site}/page-2"]
    wait_for_batch(client, tenant, dataset["id"], imported.json()["batch"])


def test_single_page_through_jina(client, tenant, celery_worker, local_outbound, site):
    with serving(jina_handler("jina-key", set())) as jina:
        _save(client, tenant, "jinareader", "jina-key", jina)
        dataset = create_dataset(client, tenant)
        started = _crawl(client, tenant, dataset["id"], "jinareader", f"{site}/page-7", crawl_sub_pages=False)
        job = _wait_for_job(client, tenant, dataset["id"], started.json()["id"])
    assert (job["status"], job["total"], job["completed"]) == ("completed", 1, 1)
    assert job["pages"][0]["title"] == "Title of page-7"


def test_wrong_credentials_fail_the_job_clearly(client, tenant, celery_worker, local_outbound, site):
    state = FirecrawlState(site, pages=3, failed=0)
    with serving(firecrawl_handler(state)) as firecrawl:
        _save(client, tenant, "firecrawl", "fc-expired", firecrawl)
        dataset = create_dataset(client, tenant)
        job = _wait_for_job(
            client,
            tenant,
            dataset["id"],
            _crawl(client, tenant, dataset["id"], "firecrawl", site).json()["id"],
        )
    assert job["status"] == "failed"
    assert job["error"] == "Firecrawl rejected the API key (401): check the firecrawl data source."


def test_crawl_without_credentials_is_a_clear_400(client, tenant, local_outbound, site):
    dataset = create_dataset(client, tenant)
    response = _crawl(client, tenant, dataset["id"], "firecrawl", site)
    message = (
        "No firecrawl credentials are set for this workspace. Save them with POST /v1/datasources first."
    )
    assert_error(response, 400, "invalid_param", message)


def test_sync_reindexes_only_changed_chunks_and_survives_bad_credentials(
    client, tenant, celery_worker, local_outbound, site
):
    state = FirecrawlState(site, pages=1, failed=0)
    url = f"{site}/page-1"
    # Each paragraph is one chunk (two do not fit in 500 characters), so chunk borders stay put.
    paragraphs = [f"Paragraph {n}: " + " ".join(f"word{n}x{i}" for i in range(40)) for n in range(4)]
    state.content[url] = "\n\n".join(paragraphs[:3])
    with serving(firecrawl_handler(state)) as firecrawl:
        _save(client, tenant, "firecrawl", GOOD_KEY, firecrawl)
        dataset = create_dataset(client, tenant)
        started = _crawl(client, tenant, dataset["id"], "firecrawl", url, crawl_sub_pages=False).json()
        job = _wait_for_job(client, tenant, dataset["id"], started["id"])
        body = _import(client, tenant, dataset["id"], job["id"]).json()
        wait_for_batch(client, tenant, dataset["id"], body["batch"])
        document_id = body["documents"][0]["id"]
        before = segment_ids_by_content(client, tenant, dataset["id"], document_id)
        assert len(before) == 3

        state.content[url] = "\n\n".join(
            [paragraphs[0], paragraphs[3].replace("word3", "newt"), paragraphs[2]]
        )
        sync = client.post(
            f"/v1/datasets/{dataset['id']}/documents/{document_id}/sync", headers=tenant.headers
        )
        assert sync.json() == {"result": "success"}
        wait_until(lambda: segment_ids_by_content(client, tenant, dataset["id"], document_id) != before)
        wait_for_batch(client, tenant, dataset["id"], body["batch"])
        after = segment_ids_by_content(client, tenant, dataset["id"], document_id)
        assert after[paragraphs[0]] == before[paragraphs[0]] and after[paragraphs[2]] == before[paragraphs[2]]
        assert paragraphs[3].replace("word3", "newt") in after and paragraphs[1] not in after

        _save(client, tenant, "firecrawl", "fc-revoked", firecrawl)
        client.post(f"/v1/datasets/{dataset['id']}/documents/sync", json={"document_ids": [document_id]},
                    headers=tenant.headers)  # fmt: skip

        def detail() -> dict:
            url = f"/v1/datasets/{dataset['id']}/documents/{document_id}"
            return client.get(url, headers=tenant.headers).json()

        wait_until(lambda: detail()["data_source_info"].get("last_sync_error"))
    assert "rejected the API key (401)" in detail()["data_source_info"]["last_sync_error"]
    assert detail()["display_status"] == "available"
    assert segment_ids_by_content(client, tenant, dataset["id"], document_id) == after  # nothing lost


def test_credentials_are_encrypted_masked_and_deletable(client, tenant, local_outbound):
    saved = _save(client, tenant, "firecrawl", "fc-0123456789abcdef", "http://127.0.0.1:3002/")
    assert saved.status_code == 200, saved.text
    assert saved.json() | {"created_at": 0, "updated_at": 0} == {
        "provider": "firecrawl", "base_url": "http://127.0.0.1:3002", "api_key": "fc-0...cdef",
        "created_at": 0, "updated_at": 0}  # fmt: skip
    with session_scope() as session:
        stored = session.scalars(select(DataSourceCredential.encrypted_config)).one()
    assert "0123456789abcdef" not in stored
    assert [
        item["provider"] for item in client.get("/v1/datasources", headers=tenant.headers).json()["data"]
    ] == ["firecrawl"]
    assert client.delete("/v1/datasources/firecrawl", headers=tenant.headers).status_code == 204
    assert client.get("/v1/datasources", headers=tenant.headers).json()["data"] == []
    assert_error(client.delete("/v1/datasources/firecrawl", headers=tenant.headers), 404, "not_found")
    assert_error(_save(client, tenant, "dropbox", "k", None), 400, "invalid_param")


def test_private_addresses_need_the_allow_list(client, tenant, database_url):
    get_settings.cache_clear()
    for url in ("http://127.0.0.1:8080", "http://10.1.2.3", "http://169.254.169.254/latest", "http://[::1]/"):
        response = _save(client, tenant, "firecrawl", "fc-key", url)
        assert_error(response, 400, "invalid_param")
        assert "private, loopback or reserved" in response.json()["message"]
    assert_error(_save(client, tenant, "firecrawl", "fc-key", "file:///etc/passwd"), 400, "invalid_param",
                 "Only http and https URLs are allowed: 'file:///etc/passwd'.")  # fmt: skip


def test_a_dataset_takes_one_source_type(client, tenant, celery_worker, local_outbound, site):
    dataset = create_dataset(client, tenant)
    created = create_text_document(
        client, tenant, dataset["id"], "notes", "Some text.", process_rule={"mode": "automatic"}
    )
    wait_for_batch(client, tenant, dataset["id"], created.json()["batch"])
    with serving(jina_handler("jina-key", set())) as jina:
        _save(client, tenant, "jinareader", "jina-key", jina)
        response = _crawl(client, tenant, dataset["id"], "jinareader", site)
    assert_error(response, 400, "invalid_param",
                 "This dataset takes upload_file documents only, not website pages.")  # fmt: skip


def _imported_page(client, owner, site: str, firecrawl: str) -> tuple[dict, str]:
    _save(client, owner, "firecrawl", GOOD_KEY, firecrawl)
    dataset = create_dataset(client, owner)
    started = _crawl(
        client, owner, dataset["id"], "firecrawl", f"{site}/page-1", crawl_sub_pages=False
    ).json()
    job = _wait_for_job(client, owner, dataset["id"], started["id"])
    body = _import(client, owner, dataset["id"], job["id"]).json()
    wait_for_batch(client, owner, dataset["id"], body["batch"])
    return dataset, body["documents"][0]["id"]


def test_sync_schedule_syncs_due_datasets_once_per_interval(
    client, tenant, celery_worker, local_outbound, site
):
    state = FirecrawlState(site, pages=1, failed=0)
    with serving(firecrawl_handler(state)) as firecrawl:
        dataset, document_id = _imported_page(client, tenant, site, firecrawl)
        url = f"/v1/datasets/{dataset['id']}/sync-schedule"
        assert client.get(url, headers=tenant.headers).json() == {
            "interval_minutes": None,
            "last_synced_at": None,
        }
        assert_error(
            client.put(url, json={"interval_minutes": 1}, headers=tenant.headers), 400, "invalid_param"
        )
        assert (
            client.put(url, json={"interval_minutes": 5}, headers=tenant.headers).json()["interval_minutes"]
            == 5
        )

        assert online_sync.sync_due_datasets() == [dataset["id"]]
        assert online_sync.sync_due_datasets() == []  # not due again for five minutes
        detail = f"/v1/datasets/{dataset['id']}/documents/{document_id}"
        wait_until(
            lambda: client.get(detail, headers=tenant.headers).json()["data_source_info"].get("last_sync_at")
        )
        with session_scope() as session:
            session.get(Dataset, dataset["id"]).last_synced_at -= timedelta(minutes=6)
        assert online_sync.sync_due_datasets() == [dataset["id"]]
        assert client.put(url, json={"interval_minutes": None}, headers=tenant.headers).status_code == 200
        with session_scope() as session:
            session.get(Dataset, dataset["id"]).last_synced_at -= timedelta(minutes=60)
        assert online_sync.sync_due_datasets() == []


def test_embedded_beat_runs_the_periodic_check(client, tenant, broker, local_outbound, site, monkeypatch):
    state = FirecrawlState(site, pages=1, failed=0)
    with serving(firecrawl_handler(state)) as firecrawl:
        worker = EmbeddedWorker().start()
        try:
            dataset, _ = _imported_page(client, tenant, site, firecrawl)
        finally:
            worker.stop()
        client.put(
            f"/v1/datasets/{dataset['id']}/sync-schedule",
            json={"interval_minutes": 5},
            headers=tenant.headers,
        )
        schedule = {name: entry | {"schedule": 0.5} for name, entry in celery_app.conf.beat_schedule.items()}
        monkeypatch.setitem(celery_app.conf, "beat_schedule", schedule)
        worker = EmbeddedWorker(beat=True).start()
        try:
            wait_until(lambda: client.get(f"/v1/datasets/{dataset['id']}/sync-schedule",
                                           headers=tenant.headers).json()["last_synced_at"])  # fmt: skip
        finally:
            worker.stop()
