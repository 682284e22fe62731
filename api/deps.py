"""FastAPI dependencies, as `Annotated` aliases so route signatures read like the API they serve."""

import json
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.errors import INVALID_JSON, validation_message
from api.rate_limit_headers import remember
from core import logs
from core.api_keys import service as api_keys
from core.api_keys import sessions
from core.api_keys.service import Caller
from core.database import open_session
from core.datasets import service as datasets
from core.datasets.models import Dataset
from core.errors import InvalidParam, NotFound, Unauthorized
from core.rate_limits import service as rate_limits
from core.settings import get_settings

T = TypeVar("T")
Model = TypeVar("Model", bound=BaseModel)


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


# The search routes: each sync dependency above costs a hand-off to a worker thread and back, which
# took a fifth of a hit-testing request's processor time (a hybrid search included). These routes
# resolve the same dependencies, in the same order, in the one thread that does their work.


async def route_json(request: Request) -> Any:
    """The body as FastAPI reads a route's JSON body, for `validated` to check after the key:
    parsed when sent as JSON or with no type (malformed JSON is refused at once, as FastAPI does), the
    bytes otherwise (which `validated` refuses as not JSON), None when empty."""
    body = await request.body()
    if not body:
        return None
    if not _sent_as_json(request.headers.get("content-type")):
        return body
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidParam(INVALID_JSON) from None


def _sent_as_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


RouteJson = Annotated[Any, Depends(route_json)]


def validated(model: type[Model], data: Any) -> Model:
    """A JSON body (or a form's fields) as `model`, for routes that validate it themselves (after the
    key, or beside an upload): InvalidParam with the message FastAPI's own validation gives."""
    if not isinstance(data, dict):
        raise InvalidParam(INVALID_JSON)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidParam(validation_message(error.errors())) from None


async def with_session(work: Callable[[Session], T]) -> T:
    """`work` with a session of its own, in one worker thread."""

    def in_thread() -> T:
        with open_session() as session:  # closed on the way out, as get_session closes it
            return work(session)

    return await run_in_threadpool(in_thread)


async def on_dataset(
    request: Request, dataset_id: str, work: Callable[[Session, Caller, Dataset], T], *, counted: bool
) -> T:
    """`work` with the session, the caller and the dataset, in one worker thread: the key is checked,
    then the knowledge request counted (when `counted`), then the dataset looked up, as the
    dependencies of other routes do."""

    def resolved(session: Session) -> T:
        caller = get_caller(request, session)
        if counted:
            count_knowledge_request(request, caller, session)
        return work(session, caller, get_dataset(dataset_id, request, caller, session))

    return await with_session(resolved)
