"""OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (then sent over OTLP/HTTP,
as the OpenTelemetry environment variables configure the exporter: endpoint, headers, timeout).

Spans: each API request (continuing a caller's W3C `traceparent`), a search and each of its stages
(query embedding, vector search, keyword search, fusion, rerank), and an indexing run's stages per
document (extract and chunk, embed batches, go live). An indexing task carries the trace of the request
that queued it in its headers, so a document's indexing shows in the trace of its upload. Off, `span`
costs one attribute check.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "kb-service")
_tracer = None  # the tracer while tracing is on
_provider = None


def configure_tracing(endpoint: str | None = None) -> bool:
    """Starts exporting when an OTLP endpoint is configured; True when tracing is on."""
    global _tracer, _provider
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry is not installed: "
            "pip install 'kb-service[otel]'"
        ) from None

    shutdown_tracing()
    _provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    _provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    )
    _tracer = _provider.get_tracer("kb")
    return True


def shutdown_tracing() -> None:
    """Sends what is buffered and stops."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def span(name: str, attributes: Mapping[str, Any] | None = None, *, server: bool = False):
    """A span around the block while tracing is on; nothing otherwise."""
    if _tracer is None:
        return nullcontext()
    return _span(name, attributes, server)


@contextmanager
def _span(name: str, attributes: Mapping[str, Any] | None, server: bool) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind

    kind = SpanKind.SERVER if server else SpanKind.INTERNAL
    clean = {key: value for key, value in (attributes or {}).items() if value is not None}
    tracer: Any = _tracer  # set whenever spans are on (see `span`)
    with tracer.start_as_current_span(name, kind=kind, attributes=clean) as current:
        yield current


def attach(carrier: Mapping[str, str]) -> object | None:
    """Makes the trace a `traceparent` in `carrier` names (a request's, a task's) the current one,
    until `detach` with the returned token."""
    if _tracer is None or not carrier.get("traceparent"):
        return None
    from opentelemetry import context
    from opentelemetry.propagate import extract

    return context.attach(extract(dict(carrier)))


def detach(token: object | None) -> None:
    if token is not None:
        from opentelemetry import context

        context.detach(token)  # type: ignore[arg-type]  # the token `attach` gave


def current_carrier() -> dict[str, str]:
    """The current trace as headers (`traceparent`) for work handed to another process."""
    if _tracer is None:
        return {}
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier
