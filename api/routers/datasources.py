"""Ours: a workspace's credentials for online sources (Notion, Firecrawl, Jina Reader), never returned
in full."""

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.deps import CallerDep, SessionDep, whole_workspace_caller
from core.datasources import notion_oauth
from core.datasources import service as datasources
from core.online_sources import service as online_sources

router = APIRouter(
    prefix="/datasources", tags=["data sources"], dependencies=[Depends(whole_workspace_caller)]
)


class CredentialsBody(BaseModel):
    provider: str = Field(max_length=32)
    api_key: str = Field(
        min_length=1, max_length=1000, description="API key, or the Notion integration token"
    )
    base_url: str | None = Field(default=None, max_length=2048)
    client_id: str | None = Field(default=None, max_length=255, description="notion_oauth only")
    redirect_uri: str | None = Field(default=None, max_length=2048, description="notion_oauth only")


class OAuthCallbackBody(BaseModel):
    code: str = Field(min_length=1, max_length=1000)
    state: str = Field(min_length=1, max_length=128)


@router.post("")
def save_credentials(body: CredentialsBody, caller: CallerDep, session: SessionDep) -> dict:
    """Ours: saves the workspace's credentials for `provider` (notion, notion_oauth, firecrawl,
    jinareader): `api_key` and an optional `base_url` (public http(s) hosts only). Stored encrypted;
    answered masked."""
    datasources.save_credentials(
        session, caller.workspace, body.provider, body.api_key, body.base_url,
        client_id=body.client_id, redirect_uri=body.redirect_uri,
    )  # fmt: skip
    saved = datasources.list_credentials(session, caller.workspace)
    return next(item for item in saved if item["provider"] == body.provider)


@router.get("")
def list_credentials(caller: CallerDep, session: SessionDep) -> dict:
    """Ours: the workspace's saved credentials, keys masked."""
    return {"data": datasources.list_credentials(session, caller.workspace)}


@router.get("/notion/pages")
def list_notion_pages(caller: CallerDep, session: SessionDep) -> dict:
    """The pages and databases the workspace's Notion integration can see, to choose from."""
    return {"data": online_sources.list_notion_sources(session, caller)}


@router.get("/notion/oauth/authorize")
def notion_authorize_url(caller: CallerDep, session: SessionDep) -> dict:
    """Where to send the user to authorise the workspace's public Notion integration."""
    return {"url": notion_oauth.authorize_url(session, caller.workspace)}


@router.post("/notion/oauth/callback")
def notion_oauth_callback(body: OAuthCallbackBody, caller: CallerDep, session: SessionDep) -> dict:
    """The code and state Notion redirected with: exchanged for the token imports will use."""
    return notion_oauth.complete_authorization(session, caller.workspace, body.code, body.state)


@router.delete("/{provider}", status_code=204)
def delete_credentials(provider: str, caller: CallerDep, session: SessionDep) -> Response:
    """Ours: deletes the workspace's credentials for `provider`."""
    datasources.delete_credentials(session, caller.workspace, provider)
    return Response(status_code=204)
