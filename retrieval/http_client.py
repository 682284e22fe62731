"""Calls to hosted APIs (embeddings, rerank, crawlers): 429 and 5xx answers and transport errors are
retried with exponential back-off that honours `Retry-After`; other answers fail at once."""

import time
from typing import Any

import httpx

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 60.0


class ApiError(RuntimeError):
    """The API refused or failed; the message is shown to the user. `status` is the HTTP status, if
    the API answered at all."""

    def __init__(self, message: str, status: int | None = None, *, transient: bool = False):
        super().__init__(message)
        self.status = status
        self.transient = transient  # unreachable or overloaded after the retries: worth trying later


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
    ):
        self.what = what
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
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

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
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
    body: dict | None = None,
) -> Any:
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.request(method, path, json=body)
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


def _delay(attempt: int, retry_after: str | None, backoff_seconds: float) -> float:
    if retry_after:
        try:
            return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
        except ValueError:
            pass
    return backoff_seconds * 2 ** (attempt - 1)
