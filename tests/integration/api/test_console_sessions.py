"""The admin UI's sessions: a key is traded for an HttpOnly, SameSite=Strict cookie bound to a
server-side session; changes need the session's CSRF token; sign-out, expiry and revoking the key end
it; a session sees exactly what its key's workspace sees."""

from datetime import timedelta

from sqlalchemy import update

from core.api_keys import service as api_keys
from core.api_keys.models import ConsoleSession
from core.database import session_scope, utcnow
from tests.helpers import assert_error, create_dataset

SIGNED_OUT = "Your session has ended. Please sign in again."


def _sign_in(client, owner) -> str:
    response = client.post("/ui/api/session", json={"api_key": owner.key})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def test_sign_in_sets_an_http_only_strict_cookie_that_never_holds_the_key(client, tenant):
    response = client.post("/ui/api/session", json={"api_key": tenant.key})
    assert response.status_code == 200
    assert response.json()["workspace"] == {"id": tenant.workspace_id, "name": tenant.name}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("kb_session=") and tenant.key not in cookie
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert client.get("/ui/api/session").json()["csrf_token"] == response.json()["csrf_token"]


def test_sign_in_refuses_a_wrong_key_and_anything_but_json(client, tenant):
    assert_error(client.post("/ui/api/session", json={"api_key": "ds-wrong"}), 401, "unauthorized")
    form = client.post("/ui/api/session", data={"api_key": tenant.key})
    assert_error(form, 400, "invalid_param", "Sign-in expects a JSON body.")
    assert "kb_session" not in client.cookies


def test_a_session_reads_freely_but_changes_only_with_its_csrf_token(client, tenant):
    csrf = _sign_in(client, tenant)
    assert client.get("/v1/datasets").status_code == 200
    refused = client.post("/v1/datasets", json={"name": "no-token"})
    assert_error(refused, 403, "forbidden")
    wrong = client.post("/v1/datasets", json={"name": "wrong-token"}, headers={"X-CSRF-Token": "x" * 43})
    assert_error(wrong, 403, "forbidden")
    created = client.post("/v1/datasets", json={"name": "with-token"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 200
    names = [item["name"] for item in client.get("/v1/datasets").json()["data"]]
    assert names == ["with-token"]  # the refused requests changed nothing


def test_sign_out_ends_the_session_on_the_server(client, tenant):
    csrf = _sign_in(client, tenant)
    cookie = client.cookies["kb_session"]
    assert_error(client.delete("/ui/api/session"), 403, "forbidden")  # sign-out is a change too
    assert client.delete("/ui/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("kb_session", cookie)  # a copy of the old cookie is worth nothing now
    assert_error(client.get("/v1/datasets"), 401, "unauthorized", SIGNED_OUT)
    assert_error(client.get("/ui/api/session"), 401, "unauthorized", SIGNED_OUT)


def test_revoking_the_key_or_expiry_ends_its_sessions(client, tenant, make_workspace):
    _sign_in(client, tenant)
    with session_scope() as session:
        key_id = api_keys.list_keys(session, api_keys.authenticate(session, tenant.key).workspace)[0].id
        api_keys.revoke_key(session, key_id)
    assert_error(client.get("/v1/datasets"), 401, "unauthorized", SIGNED_OUT)

    other = make_workspace("initech")
    _sign_in(client, other)
    assert client.get("/v1/datasets").status_code == 200
    with session_scope() as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert_error(client.get("/v1/datasets"), 401, "unauthorized", SIGNED_OUT)


def test_a_session_sees_only_its_workspace(client, tenant, other_tenant):
    theirs = create_dataset(client, other_tenant, "theirs")
    _sign_in(client, tenant)
    assert client.get("/v1/datasets").json()["data"] == []
    assert_error(client.get(f"/v1/datasets/{theirs['id']}"), 404, "not_found", "Dataset not found.")
    # a bearer key, when sent, wins over the cookie
    bearer = client.get("/v1/datasets", headers=other_tenant.headers).json()["data"]
    assert [item["name"] for item in bearer] == ["theirs"]


def test_api_keys_of_the_signed_in_workspace(client, tenant, other_tenant):
    csrf = _sign_in(client, tenant)
    headers = {"X-CSRF-Token": csrf}
    token = client.post("/ui/api/keys", headers=headers).json()["token"]
    keys = client.get("/ui/api/keys").json()["data"]
    assert len(keys) == 2 and [key["current"] for key in keys] == [True, False]
    assert all(key["token"].startswith("ds-") and "..." in key["token"] for key in keys)
    assert client.get("/v1/datasets", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with session_scope() as session:
        foreign = api_keys.list_keys(session, api_keys.authenticate(session, other_tenant.key).workspace)[0]
    assert_error(client.delete(f"/ui/api/keys/{foreign.id}", headers=headers), 404, "not_found")
    assert client.get("/v1/datasets", headers=other_tenant.headers).status_code == 200
    assert client.delete(f"/ui/api/keys/{keys[1]['id']}", headers=headers).status_code == 204
    assert client.get("/v1/datasets", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_pages_are_served_with_a_strict_content_security_policy(client):
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/"
    for path in ("/ui/", "/ui/datasets/0f8fad5b-d9cb-469f-a165-70867728950e/hit-testing"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/ui/assets/app.js">' in page.text
    script = client.get("/ui/assets/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert_error(client.get("/ui/api/unknown"), 404, "not_found")
