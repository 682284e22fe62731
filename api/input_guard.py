"""Checks every request before a handler sees it.

A JSON body larger than JSON_BODY_LIMIT_MB is refused (413) while it streams in, never read whole
into memory. Text the database cannot store is refused too: a NUL character in the query string, the
path or any string of a JSON body (PostgreSQL text rejects it) is a 400 invalid_param up front, so no
request half-applies and then fails in the database. Uploads (multipart) have their own streaming
limit and check their `data` field with `check_no_nul`."""

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from core.errors import InvalidParam
from core.settings import get_settings

NUL_MESSAGE = "Text must not contain NUL (\\u0000) characters."


class BodyTooLarge(Exception):
    pass


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


class GuardRequestInput:
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
        limit = get_settings().json_body_limit_mb * 2**20
        try:
            body = await _read_body(receive, limit, _declared_length(scope))
        except BodyTooLarge:
            message = f"The request body is larger than the {get_settings().json_body_limit_mb} MB limit."
            await error_response("request_entity_too_large", message, 413)(scope, receive, send)
            return
        if has_nul(_parsed(body)):
            await _refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _declared_length(scope: Scope) -> int:
    declared = dict(scope["headers"]).get(b"content-length", b"")
    return int(declared) if declared.isdigit() else 0


async def _read_body(receive: Receive, limit: int, declared: int) -> bytes:
    if declared > limit:
        raise BodyTooLarge()
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
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


class CollapseSlashes:
    """`/v1//datasets` is `/v1/datasets`, as Dify's server takes it: clients join a base URL that ends
    in a slash with paths that start with one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": re.sub("/{2,}", "/", scope["path"])}
            if scope.get("raw_path"):
                scope["raw_path"] = re.sub(rb"/{2,}", b"/", scope["raw_path"])
        await self.app(scope, receive, send)
