"""Small helpers shared by the API tests."""

from dataclasses import dataclass

from fastapi.testclient import TestClient


@dataclass
class WorkspaceKey:
    workspace_id: str
    name: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def create_dataset(client: TestClient, owner: WorkspaceKey, name: str = "handbook", **fields) -> dict:
    response = client.post("/v1/datasets", json={"name": name, **fields}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"code", "message", "status"}, body
    assert body["code"] == code, body
    assert body["status"] == status
    if message is not None:
        assert body["message"] == message, body


FINAL_STATUSES = ("completed", "error")


def wait_for_batch(
    client: TestClient, owner: WorkspaceKey, dataset_id: str, batch: str, timeout: float = 120
) -> list:
    """Polls the indexing-status endpoint until every document of the batch is completed or failed."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        response = client.get(
            f"/v1/datasets/{dataset_id}/documents/{batch}/indexing-status", headers=owner.headers
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if all(item["indexing_status"] in FINAL_STATUSES for item in data):
            return data
        assert time.monotonic() < deadline, f"indexing did not finish: {data}"
        time.sleep(0.1)


def create_text_document(
    client: TestClient, owner: WorkspaceKey, dataset_id: str, name: str, text: str, **fields
):
    body = {"name": name, "text": text, "indexing_technique": "high_quality", **fields}
    return client.post(f"/v1/datasets/{dataset_id}/document/create-by-text", json=body, headers=owner.headers)


def upload_document(
    client: TestClient,
    owner: WorkspaceKey,
    dataset_id: str,
    filename: str,
    content: bytes,
    data: dict | None = None,
    path: str = "document/create-by-file",
    method: str = "POST",
):
    import json

    form = {"data": json.dumps(data)} if data is not None else {}
    files = {"file": (filename, content, "application/octet-stream")}
    return client.request(
        method, f"/v1/datasets/{dataset_id}/{path}", files=files, data=form, headers=owner.headers
    )


def wait_until(predicate, timeout: float = 60, interval: float = 0.1) -> None:
    """Polls `predicate` until it is true; fails the test after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def wait_for_job(
    client: TestClient, owner: WorkspaceKey, job_url: str, seen: list | None = None, timeout: float = 60
) -> dict:
    """Polls an online-source job until it is no longer running; `seen` collects (completed, total)."""
    job: dict = {}

    def finished() -> bool:
        job.update(client.get(job_url, headers=owner.headers).json())
        if seen is not None:
            seen.append((job["completed"], job["total"]))
        return job["status"] != "running"

    wait_until(finished, timeout, interval=0.02)
    return job


def segment_ids_by_content(
    client: TestClient, owner: WorkspaceKey, dataset_id: str, document_id: str
) -> dict:
    url = f"/v1/datasets/{dataset_id}/documents/{document_id}/segments"
    return {
        segment["content"]: segment["id"] for segment in client.get(url, headers=owner.headers).json()["data"]
    }


def stored_keys() -> set[str]:
    """What the file storage holds: the data directory, or the test's S3 bucket."""
    from core.files.storage import file_storage
    from core.settings import get_settings

    return {key for key, _ in file_storage(get_settings()).stored_keys()}


def no_file_kept() -> bool:
    """Nothing stored, and no temporary file left in the data directory either."""
    from core.settings import get_settings

    return not stored_keys() and not any(p.is_file() for p in get_settings().upload_dir.rglob("*"))


def replace_stored(key: str, data: bytes) -> None:
    """Overwrites a stored file in place, as an operator fixing it would."""
    import tempfile
    from pathlib import Path

    from core.files.storage import file_storage
    from core.settings import get_settings

    handle, name = tempfile.mkstemp()
    with open(handle, "wb") as file:
        file.write(data)
    file_storage(get_settings()).save(key, Path(name))
