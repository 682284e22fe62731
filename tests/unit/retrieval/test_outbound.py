"""The outbound transport resolves a host once, checks every address, and connects to the address it
checked: a second DNS answer (rebinding) cannot send the request elsewhere."""

from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from retrieval.outbound import OutboundPolicy, OutboundRefused, PinnedTransport
from tests.http_servers import send_json, serving

PUBLIC = "93.184.215.14"


class Answers:
    """A resolver whose answers change from one lookup to the next, as a rebinding attacker's DNS."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return self.answers.pop(0)


def _send(policy: OutboundPolicy, url: str) -> httpx.Request:
    """Sends through the pinned transport; the inner transport records where the request would go."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=PinnedTransport(policy, httpx.MockTransport(record))) as client:
        client.get(url)
    return sent[0]


def test_the_connection_goes_to_the_address_that_was_checked():
    resolver = Answers([PUBLIC], ["127.0.0.1"])
    request = _send(OutboundPolicy(resolve=resolver), "https://rebind.example:8443/x?y=1")
    assert resolver.lookups == 1
    assert (request.url.host, request.url.port, request.url.path) == (PUBLIC, 8443, "/x")
    assert request.headers["Host"] == "rebind.example:8443"
    assert request.extensions["sni_hostname"] == "rebind.example"


def test_a_rebinding_answer_cannot_reach_a_loopback_listener():
    hits: list[str] = []

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            send_json(self, 200, {})

        def log_message(self, *_args):
            pass

    with serving(Internal) as internal:
        port = int(internal.rsplit(":", 1)[1])
        # First answer: a public address this closed network cannot reach; then the loopback listener.
        policy = OutboundPolicy(resolve=Answers([PUBLIC], ["127.0.0.1"]))
        transport = PinnedTransport(policy, httpx.HTTPTransport())
        with httpx.Client(transport=transport, timeout=0.5) as client, pytest.raises(httpx.TransportError):
            client.get(f"http://rebind.example:{port}/secret")
    assert hits == []


@pytest.mark.parametrize(
    "answer", [["127.0.0.1"], ["10.0.0.8"], ["169.254.169.254"], ["::1"], [PUBLIC, "192.168.1.1"], []]
)
def test_any_private_address_in_the_answer_refuses_the_request(answer):
    with pytest.raises(OutboundRefused):
        _send(OutboundPolicy(resolve=Answers(answer)), "http://inside.example/")


def test_a_redirect_is_checked_like_the_first_request():
    policy = OutboundPolicy(resolve=Answers([PUBLIC], ["127.0.0.1"]))

    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://internal.example/"})

    transport = PinnedTransport(policy, httpx.MockTransport(redirect))
    with httpx.Client(transport=transport, follow_redirects=True) as client, pytest.raises(OutboundRefused):
        client.get("http://public.example/")


def test_allow_listed_hosts_and_literal_public_addresses_pass():
    policy = OutboundPolicy(["127.0.0.1"], resolve=Answers())
    assert _send(policy, "http://127.0.0.1:9/x").url.host == "127.0.0.1"
    assert _send(policy, f"http://{PUBLIC}/").url.host == PUBLIC
    with pytest.raises(OutboundRefused):
        _send(policy, "ftp://example.com/")
