"""A public Notion integration (OAuth): the user authorises it in Notion, which redirects to the
client's redirect URI with a code; the code is exchanged for the workspace's access token, saved as
the `notion` credentials that imports and syncs use."""

import hashlib
import hmac
from urllib.parse import urlencode

import httpx
from sqlalchemy.orm import Session

from core.datasources.service import Provider, load_credentials, save_credentials
from core.errors import InvalidParam
from core.outbound import outbound_transport
from core.secret_key import server_secret
from core.settings import get_settings
from core.workspaces.models import Workspace
from retrieval.outbound import OutboundRefused

TOKEN_TIMEOUT_SECONDS = 30


def authorize_url(session: Session, workspace: Workspace) -> str:
    client = load_credentials(session, workspace.id, Provider.NOTION_OAUTH)
    query = {"client_id": client.client_id, "response_type": "code", "owner": "user",
             "redirect_uri": client.redirect_uri, "state": _state(workspace)}  # fmt: skip
    return f"{client.base_url}/v1/oauth/authorize?{urlencode(query)}"


def complete_authorization(session: Session, workspace: Workspace, code: str, state: str) -> dict:
    """Exchanges Notion's code for the access token; `state` must be the one the authorize URL carried."""
    if not hmac.compare_digest(state.encode(), _state(workspace).encode()):  # bytes: state may be any text
        raise InvalidParam("The OAuth state does not belong to this workspace.")
    client = load_credentials(session, workspace.id, Provider.NOTION_OAUTH)
    body = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri}
    try:
        transport = outbound_transport(get_settings())
        with httpx.Client(transport=transport, timeout=TOKEN_TIMEOUT_SECONDS) as http:
            response = http.post(
                f"{client.base_url}/v1/oauth/token", json=body, auth=(client.client_id or "", client.api_key)
            )
    except OutboundRefused as error:
        raise InvalidParam(str(error)) from None
    except httpx.HTTPError as error:
        raise InvalidParam(f"Notion could not be reached to complete the authorization: {error}") from None
    if response.status_code != 200:
        raise InvalidParam(
            f"Notion refused the authorization code ({response.status_code}): {response.text[:200]}"
        )
    granted = response.json()
    save_credentials(session, workspace, Provider.NOTION, granted["access_token"], client.base_url)
    return {
        "provider": Provider.NOTION,
        "workspace_name": granted.get("workspace_name"),
        "bot_id": granted.get("bot_id"),
    }


def _state(workspace: Workspace) -> str:
    return hmac.new(
        server_secret(get_settings()), f"notion-oauth|{workspace.id}".encode(), hashlib.sha256
    ).hexdigest()
