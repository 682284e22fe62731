"""Logging for every process: `LOG_FORMAT=text` (the default) or `json` (one object per line), at
`LOG_LEVEL`, on standard error.

What a line is about rides along in a context variable: the request id (taken from the request's
`X-Request-Id` or made up, and carried to the worker in the task's headers), and the workspace, dataset
and document being worked on. A filter copies them onto every record, so code logs plain messages.
"""

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from core.settings import Settings

FIELDS = ("request_id", "workspace_id", "dataset_id", "document_id")
# One mutable scope per request or task: a request's dependencies and handler run on pool threads
# with copies of its context, and a copy still holds the same dict, so what they bind is seen by the
# lines logged afterwards anywhere in the request.
_SCOPE: ContextVar[dict[str, str] | None] = ContextVar("log_scope", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that narrate a healthy start line by line (migrations and plugins set up, the queue and
# its scheduler connected, our own readiness probe): their details are DEBUG lines here, so a start
# says only what a person needs. Their warnings and errors still show.
NARRATING_LIBRARIES = ("alembic", "celery", "kombu", "httpx", "mcp")
# What every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", *FIELDS}


def new_scope(**values: str | None) -> None:
    """Starts the context of a request or task."""
    _SCOPE.set({name: value for name, value in values.items() if value})


def bind(**values: str | None) -> None:
    """Adds to the current request's or task's context."""
    scope = _SCOPE.get()
    if scope is None:
        new_scope(**values)
    else:
        scope.update({name: value for name, value in values.items() if value})


@contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Context for the lines logged inside the block only."""
    token = _SCOPE.set({**(_SCOPE.get() or {}), **{name: value for name, value in values.items() if value}})
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current(name: str) -> str | None:
    return (_SCOPE.get() or {}).get(name)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        scope = _SCOPE.get() or {}
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, scope.get(name))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line |= {name: getattr(record, name) for name in FIELDS if getattr(record, name, None)}
        line |= {key: value for key, value in vars(record).items() if key not in _STANDARD}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger; uvicorn's and Celery's loggers propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    for name in NARRATING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("kombu.connection").addFilter(_no_default_host_notice)


def _no_default_host_notice(record: logging.LogRecord) -> bool:
    """The embedded worker's in-memory queue has no host by design; kombu warns of it at every start
    and with every task sent."""
    return not record.getMessage().startswith("No hostname was supplied")
