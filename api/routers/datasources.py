"""Ours: a workspace's credentials for online sources (Notion, Firecrawl, Jina Reader), never returned
in full."""

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import CallerDep, SessionDep
from core.datasources import service as datasources
from core.online_sources import service as online_sources

router = APIRouter(prefix="/datasources", tags=["data sources"])


class CredentialsBody(BaseModel):
    provider: str = Field(max_length=32)
    api_key: str = Field(
        min_length=1, max_length=1000, description="API key, or the Notion integration token"
    )
    base_url: str | None = Field(default=None, max_length=2048)


@router.post("")
def save_credentials(body: CredentialsBody, caller: CallerDep, session: SessionDep) -> dict:
    datasources.save_credentials(session, caller.workspace, body.provider, body.api_key, body.base_url)
    saved = datasources.list_credentials(session, caller.workspace)
    return next(item for item in saved if item["provider"] == body.provider)


@router.get("")
def list_credentials(caller: CallerDep, session: SessionDep) -> dict:
    return {"data": datasources.list_credentials(session, caller.workspace)}


@router.get("/notion/pages")
def list_notion_pages(caller: CallerDep, session: SessionDep) -> dict:
    """The pages and databases the workspace's Notion integration can see, to choose from."""
    return {"data": online_sources.list_notion_sources(session, caller)}


@router.delete("/{provider}", status_code=204)
def delete_credentials(provider: str, caller: CallerDep, session: SessionDep) -> Response:
    datasources.delete_credentials(session, caller.workspace, provider)
    return Response(status_code=204)
