"""The FastAPI application: Dify's Knowledge API under /v1."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Route

from api.admission import Admission
from api.errors import install_error_handlers
from api.input_guard import CollapseSlashes, GuardRequestInput
from api.mcp_server import PATH as MCP_PATH
from api.mcp_server import McpEndpoint
from api.metrics import install_metrics
from api.openapi import install_docs
from api.rate_limit_headers import RateLimitHeaders
from api.request_ids import RequestIds
from api.routers import (
    datasets,
    datasources,
    documents,
    external,
    files,
    metadata,
    models,
    online_sources,
    pipeline,
    retrieval,
    segments,
    tags,
)
from api.ui.routes import install_ui
from core.health import check_readiness
from core.logs import configure_logging
from core.settings import get_settings
from core.tracing import configure_tracing


def create_served_app() -> FastAPI:
    """The factory `kb serve --workers N` gives uvicorn: each API process logs as LOG_FORMAT says."""
    configure_logging(get_settings())
    configure_tracing()
    return create_app()


def create_app() -> FastAPI:
    mcp = McpEndpoint()
    app = FastAPI(
        lifespan=lambda _app: mcp.running(),
        title="Knowledge-base service",
        version="0.1.0",
        description="Dify-compatible Knowledge (datasets) API with hybrid retrieval.",
        docs_url=None,  # served by install_docs from the installed Swagger UI, offline
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    install_metrics(app)  # its middleware first, so the innermost: it sees the route the router chose
    app.add_middleware(GuardRequestInput)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(CollapseSlashes)
    app.add_middleware(Admission, limit=get_settings().api_concurrency)
    app.add_middleware(RequestIds)  # outermost: every answer carries the id, errors included
    # Tag and pipeline-upload routes first: `/datasets/tags` must not be taken for a dataset id.
    for router in (tags.router, metadata.legacy_router, pipeline.router, datasets.router, documents.router,
                   segments.router, metadata.router, retrieval.router, retrieval.multi_router, models.router,
                   online_sources.router, datasources.router):  # fmt: skip
        app.include_router(router, prefix="/v1")

    app.include_router(external.router)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp.app, methods=["GET", "POST", "DELETE"]))
    app.include_router(files.router)
    install_ui(app)
    install_docs(app)

    @app.get("/health", tags=["health"])
    def health() -> dict:
        """Liveness: the process answers; it checks nothing else (see `/health/ready`). No key needed."""
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    def readiness() -> JSONResponse:
        """Readiness: 200 when the database, Redis (server mode), the search engine and the embedding
        model all answer; else 503 naming each that does not."""
        checks = check_readiness(get_settings())
        ready = all(state == "ok" for state in checks.values())
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return JSONResponse(
            body, status_code=200 if ready else 503, headers=None if ready else {"Retry-After": "5"}
        )

    return app
