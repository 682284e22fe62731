"""Request metrics for every route, by its template (`/v1/datasets/{dataset_id}`, never the ids), and
the `/metrics` endpoint Prometheus scrapes."""

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics


class RequestMetrics:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path template, with the prefix of the router it was included under (the
    route knows its own path only: the prefix is what the request path has before it)."""
    route = scope.get("route")
    if route is None or not hasattr(route, "path_format"):
        return "unmatched"
    try:
        concrete = route.path_format.format(**scope.get("path_params", {}))
    except (KeyError, IndexError):
        return route.path
    path = scope["path"]
    return (path[: -len(concrete)] if concrete and path.endswith(concrete) else "") + route.path


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)

    @app.get("/metrics", include_in_schema=False)
    def scrape() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
