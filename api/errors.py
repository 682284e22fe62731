"""Every error leaves the API in Dify's envelope `{"code", "message", "status"}`, never as HTML."""

import errno
import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import logs
from core.errors import UNREACHABLE, ServiceError, StorageFull

logger = logging.getLogger(__name__)

INVALID_JSON = "Invalid JSON payload received or JSON payload is empty."
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
# Werkzeug's descriptions, which Dify returns for routing errors.
HTTP_MESSAGES = {
    404: "The requested URL was not found on the server. "
    "If you entered the URL manually please check your spelling and try again.",
    405: "The method is not allowed for the requested URL.",
    500: "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application.",
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    500: "internal_server_error",
    503: "service_unavailable",
    507: "insufficient_storage",
}


def error_response(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "status": status}, status_code=status, headers=headers
    )


def _service_error(_request: Request, error: ServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="api"'} if error.status == 401 else error.headers
    return error_response(error.code, error.message, error.status, headers)


def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    if error.status_code == 400 and error.detail == FASTAPI_BODY_PARSE_ERROR:  # e.g. invalid UTF-8
        return error_response("invalid_param", INVALID_JSON, 400)
    code = HTTP_CODES.get(error.status_code, _snake_case(type(error).__name__))
    message = (
        HTTP_MESSAGES.get(error.status_code)
        if error.detail in (None, "Not Found", "Method Not Allowed")
        else None
    )
    return error_response(
        code, message or str(error.detail), error.status_code, getattr(error, "headers", None)
    )


def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    return error_response("invalid_param", validation_message(error.errors(), from_request=True), 400)


def _unhandled_error(_request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=error)
    # Answered outside the middlewares (Starlette's last resort), so the request id is added here.
    request_id = logs.current("request_id")
    headers = {"X-Request-Id": request_id} if request_id else None
    return error_response("internal_server_error", HTTP_MESSAGES[500], 500, headers)


REQUEST_PARTS = ("body", "query", "path", "header", "cookie")
# A body that is text, a form or a JSON array where the route takes a JSON object.
NOT_AN_OBJECT = ("model_attributes_type", "dict_type", "model_type")


def validation_message(errors: Sequence[Any], *, from_request: bool = False) -> str:
    """One readable sentence from pydantic's errors, like the ValueError text Dify returns, naming the
    field. FastAPI's errors (`from_request`) start their location with the request part (body, query,
    ...), which is dropped; a field that happens to be named `query` stays."""
    first = errors[0] if errors else {}
    kind = first.get("type", "")
    loc = tuple(first.get("loc", ()))
    if from_request and loc and loc[0] in REQUEST_PARTS:
        loc = loc[1:]
    location = [str(part) for part in loc]
    whole_body = from_request and first.get("loc") == ("body",)
    if kind == "json_invalid" or (whole_body and kind in ("missing", *NOT_AN_OBJECT)):
        return INVALID_JSON
    message = str(first.get("msg", "Invalid parameter."))
    message = message.removeprefix("Value error, ")
    if kind.startswith("value_error") or not location:
        return message
    return f"{'.'.join(location)}: {message}"


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# A dependency that cannot be reached (core.errors.UNREACHABLE) is the caller's to retry, not a fault
# of the request: 503 with Retry-After. Handled by class (not as the catch-all 500), so the connection
# stays usable after it.
RETRY_AFTER_SECONDS = "5"


def _unreachable(name: str):
    def handler(_request: Request, error: Exception) -> JSONResponse:
        if "disk is full" in str(error):  # SQLite's words for a full data directory
            return _storage_full(error)
        logger.warning("the %s is unreachable: %s", name, error)
        message = f"The {name} is unreachable at the moment; nothing was changed. Please retry shortly."
        return error_response("service_unavailable", message, 503, {"Retry-After": RETRY_AFTER_SECONDS})

    return handler


def _os_error(request: Request, error: OSError) -> JSONResponse:
    if error.errno == errno.ENOSPC:
        return _storage_full(error)
    return _unhandled_error(request, error)


def _storage_full(error: Exception) -> JSONResponse:
    logger.error("the data directory is full: %s", error)
    full = StorageFull()
    return error_response(full.code, full.message, full.status)


def install_error_handlers(app: FastAPI) -> None:
    # Starlette types a handler as taking any Exception; each of these takes the class it is installed for.
    handle: Any = app.add_exception_handler
    for name, classes in UNREACHABLE.items():
        for error_class in classes:
            handle(error_class, _unreachable(name))
    handle(OSError, _os_error)
    handle(ServiceError, _service_error)
    handle(StarletteHTTPException, _http_error)
    handle(RequestValidationError, _validation_error)
    handle(Exception, _unhandled_error)
