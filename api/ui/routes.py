"""Routes of the admin UI: its pages, sign-in and sign-out, and the workspace's API keys."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.deps import SESSION_COOKIE, CallerDep, SessionDep, WorkspaceCallerDep
from core.api_keys import service as api_keys
from core.api_keys import sessions
from core.database import unix_seconds
from core.errors import InvalidParam, NotFound, Unauthorized

STATIC_DIR = Path(__file__).parent / "static"
# Only our own files run on these pages; no inline script, no framing, no outside requests.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix="/ui", include_in_schema=False)


class SignInBody(BaseModel):
    api_key: str = Field(min_length=1, max_length=200)


def _require_json(request: Request) -> None:
    """Sign-in takes JSON only: a cross-site form cannot send it, so no page can sign a visitor in."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidParam("Sign-in expects a JSON body.")


def _session_view(caller, csrf_token: str) -> dict:
    return {"workspace": {"id": caller.workspace.id, "name": caller.workspace.name}, "csrf_token": csrf_token}


@router.post("/api/session", dependencies=[Depends(_require_json)])
def sign_in(body: SignInBody, request: Request, response: Response, session: SessionDep) -> dict:
    signed_in = sessions.sign_in(session, body.api_key.strip())
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=signed_in.max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return _session_view(signed_in.caller, signed_in.csrf_token)


@router.get("/api/session")
def current_session(request: Request, session: SessionDep) -> dict:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized(sessions.SIGNED_OUT)
    caller, csrf_token = sessions.session_caller(session, token)
    return _session_view(caller, csrf_token)


@router.delete("/api/session", status_code=204)
def sign_out(request: Request, _caller: CallerDep, session: SessionDep) -> Response:
    """The CSRF token is checked by the caller dependency like any other state change."""
    sessions.sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/keys")
def list_api_keys(caller: WorkspaceCallerDep, session: SessionDep) -> dict:
    keys = api_keys.list_keys(session, caller.workspace)
    return {
        "data": [
            {
                "id": key.id,
                "token": key.masked_token,
                "created_at": unix_seconds(key.created_at),
                "last_used_at": unix_seconds(key.last_used_at),
                "revoked_at": unix_seconds(key.revoked_at),
                "current": key.id == caller.api_key_id,
                "dataset_ids": key.dataset_ids,
            }
            for key in keys
        ]
    }


class NewKeyBody(BaseModel):
    dataset_ids: list[Annotated[str, Field(max_length=36)]] | None = Field(default=None, max_length=1000)


@router.post("/api/keys", status_code=201)
def create_api_key(caller: WorkspaceCallerDep, session: SessionDep, body: NewKeyBody | None = None) -> dict:
    """A new key of the workspace; with `dataset_ids`, one that reaches those datasets only."""
    scope = body.dataset_ids if body else None
    return {"token": api_keys.create_key(session, caller.workspace, scope)}


@router.delete("/api/keys/{key_id}", status_code=204)
def revoke_api_key(
    key_id: Annotated[str, Field(max_length=36)], caller: WorkspaceCallerDep, session: SessionDep
):
    api_keys.revoke_key(session, key_id, caller.workspace.id)
    return Response(status_code=204)


def _page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/")
def index() -> FileResponse:
    return _page()


@router.get("/{path:path}")
def page(path: str) -> FileResponse:
    """Every page path is the one-page app; it routes on the client."""
    if path.startswith("api/"):
        raise NotFound()
    return _page()


def install_ui(app: FastAPI) -> None:
    app.mount("/ui/assets", StaticFiles(directory=STATIC_DIR / "assets"), name="ui-assets")
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)
