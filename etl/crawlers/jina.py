"""Jina Reader: `GET {base}/{url}` with `Accept: application/json` answers
`{code, status, data: {title, description, url, content}}` with the page as Markdown. Sub-pages come
from the site's sitemap, which we read ourselves (the caller checks the sitemap URL first)."""

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Unpack
from urllib.parse import urljoin, urlsplit

from etl.crawlers import CrawledPage
from retrieval.http_client import ApiError, Connection, JsonApi, bearer

SITEMAP_NAMESPACE = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
MAX_SITEMAP_BYTES = 10 * 2**20
MAX_NESTED_SITEMAPS = 20


class JinaReader(JsonApi):
    def __init__(self, api_key: str, base_url: str, **connection: Unpack[Connection]):
        headers = {"Accept": "application/json"} | bearer(api_key)
        super().__init__(
            "Jina Reader", base_url, headers, timeout=60.0, max_attempts=4, backoff_seconds=1.0, **connection
        )

    def read(self, url: str) -> CrawledPage:
        try:
            answer = self.request("GET", f"/{url}")
        except ApiError as error:
            if error.status in (401, 403):
                raise ApiError(
                    f"Jina Reader rejected the API key ({error.status}): check the jinareader data source.",
                    error.status,
                ) from error
            raise
        data = answer.get("data") or {}
        if not data.get("content"):
            raise ApiError(f"Jina Reader returned no content for {url}.")
        return CrawledPage(
            url=data.get("url") or url,
            title=data.get("title") or url,
            markdown=data["content"],
            description=data.get("description") or "",
        )


def sitemap_urls(site_url: str, limit: int, fetch: Callable[[str], bytes]) -> list[str]:
    """Up to `limit` page URLs of the site's /sitemap.xml (sitemap indexes followed), on the site's host.
    `fetch(url) -> bytes` does the HTTP, so the caller decides which URLs may be fetched."""
    parts = urlsplit(site_url)
    pending = [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]
    pages: list[str] = []
    for _ in range(MAX_NESTED_SITEMAPS):
        if not pending or len(pages) >= limit:
            break
        root = _parse(fetch(pending.pop(0)))
        locations = [element.text.strip() for element in root.iter(f"{SITEMAP_NAMESPACE}loc") if element.text]
        if root.tag == f"{SITEMAP_NAMESPACE}sitemapindex":
            pending += [urljoin(site_url, location) for location in locations]
            continue
        for location in locations:
            url = urljoin(site_url, location)
            if urlsplit(url).netloc == parts.netloc and url not in pages:
                pages.append(url)
    return pages[:limit] or [site_url]


def _parse(data: bytes) -> ET.Element:
    if len(data) > MAX_SITEMAP_BYTES:
        raise ApiError("The sitemap is larger than 10 MB.")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ApiError("The sitemap declares a DTD or entities, which are not accepted.")
    try:
        return ET.fromstring(data)
    except ET.ParseError as error:
        raise ApiError(f"The sitemap is not valid XML: {error}") from error
