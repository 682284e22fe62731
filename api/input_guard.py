"""Text the database cannot store never reaches a handler: a NUL character in the query string, the
path or any string of a JSON body (PostgreSQL text refuses it) is a 400 invalid_param up front, so
no request half-applies and then fails in the database."""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from core.errors import InvalidParam

NUL_MESSAGE = "Text must not contain NUL (\\u0000) characters."


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def check_no_nul(value: Any) -> None:
    if has_nul(value):
        raise InvalidParam(NUL_MESSAGE)


class RejectNulCharacters:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            await _refuse(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if has_nul(_parsed(body)):
            await _refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None  # the route reports malformed JSON in its own words


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # e.g. the client disconnecting
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    await error_response("invalid_param", NUL_MESSAGE, 400)(scope, receive, send)
