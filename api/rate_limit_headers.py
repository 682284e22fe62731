"""RateLimit-Limit, -Remaining and -Reset on every response to a counted request, whatever kind of
response its handler returns (data, a Response of its own, a file, an error)."""

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.rate_limits.service import Admission

STATE_KEY = "rate_limit_headers"


def remember(request: Request, admission: Admission | None) -> None:
    """Called where a request is counted (None: limits are off): the headers its response will carry."""
    if admission is not None:
        request.scope.setdefault("state", {})[STATE_KEY] = admission.headers()


class RateLimitHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            headers = scope.get("state", {}).get(STATE_KEY)
            if message["type"] == "http.response.start" and headers:
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    if name not in response_headers:
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
