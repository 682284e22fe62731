"""Bearer-key authentication and the error envelope."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from api.app import create_app
from core.api_keys import service as api_keys
from core.api_keys.models import ApiKey
from core.database import session_scope
from core.workspaces.models import Account, Workspace
from tests.helpers import assert_error, create_dataset

MISSING = "Authorization header must be provided and start with 'Bearer'"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, MISSING),
        ("Bearer", MISSING),
        ("ds-abcdef", MISSING),
        ("Basic dXNlcjpwYXNz", "Authorization scheme must be 'Bearer'"),
        ("Bearer ds-doesnotexist000000000000", "Access token is invalid"),
        ("Bearer app-xxxxxxxxxxxxxxxxxxxxxxxx", "Access token is invalid"),
    ],
)
def test_bad_authorization_headers_get_401_with_contract_message(client, header, message):
    headers = {"Authorization": header} if header else {}
    response = client.get("/v1/datasets", headers=headers)
    assert_error(response, 401, "unauthorized", message)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_scheme_is_case_insensitive(client, tenant):
    response = client.get("/v1/datasets", headers={"Authorization": f"bearer {tenant.key}"})
    assert response.status_code == 200


def test_revoked_key_fails_at_once(client, tenant):
    assert client.get("/v1/datasets", headers=tenant.headers).status_code == 200
    with session_scope() as session:
        key_id = session.query(ApiKey.id).filter(ApiKey.workspace_id == tenant.workspace_id).scalar()
        api_keys.revoke_key(session, key_id)
    assert_error(
        client.get("/v1/datasets", headers=tenant.headers), 401, "unauthorized", "Access token is invalid"
    )


def test_archived_workspace_is_refused(client, tenant):
    with session_scope() as session:
        session.execute(update(Workspace).where(Workspace.id == tenant.workspace_id).values(status="archive"))
    response = client.get("/v1/datasets", headers=tenant.headers)
    assert_error(response, 401, "unauthorized", "Tenant does not exist.")


def test_workspace_without_owner_is_refused(client, tenant):
    with session_scope() as session:
        session.execute(delete(Account).where(Account.workspace_id == tenant.workspace_id))
    response = client.get("/v1/datasets", headers=tenant.headers)
    assert_error(response, 401, "unauthorized", "Tenant owner account does not exist.")


def test_key_records_last_use(client, tenant):
    client.get("/v1/datasets", headers=tenant.headers)
    with session_scope() as session:
        keys = session.query(ApiKey).filter(ApiKey.workspace_id == tenant.workspace_id).all()
    assert keys[0].last_used_at is not None
    assert keys[0].token_hash != tenant.key and tenant.key not in keys[0].masked_token


def test_keys_are_minted_with_prefix_and_capped(client, tenant):
    assert tenant.key.startswith("ds-") and len(tenant.key) == 27
    with session_scope() as session:
        workspace = session.get(Workspace, tenant.workspace_id)
        for _ in range(api_keys.MAX_ACTIVE_KEYS_PER_WORKSPACE - 1):
            api_keys.create_key(session, workspace)
        with pytest.raises(Exception, match="Cannot create more than 10"):
            api_keys.create_key(session, workspace)


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert client.get("/v1/nothing-here").headers["content-type"].startswith("application/json")


def test_wrong_method_is_json_405(client, tenant):
    response = client.put("/v1/datasets", headers=tenant.headers)
    assert_error(response, 405, "method_not_allowed", "The method is not allowed for the requested URL.")


def test_malformed_dataset_id_is_plain_404(client, tenant):
    response = client.get("/v1/datasets/not-a-uuid", headers=tenant.headers)
    assert_error(response, 404, "not_found")
    assert response.json()["message"].startswith("The requested URL was not found")


def test_invalid_json_is_invalid_param(client, tenant):
    response = client.post(
        "/v1/datasets", content=b"{not json", headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_param", "Invalid JSON payload received or JSON payload is empty.")
    response = client.post("/v1/datasets", headers={**tenant.headers, "Content-Type": "application/json"})
    assert_error(response, 400, "invalid_param", "Invalid JSON payload received or JSON payload is empty.")


def test_dataset_with_api_disabled_is_403(client, tenant):
    dataset = create_dataset(client, tenant)
    from core.datasets.models import Dataset

    with session_scope() as session:
        session.execute(update(Dataset).where(Dataset.id == dataset["id"]).values(enable_api=False))
    response = client.get(f"/v1/datasets/{dataset['id']}", headers=tenant.headers)
    assert_error(response, 403, "forbidden", "Dataset api access is not enabled.")


def test_unhandled_error_is_json_500(database_url):
    app = create_app()

    @app.get("/v1/boom")
    def boom():
        raise RuntimeError("secret detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/boom")
    assert_error(response, 500, "internal_server_error")
    assert "secret detail" not in response.text
