"""docs/configuration.md, written from the settings class (each setting's meaning lives beside it in
`core/settings.py`) and the few variables read outside it:

    python -m core.configuration > docs/configuration.md

A test compares the file with this output, so the reference cannot fall behind the code.
"""

from pathlib import Path

from core.settings import EXTRACTION, LIMITS, MODELS, OPERATIONS, STORAGE, Settings

# Variables read before the settings object exists, or by the libraries themselves.
OUTSIDE_SETTINGS = [
    (OPERATIONS, "KB_HOST`, `KB_PORT", "`127.0.0.1`, `5001`",
     "where `kb serve` listens when `--host` / `--port` are not given (`make run HOST=… PORT=…` passes "
     "them)"),
    (OPERATIONS, "OTEL_EXPORTER_OTLP_ENDPOINT", "unset: no tracing",
     "an OpenTelemetry collector's OTLP/HTTP address (e.g. `http://otel-collector:4318`): traces go to "
     "`…/v1/traces` (see docs/operations.md); `OTEL_EXPORTER_OTLP_HEADERS` and "
     "`OTEL_EXPORTER_OTLP_TIMEOUT` apply as OpenTelemetry defines them"),
    (OPERATIONS, "OTEL_SERVICE_NAME", "`kb-service`", "the traces' `service.name`"),
    (OPERATIONS, "PROMETHEUS_MULTIPROC_DIR", "`$KB_DATA_DIR/metrics` with `kb serve --workers N` (N > 1)",
     "where several API processes share their metrics (see docs/operations.md)"),
    (MODELS, "OMP_WAIT_POLICY", "`PASSIVE` (set by `kb` unless given)",
     "OpenMP threads of the model sleep when idle instead of spinning on cores the API and the indexing "
     "code need"),
    (OPERATIONS, "KB_MCP_URL", "`http://127.0.0.1:5001/mcp`",
     "`kb mcp` only: the running service's MCP endpoint it relays stdio clients to"),
    (OPERATIONS, "KB_API_KEY", "unset", "`kb mcp` only: the key it relays with (required)"),
    (OPERATIONS, "TORCH_CPU_INDEX", "`https://download.pytorch.org/whl/cpu`",
     "`make install` only: where torch's CPU build comes from when the configured package index would "
     "install the CUDA build"),
]  # fmt: skip
SECTIONS = (STORAGE, MODELS, EXTRACTION, LIMITS, OPERATIONS)


def render() -> str:
    rows: dict[str, list[str]] = {section: [] for section in SECTIONS}
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        assert isinstance(extra, dict) and field.description, f"{name} needs setting(..., meaning, section)"
        shown = extra.get("shown_default") or _shown(field.default)
        rows[str(extra["section"])].append(_row(name.upper(), str(shown), field.description))
    for section, name, shown, meaning in OUTSIDE_SETTINGS:
        rows[section].append(_row(name, shown, meaning))
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable, also read from an optional `.env` file in the working",
        "directory. Leaving `DATABASE_URL`, `REDIS_URL` and `QDRANT_URL` unset runs the embedded default:",
        "SQLite, Qdrant Edge in-process and the worker inside `kb serve`. This file is generated from",
        "`core/settings.py` (`python -m core.configuration > docs/configuration.md`).",
    ]
    for section in SECTIONS:
        lines += ["", f"## {section}", "", "| variable | default | meaning |", "|---|---|---|"]
        lines += rows[section]
    return "\n".join(lines) + "\n"


def _row(name: str, shown: str, meaning: str) -> str:
    return f"| `{name}` | {shown} | {meaning} |"


def _shown(default: object) -> str:
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Path):
        return f"`./{default}`"
    return f"`{default}`"


if __name__ == "__main__":
    print(render(), end="")
