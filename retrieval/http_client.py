"""POST with retries for the hosted model APIs (embeddings, rerank): 429 and 5xx answers and
transport errors are retried with exponential back-off that honours `Retry-After`."""

import time

import httpx

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_SECONDS = 60.0


class ModelApiError(RuntimeError):
    """The API refused or failed; the message is shown to the user."""


def post_json_with_retries(
    client: httpx.Client, path: str, body: dict, *, what: str, max_attempts: int, backoff_seconds: float
) -> dict:
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.post(path, json=body)
        except httpx.TransportError as error:
            if attempt == max_attempts:
                raise ModelApiError(f"{what} API unreachable: {error}") from error
            time.sleep(_delay(attempt, None, backoff_seconds))
            continue
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError as error:
                raise ModelApiError(f"{what} API answered a body that is not JSON") from error
        if response.status_code not in RETRYABLE_STATUS or attempt == max_attempts:
            raise ModelApiError(f"{what} API error {response.status_code}: {response.text[:300]}")
        time.sleep(_delay(attempt, response.headers.get("Retry-After"), backoff_seconds))
    raise AssertionError("unreachable")


def _delay(attempt: int, retry_after: str | None, backoff_seconds: float) -> float:
    if retry_after:
        try:
            return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
        except ValueError:
            pass
    return backoff_seconds * 2 ** (attempt - 1)
