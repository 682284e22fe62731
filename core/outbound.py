"""Outbound URLs that come from requests (crawl targets, data-source base URLs, sitemap pages) may
only reach public addresses, unless OUTBOUND_ALLOWED_HOSTS names the host: otherwise a caller could
make the server (or a self-hosted crawler it drives) fetch internal services and metadata endpoints.
URLs from our own settings (embedding, rerank, LLM) are the operator's choice and are not checked."""

import ipaddress
import socket
from urllib.parse import urlsplit

from core.errors import InvalidParam
from core.settings import Settings


def check_outbound_url(url: str, settings: Settings) -> str:
    """Returns the URL when it is http(s) and its host resolves only to public addresses (or is
    allow-listed); raises InvalidParam otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParam(f"Only http and https URLs are allowed: {url!r}.")
    host = parts.hostname.lower()
    if host in _allowed_hosts(settings):
        return url
    for address in _addresses(host, parts.port or (443 if parts.scheme == "https" else 80)):
        if not address.is_global:
            raise InvalidParam(
                f"The URL {url!r} points to a private, loopback or reserved address; "
                "OUTBOUND_ALLOWED_HOSTS must name the host to allow it."
            )
    return url


def _allowed_hosts(settings: Settings) -> set[str]:
    return {host.strip().lower() for host in settings.outbound_allowed_hosts.split(",") if host.strip()}


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise InvalidParam(f"The host {host!r} could not be resolved.") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
