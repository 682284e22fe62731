"""Clients of the website crawling providers (Firecrawl, Jina Reader): pages in, Markdown out."""

from dataclasses import dataclass


@dataclass(frozen=True)
class CrawledPage:
    url: str
    title: str
    markdown: str
    description: str = ""


@dataclass(frozen=True)
class FailedPage:
    url: str
    error: str


@dataclass(frozen=True)
class CrawlOptions:
    """Dify's website options: `crawl_sub_pages` off reads the one page; `limit` caps the pages."""

    crawl_sub_pages: bool = True
    limit: int = 10
    max_depth: int | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    only_main_content: bool = True
