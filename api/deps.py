"""FastAPI dependencies, as `Annotated` aliases so route signatures read like the API they serve."""

import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.rate_limit_headers import remember
from core import logs
from core.api_keys import service as api_keys
from core.api_keys import sessions
from core.api_keys.service import Caller
from core.database import open_session
from core.datasets import service as datasets
from core.datasets.models import Dataset
from core.errors import NotFound, Unauthorized
from core.rate_limits import service as rate_limits
from core.settings import get_settings


def get_session() -> Iterator[Session]:
    session = open_session()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def json_body(request: Request) -> Any:
    """The body parsed as JSON but not validated (None when it is not JSON), for routes that validate
    by hand: after the key (external retrieval) or beside a multipart form (the chunk preview)."""
    try:
        return json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def bearer_token(request: Request) -> str:
    return bearer_token_of(request.headers.get("Authorization"))


def bearer_token_of(header: str | None) -> str:
    """The key of an `Authorization: Bearer ...` header, or Unauthorized saying what is wrong with it."""
    if not header or " " not in header:
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, token = header.split(None, 1)
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization scheme must be 'Bearer'")
    return token.strip()


def public_base_url(request: Request) -> str:
    """Where callers reach the service, for the links it hands out: FILES_URL, else the URL the
    request came to."""
    return get_settings().files_url or str(request.base_url)


SESSION_COOKIE = "kb_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_caller(request: Request, session: SessionDep) -> Caller:
    """A bearer key, or else the admin UI's session cookie (whose state-changing requests must carry
    the session's CSRF token): either way the caller is the key's workspace."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and "Authorization" not in request.headers:
        caller = sessions.authenticate_session(
            session, cookie, request.headers.get(CSRF_HEADER), safe=request.method in SAFE_METHODS
        )
    else:
        caller = api_keys.authenticate(session, bearer_token(request))
    logs.bind(workspace_id=caller.workspace.id)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def whole_workspace_caller(caller: CallerDep) -> Caller:
    """Routes that act on the workspace itself (credentials, keys) refuse a dataset-scoped key."""
    caller.require_whole_workspace()
    return caller


WorkspaceCallerDep = Annotated[Caller, Depends(whole_workspace_caller)]


def count_knowledge_request(request: Request, caller: CallerDep, session: SessionDep) -> None:
    """After authentication and before anything else, as Dify orders its checks."""
    remember(request, rate_limits.check_knowledge_request(session, caller.workspace))


# Route dependency of the operations the knowledge request limit counts.
KNOWLEDGE_REQUEST = Depends(count_knowledge_request)


def parse_uuid(value: str) -> str:
    """Dify types path ids as UUIDs: any other segment is a routing miss (plain 404)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound() from None


def get_dataset(dataset_id: str, request: Request, caller: CallerDep, session: SessionDep) -> Dataset:
    dataset = datasets.get_dataset(session, caller, parse_uuid(dataset_id))
    document_id = request.path_params.get("document_id")
    logs.bind(dataset_id=dataset.id, document_id=document_id[:64] if document_id else None)
    return dataset


DatasetDep = Annotated[Dataset, Depends(get_dataset)]
