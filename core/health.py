"""Readiness: whether each dependency the service needs answers now (liveness stays `/health`)."""

from collections.abc import Callable

import redis
from sqlalchemy import text

from core.database import get_engine
from core.index.engines import get_embedder, get_vector_store
from core.settings import Settings

MAX_REASON = 200


def _database(_settings: Settings) -> None:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis(settings: Settings) -> None:
    redis.Redis.from_url(settings.redis_url or "", socket_timeout=2, socket_connect_timeout=2).ping()


def _search_engine(_settings: Settings) -> None:
    get_vector_store().collection_names()


def _embedding_model(settings: Settings) -> None:
    get_embedder(settings.embedding_provider, settings.embedding_model)  # loaded once, at start


def check_readiness(settings: Settings) -> dict[str, str]:
    """`ok`, or `down: <reason>`, for the database, Redis (server mode), the search engine and the
    default embedding model."""
    checks: dict[str, Callable[[Settings], None]] = {"database": _database}
    if settings.redis_url:
        checks["redis"] = _redis
    checks |= {"search_engine": _search_engine, "embedding_model": _embedding_model}
    results = {}
    for name, check in checks.items():
        try:
            check(settings)
            results[name] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means the dependency is not ready
            results[name] = f"down: {str(error) or type(error).__name__}"[:MAX_REASON]
    return results
