"""Checks every request before a handler sees it.

A JSON body larger than JSON_BODY_LIMIT_MB is refused (413) while it streams in, never read whole
into memory. A JSON body the service could not take safely is a 400 invalid_param up front, so no
request half-applies and then fails deeper down: nesting deeper than MAX_JSON_DEPTH (validation and
the database's JSON would recurse into it), and text the database cannot store, that is a NUL
character (PostgreSQL text rejects it, also in the query string and the path) or half of a UTF-16
surrogate pair (no UTF-8 encoding exists for it). Uploads (multipart) have their own streaming limit
and check their `data` field with `check_json_text`."""

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from core.errors import InvalidParam
from core.settings import get_settings

NUL_MESSAGE = "Text must not contain NUL (\\u0000) characters."
# Far deeper than any body of the API (a metadata filter is four levels), far below Python's recursion.
MAX_JSON_DEPTH = 32
TOO_DEEP_MESSAGE = f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."


class BodyTooLarge(Exception):
    pass


def json_text_problem(value: Any) -> str | None:
    """Why a parsed JSON value cannot be taken (too deep, a NUL, a lone surrogate), or None. Walks
    with a stack of its own, so a deep value cannot exhaust Python's recursion."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return TOO_DEEP_MESSAGE
        if isinstance(item, str):
            problem = _string_problem(item, path)
            if problem:
                return problem
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = _string_problem(key, path)
                if problem:
                    return problem
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]", depth + 1) for index, child in enumerate(item))
    return None


def _string_problem(text: str, path: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return (
            f"{path or 'The body'} is not valid text: it holds half of a UTF-16 surrogate pair "
            "(\\ud800-\\udfff without its other half)."
        )
    return None


def check_json_text(value: Any) -> None:
    if problem := json_text_problem(value):
        raise InvalidParam(problem)


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
        try:
            problem = json_text_problem(_parsed(body))
        except RecursionError:  # deeper than the JSON parser itself goes
            problem = TOO_DEEP_MESSAGE
        if problem:
            await error_response("invalid_param", problem, 400)(scope, receive, send)
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
