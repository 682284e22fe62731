"""Firecrawl's v1 API: `POST /v1/crawl` starts an asynchronous job, `GET /v1/crawl/{id}` reports its
state and the pages scraped so far (in slices linked by `next`), `GET /v1/crawl/{id}/errors` lists the
pages that failed, and `POST /v1/scrape` reads one page."""

from dataclasses import dataclass, field
from typing import Any, Unpack

from etl.crawlers import CrawledPage, CrawlOptions, FailedPage
from retrieval.http_client import ApiError, Connection, JsonApi, bearer

FINISHED = ("completed", "failed", "cancelled")


@dataclass
class CrawlStatus:
    status: str
    total: int
    completed: int
    pages: list[CrawledPage] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class FirecrawlClient(JsonApi):
    def __init__(self, api_key: str, base_url: str, **connection: Unpack[Connection]):
        headers = bearer(api_key)
        super().__init__(
            "Firecrawl", base_url, headers, timeout=60.0, max_attempts=4, backoff_seconds=1.0, **connection
        )

    def start_crawl(self, url: str, options: CrawlOptions) -> str:
        body = {
            "url": url,
            "limit": options.limit,
            "includePaths": list(options.includes),
            "excludePaths": list(options.excludes),
            "scrapeOptions": {"formats": ["markdown"], "onlyMainContent": options.only_main_content},
        }
        if options.max_depth is not None:
            body["maxDepth"] = options.max_depth
        answer = self._call("POST", "/v1/crawl", body)
        if not answer.get("success") or not answer.get("id"):
            raise ApiError(f"Firecrawl did not start the crawl: {answer.get('error') or answer}")
        return str(answer["id"])

    def crawl_status(self, job_id: str, max_pages: int) -> CrawlStatus:
        """The job's state with every page scraped so far (all `next` slices followed). The key goes
        with every slice, so a `next` is followed only on Firecrawl's own origin, once, and only while
        slices bring pages and the pages stay within the `max_pages` the crawl asked for."""
        answer = self._call("GET", f"/v1/crawl/{job_id}")
        status = CrawlStatus(answer.get("status", ""), answer.get("total") or 0, answer.get("completed") or 0)
        followed: set[str] = set()
        while True:
            slice_pages = [_page(item) for item in answer.get("data") or []]
            status.pages += slice_pages
            if len(status.pages) > max_pages:
                raise ApiError(f"Firecrawl returned more than the {max_pages} pages the crawl asked for.")
            if not answer.get("next"):
                return status
            if followed and not slice_pages:
                raise ApiError("Firecrawl's `next` link led to a slice with no pages; the crawl stopped.")
            answer = self._call("GET", self._next_slice(str(answer["next"]), followed))

    def _next_slice(self, link: str, followed: set[str]) -> str:
        url = self.base_url.join(link)
        if (url.scheme, url.host, url.port) != (self.base_url.scheme, self.base_url.host, self.base_url.port):
            raise ApiError(f"Firecrawl's `next` link {link!r} leaves its API's address; it was not followed.")
        if str(url) in followed:
            raise ApiError(f"Firecrawl's `next` links loop back to {link!r}; the crawl stopped.")
        followed.add(str(url))
        return str(url)

    def crawl_errors(self, job_id: str) -> list[FailedPage]:
        answer = self._call("GET", f"/v1/crawl/{job_id}/errors")
        return [
            FailedPage(item.get("url", ""), item.get("error") or "failed")
            for item in answer.get("errors") or []
        ]

    def scrape(self, url: str, only_main_content: bool = True) -> CrawledPage:
        body = {"url": url, "formats": ["markdown"], "onlyMainContent": only_main_content}
        answer = self._call("POST", "/v1/scrape", body)
        if not answer.get("success") or not answer.get("data"):
            raise ApiError(f"Firecrawl could not read {url}: {answer.get('error') or 'no content'}")
        return _page(answer["data"], fallback_url=url)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.request(method, path, body)
            return answer
        except ApiError as error:
            raise _explained(error) from error


def _page(item: dict[str, Any], fallback_url: str = "") -> CrawledPage:
    metadata = item.get("metadata") or {}
    url = metadata.get("sourceURL") or metadata.get("url") or fallback_url
    return CrawledPage(
        url=url,
        title=metadata.get("title") or url,
        markdown=item.get("markdown") or "",
        description=metadata.get("description") or "",
    )


def _explained(error: ApiError) -> ApiError:
    if error.status in (401, 403):
        return ApiError(
            f"Firecrawl rejected the API key ({error.status}): check the firecrawl data source.", error.status
        )
    if error.status == 402:
        return ApiError("Firecrawl refused the request: the account has no credits left (402).", 402)
    return error
