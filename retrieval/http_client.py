"""Calls to hosted APIs (embeddings, rerank, crawlers): 429 and 5xx answers and transport errors are
retried with exponential back-off that honours `Retry-After`; other answers fail at once."""

import time
from dataclasses import dataclass
from typing import Any, Self, TypedDict

import httpx

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 60.0
# No JSON answer we read is near this; a larger one is a broken or hostile server, not data to hold.
MAX_ANSWER_BYTES = 64 * 2**20


class ApiError(RuntimeError):
    """The API refused or failed; the message is shown to the user. `status` is the HTTP status, if
    the API answered at all."""

    def __init__(self, message: str, status: int | None = None, *, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient  # unreachable or overloaded after the retries: worth trying later


@dataclass
class RequestBudget:
    """Hard bounds on a job's calls to one API (a crawl): a server that keeps answering "more" (an
    endless `next` chain, a status that never finishes) ends the job with a message instead of
    running it forever."""

    max_requests: int
    deadline: float  # time.monotonic() after which no request is sent
    sent: int = 0

    def spend(self, what: str) -> None:
        if self.sent >= self.max_requests:
            raise ApiError(f"Stopped after {self.max_requests} requests to {what}, the most a job may send.")
        if time.monotonic() > self.deadline:
            raise ApiError(f"Stopped: the job's calls to {what} ran past its time limit.")
        self.sent += 1


class Connection(TypedDict, total=False):
    """How a client reaches its API: through `transport` (e.g. the outbound check), within `budget`."""

    transport: httpx.BaseTransport | None
    budget: RequestBudget | None


class JsonApi:
    """One hosted JSON API at `base_url`: its HTTP connection, headers and retry policy in one place,
    so the model and crawler clients only say which paths they call and what the answers mean. Used as
    a context manager, it closes its connection at the end."""

    def __init__(
        self,
        what: str,
        base_url: str,
        headers: dict[str, str],
        *,
        timeout: float,
        max_attempts: int,
        backoff_seconds: float,
        transport: httpx.BaseTransport | None = None,
        budget: RequestBudget | None = None,
    ):
        self.what = what
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.budget = budget
        self.base_url = httpx.URL(base_url.rstrip("/"))
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self.budget is not None:
            self.budget.spend(self.what)
        return request_json_with_retries(
            self._http,
            method,
            path,
            body=body,
            what=self.what,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def bearer(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def request_json_with_retries(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    what: str,
    max_attempts: int,
    backoff_seconds: float,
    body: dict[str, Any] | None = None,
) -> Any:
    for attempt in range(1, max_attempts + 1):
        try:
            response = _send(client, method, path, body)
        except httpx.TransportError as error:
            if attempt == max_attempts:
                raise ApiError(f"{what} API unreachable: {error}", transient=True) from error
            time.sleep(_delay(attempt, None, backoff_seconds))
            continue
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError as error:
                raise ApiError(f"{what} API answered a body that is not JSON", 200) from error
        if response.status_code not in RETRYABLE_STATUS or attempt == max_attempts:
            raise ApiError(
                f"{what} API error {response.status_code}: {response.text[:300]}",
                response.status_code,
                transient=response.status_code in RETRYABLE_STATUS,
            )
        time.sleep(_delay(attempt, response.headers.get("Retry-After"), backoff_seconds))
    raise AssertionError("unreachable")


def _send(client: httpx.Client, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    """The answer with its body read up to MAX_ANSWER_BYTES: streamed, so a huge body is never held."""
    request = client.build_request(method, path, json=body)
    streamed = client.send(request, stream=True)
    try:
        content = read_at_most(streamed, MAX_ANSWER_BYTES)
    finally:
        streamed.close()
    if len(content) > MAX_ANSWER_BYTES:
        raise ApiError(f"{request.url.host} answered more than {MAX_ANSWER_BYTES // 2**20} MB.")
    # The body is decoded already: the new answer must not say it is still compressed.
    headers = [(name, value) for name, value in streamed.headers.items() if name != "content-encoding"]
    return httpx.Response(streamed.status_code, headers=headers, content=content, request=request)


def read_at_most(response: httpx.Response, limit: int) -> bytes:
    """A streamed answer's (decoded) body, read until it is past `limit` bytes: a longer result says
    the body is over the limit, without the rest of it ever being held."""
    content = bytearray()
    for chunk in response.iter_bytes():
        content += chunk
        if len(content) > limit:
            break
    return bytes(content)


def _delay(attempt: int, retry_after: str | None, backoff_seconds: float) -> float:
    if retry_after:
        try:
            return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
        except ValueError:
            pass
    return float(backoff_seconds * 2 ** (attempt - 1))
