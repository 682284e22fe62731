"""Data-source credentials per workspace: a Notion integration token, or a Firecrawl or Jina Reader
API key with its base URL. Stored encrypted (Fernet, key derived from the server secret) and never
returned in full."""

import json
from dataclasses import dataclass
from enum import StrEnum

from cryptography.fernet import InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import unix_seconds
from core.datasources.models import DataSourceCredential
from core.errors import InvalidParam, NotFound
from core.outbound import check_outbound_url
from core.secret_key import fernet
from core.settings import get_settings
from core.workspaces.models import Workspace

PURPOSE = "data-source-credentials"


class Provider(StrEnum):
    NOTION = "notion"
    # A public Notion integration's OAuth client; the access token it obtains is saved as `notion`.
    NOTION_OAUTH = "notion_oauth"
    FIRECRAWL = "firecrawl"
    JINA = "jinareader"


DEFAULT_BASE_URLS = {
    Provider.NOTION: "https://api.notion.com",
    Provider.NOTION_OAUTH: "https://api.notion.com",
    Provider.FIRECRAWL: "https://api.firecrawl.dev",
    Provider.JINA: "https://r.jina.ai",
}


@dataclass(frozen=True)
class Credentials:
    provider: Provider
    api_key: str  # the API key, the Notion token, or (notion_oauth) the client secret
    base_url: str
    client_id: str | None = None
    redirect_uri: str | None = None


def save_credentials(
    session: Session,
    workspace: Workspace,
    provider: str,
    api_key: str,
    base_url: str | None,
    *,
    client_id: str | None = None,
    redirect_uri: str | None = None,
) -> DataSourceCredential:
    provider = _provider(provider)
    if not api_key or not api_key.strip():
        raise InvalidParam("api_key is required.")
    if provider == Provider.NOTION_OAUTH and not (client_id and redirect_uri):
        raise InvalidParam("A notion_oauth client needs client_id, redirect_uri and its secret as api_key.")
    base_url = (base_url or DEFAULT_BASE_URLS[provider]).rstrip("/")
    check_outbound_url(base_url, get_settings())
    values: dict[str, str | None] = {"api_key": api_key.strip(), "base_url": base_url}
    if provider == Provider.NOTION_OAUTH:
        values |= {"client_id": client_id, "redirect_uri": redirect_uri}
    config = json.dumps(values).encode()
    row = session.scalar(
        select(DataSourceCredential).where(
            DataSourceCredential.workspace_id == workspace.id, DataSourceCredential.provider == provider
        )
    )
    if row is None:
        row = DataSourceCredential(workspace_id=workspace.id, provider=provider)
        session.add(row)
    row.encrypted_config = fernet(get_settings(), PURPOSE).encrypt(config).decode()
    session.commit()
    return row


def list_credentials(session: Session, workspace: Workspace) -> list[dict]:
    rows = session.scalars(
        select(DataSourceCredential)
        .where(DataSourceCredential.workspace_id == workspace.id)
        .order_by(DataSourceCredential.provider)
    ).all()
    return [_describe(row) for row in rows]


def delete_credentials(session: Session, workspace: Workspace, provider: str) -> None:
    row = _row(session, workspace.id, _provider(provider))
    session.delete(row)
    session.commit()


def load_credentials(session: Session, workspace_id: str, provider: str) -> Credentials:
    """The credentials a crawl or sync needs; their absence is the caller's mistake (400)."""
    provider = _provider(provider)
    try:
        row = _row(session, workspace_id, provider)
    except NotFound as missing:
        raise InvalidParam(f"{missing.message} Save them with POST /v1/datasources first.") from None
    config = _decrypt(row)
    return Credentials(
        provider, config["api_key"], config["base_url"], config.get("client_id"), config.get("redirect_uri")
    )


def _describe(row: DataSourceCredential) -> dict:
    config = _decrypt(row)
    key = config["api_key"]
    extra = {name: config[name] for name in ("client_id", "redirect_uri") if name in config}
    return extra | {
        "provider": row.provider,
        "base_url": config["base_url"],
        "api_key": f"{key[:4]}...{key[-4:]}" if len(key) > 12 else "****",
        "created_at": unix_seconds(row.created_at),
        "updated_at": unix_seconds(row.updated_at),
    }


def _decrypt(row: DataSourceCredential) -> dict:
    try:
        return json.loads(fernet(get_settings(), PURPOSE).decrypt(row.encrypted_config.encode()))
    except InvalidToken:
        raise InvalidParam(
            f"The stored {row.provider} credentials cannot be decrypted (was SECRET_KEY changed?); "
            "save them again."
        ) from None


def _row(session: Session, workspace_id: str, provider: Provider) -> DataSourceCredential:
    row = session.scalar(
        select(DataSourceCredential).where(
            DataSourceCredential.workspace_id == workspace_id, DataSourceCredential.provider == provider
        )
    )
    if row is None:
        raise NotFound(f"No {provider} credentials are set for this workspace.")
    return row


def _provider(name: str) -> Provider:
    try:
        return Provider(name)
    except ValueError:
        raise InvalidParam(
            f"Unknown data source provider {name!r}; choose one of {', '.join(Provider)}."
        ) from None
