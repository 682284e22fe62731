"""Every response carries `X-Request-Id`: the one a proxy sent, when it is a sane token, or a new one.
The id starts the request's log context (see core.logs), and with `KB_ACCESS_LOG` each request ends
with one line: method, route, status and milliseconds."""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_template
from core import logs, tracing
from core.settings import get_settings

HEADER = "X-Request-Id"
# What a proxy's id may look like (uuids, hex, Heroku's and Envoy's forms); anything else is replaced.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_logger = logging.getLogger("kb.access")


class RequestIds:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        sent = headers.get(HEADER, "")
        request_id = sent if ACCEPTED.fullmatch(sent) else uuid.uuid4().hex
        logs.new_scope(request_id=request_id)
        started, status = time.perf_counter(), 500
        token = tracing.attach({"traceparent": headers.get("traceparent", "")})  # a caller's trace goes on

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            with tracing.span(scope["method"], {"request_id": request_id}, server=True) as span:
                await self.app(scope, receive, send_with_id)
                if span is not None:
                    route = route_template(scope)
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attributes({"http.request.method": scope["method"], "http.route": route,
                                         "http.response.status_code": status})  # fmt: skip
        finally:
            tracing.detach(token)
            if get_settings().kb_access_log:
                access_logger.info(
                    "%s %s %s", scope["method"], scope["path"], status,
                    extra={"method": scope["method"], "path": route_template(scope), "status": status,
                           "ms": round((time.perf_counter() - started) * 1000, 1)},
                )  # fmt: skip
