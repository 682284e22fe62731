"""Outbound URLs that come from requests (crawl targets, data-source base URLs, sitemap pages) may
only reach public addresses, unless OUTBOUND_ALLOWED_HOSTS names the host: otherwise a caller could
make the server (or a self-hosted crawler it drives) fetch internal services and metadata endpoints.
Every such request goes through `outbound_transport`, which checks each request (redirects and
`next` links included) and connects to the address it checked. URLs from our own settings
(embedding, rerank, LLM) are the operator's choice and are not checked."""

import httpx

from core.errors import InvalidParam
from core.settings import Settings
from retrieval.outbound import OutboundPolicy, OutboundRefused, PinnedTransport


def outbound_policy(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy(settings.outbound_allowed_hosts.split(","))


def outbound_transport(settings: Settings) -> PinnedTransport:
    return PinnedTransport(outbound_policy(settings))


def check_outbound_url(url: str, settings: Settings) -> str:
    """Returns the URL when a request to it would be sent now; raises InvalidParam otherwise. This
    is the early answer to the caller: the transport checks again when the request is made."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParam(f"Only http and https URLs are allowed: {url!r}.")
    try:
        outbound_policy(settings).address_to_connect(parsed)
    except OutboundRefused as error:
        raise InvalidParam(str(error)) from None
    return url
