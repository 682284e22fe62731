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
