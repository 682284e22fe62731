"""The provider clients of online sources, each sending through the outbound check (the provider's
base URL is a caller's choice) and, for a job, within the job's bounds."""

import time

from core.datasources.service import Credentials, Provider
from core.outbound import outbound_transport
from core.settings import get_settings
from etl.crawlers.firecrawl import FirecrawlClient
from etl.crawlers.jina import JinaReader
from etl.notion import NotionClient
from retrieval.http_client import RequestBudget

CLIENTS = {Provider.NOTION: NotionClient, Provider.FIRECRAWL: FirecrawlClient, Provider.JINA: JinaReader}


def job_budget() -> RequestBudget:
    """The bounds of one job reading a source: CRAWL_MAX_REQUESTS requests, CRAWL_TIMEOUT_SECONDS."""
    settings = get_settings()
    return RequestBudget(settings.crawl_max_requests, time.monotonic() + settings.crawl_timeout_seconds)


def open_client(credentials: Credentials, budget: RequestBudget | None = None):
    client_class = CLIENTS[credentials.provider]
    transport = outbound_transport(get_settings())
    return client_class(credentials.api_key, credentials.base_url, transport=transport, budget=budget)
