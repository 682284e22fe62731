"""A hostile crawl provider: `next` links that point inside the network, back at themselves, or on
forever. The worker must neither fetch what it should not (with the provider's key) nor run unbounded."""

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from core.settings import get_settings
from tests.crawler_servers import GOOD_KEY, page_markdown
from tests.helpers import create_dataset, wait_for_job
from tests.http_servers import send_json, serving

LIMIT = 5


class Recorder:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def add(self, path: str) -> None:
        with self.lock:
            self.paths.append(path)


def listener_handler(seen: Recorder) -> type[BaseHTTPRequestHandler]:
    """An internal service: anything it is sent is a leak."""

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.add(self.path)
            send_json(self, 200, {"status": "completed", "data": [{"markdown": "internal secrets"}]})

        def log_message(self, *_args):
            pass

    return Internal


class StartsAnyCrawl(BaseHTTPRequestHandler):
    """Firecrawl's start of a crawl, whatever is asked; what it reports is the subclass's."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        send_json(self, 200, {"success": True, "id": "job-1"})

    def log_message(self, *_args):
        pass


def hostile_firecrawl(next_link, seen: Recorder) -> type[BaseHTTPRequestHandler]:
    """Every status slice holds one page and a `next` made by `next_link(host, n)`."""

    class Firecrawl(StartsAnyCrawl):
        def do_GET(self):  # noqa: N802
            seen.add(self.path)
            number = len(seen.paths)
            url = f"http://site.example/page-{number}"
            answer = {
                "status": "completed",
                "total": LIMIT,
                "completed": LIMIT,
                "data": [{"markdown": page_markdown(url), "metadata": {"sourceURL": url}}],
                "next": next_link(self.headers["Host"], number),
            }
            send_json(self, 200, answer)

    return Firecrawl


@pytest.fixture
def loopback_allowed(database_url, monkeypatch):
    monkeypatch.setenv("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CRAWL_POLL_INTERVAL", "0.05")
    get_settings.cache_clear()


def _crawl(client, tenant, firecrawl: str) -> dict:
    body = {"provider": "firecrawl", "api_key": GOOD_KEY, "base_url": firecrawl}
    assert client.post("/v1/datasources", json=body, headers=tenant.headers).status_code == 200
    dataset = create_dataset(client, tenant)
    body = {"provider": "firecrawl", "url": "http://127.0.0.1/", "options": {"limit": LIMIT}}
    started = client.post(f"/v1/datasets/{dataset['id']}/website/crawl", json=body, headers=tenant.headers)
    assert started.status_code == 200, started.text
    job_url = f"/v1/datasets/{dataset['id']}/website/crawl/{started.json()['id']}"
    return wait_for_job(client, tenant, job_url, timeout=30)


def test_a_next_link_to_another_address_is_not_followed(client, tenant, celery_worker, loopback_allowed):
    internal, provider = Recorder(), Recorder()
    with serving(listener_handler(internal)) as listener:
        handler = hostile_firecrawl(lambda _host, _n: f"{listener}/admin", provider)
        with serving(handler) as firecrawl:
            job = _crawl(client, tenant, firecrawl)
    assert internal.paths == []
    assert job["status"] == "failed"
    assert "leaves its API's address" in job["error"]


def test_a_next_link_back_to_itself_ends_the_job(client, tenant, celery_worker, loopback_allowed):
    provider = Recorder()
    with serving(hostile_firecrawl(lambda host, _n: f"http://{host}/v1/crawl/job-1?skip=1", provider)) as fc:
        job = _crawl(client, tenant, fc)
    assert job["status"] == "failed"
    assert "loop back" in job["error"]
    assert len(provider.paths) <= 3


def test_an_endless_chain_of_slices_ends_at_the_page_limit(client, tenant, celery_worker, loopback_allowed):
    provider = Recorder()
    with serving(hostile_firecrawl(lambda host, n: f"http://{host}/v1/crawl/job-1?skip={n}", provider)) as fc:
        job = _crawl(client, tenant, fc)
    assert job["status"] == "failed"
    assert f"more than the {LIMIT} pages" in job["error"]
    assert len(provider.paths) == LIMIT + 1


def test_a_provider_that_never_finishes_ends_at_the_request_budget(
    client, tenant, celery_worker, loopback_allowed, monkeypatch
):
    monkeypatch.setenv("CRAWL_MAX_REQUESTS", "20")
    get_settings.cache_clear()
    provider = Recorder()

    class Scraping(StartsAnyCrawl):
        def do_GET(self):  # noqa: N802
            provider.add(self.path)
            send_json(self, 200, {"status": "scraping", "total": LIMIT, "completed": 0, "data": []})

    with serving(Scraping) as firecrawl:
        job = _crawl(client, tenant, firecrawl)
    assert job["status"] == "failed"
    assert "Stopped after 20 requests to Firecrawl" in job["error"]
    assert len(provider.paths) == 19  # the crawl's start was the first request
