"""Requests to URLs a caller chose (crawl targets, data-source base URLs, sitemaps, a provider's `next`
links) may only reach public addresses, unless the operator allow-listed the host.

Checking a URL and then letting the HTTP library resolve its host again leaves a gap: a DNS answer can
change between the two (rebinding), turning an approved public name into 127.0.0.1. So the check lives
in the transport: every request, redirects included, resolves its host once, refuses it when any address
is not global, and connects to the address it checked, with the name kept for the Host header, TLS's SNI
and the certificate check.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpx

from retrieval.http_client import ApiError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to, as socket.getaddrinfo reports them.
Resolver = Callable[[str, int], list[str]]


class OutboundRefused(ApiError):
    """The URL may not be fetched: not http(s), unresolvable, or pointing inside the network."""


def resolve_with_dns(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise OutboundRefused(f"The host {host!r} could not be resolved.") from None
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


class OutboundPolicy:
    """Which hosts a caller's URL may reach: public ones, and those the operator allow-listed."""

    def __init__(self, allowed_hosts: Iterable[str] = (), resolve: Resolver = resolve_with_dns):
        self.allowed_hosts = frozenset(host.strip().lower() for host in allowed_hosts if host.strip())
        self.resolve = resolve

    def address_to_connect(self, url: httpx.URL) -> Address | None:
        """The checked address the request must go to; None for an allow-listed host (left to DNS)."""
        if url.scheme not in ("http", "https") or not url.host:
            raise OutboundRefused(f"Only http and https URLs are allowed: {str(url)!r}.")
        host = url.host.lower()
        if host in self.allowed_hosts:
            return None
        addresses = self._addresses(host, url.port or (443 if url.scheme == "https" else 80))
        for address in addresses:
            if not address.is_global:
                raise OutboundRefused(
                    f"The URL {str(url)!r} points to a private, loopback or reserved address; "
                    "OUTBOUND_ALLOWED_HOSTS must name the host to allow it."
                )
        return addresses[0]

    def _addresses(self, host: str, port: int) -> list[Address]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        resolved = [ipaddress.ip_address(address) for address in self.resolve(host, port)]
        if not resolved:
            raise OutboundRefused(f"The host {host!r} could not be resolved.")
        return resolved


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that sends each request only after the policy approved its host, to the very
    address it approved. A client built on it follows redirects through the same check, since every hop
    is a new request through this transport (and httpx drops `Authorization` when a hop leaves the
    origin)."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport | None = None):
        self.policy = policy
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        address = self.policy.address_to_connect(request.url)
        if address is not None:
            # The Host header was set from the name when the request was built; it stays.
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": request.url.host}
            request.url = request.url.copy_with(host=str(address))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
