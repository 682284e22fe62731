"""The API's documentation, complete offline: Swagger UI 5 served from the installed `swagger-ui-py`
package (no CDN), a bearer security scheme so "Authorize" works, and the error answers the service
really gives (in its `{code, message, status}` envelope) instead of FastAPI's 422, which it never sends."""

from pathlib import Path

import swagger_ui
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/docs/assets"
SWAGGER_UI_FILES = Path(swagger_ui.__file__).parent / "static"  # Swagger UI 5: reads OpenAPI 3.1
ENVELOPE = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["code", "message", "status"],
}
EXTERNAL_ENVELOPE = {
    "type": "object",
    "properties": {"error_code": {"type": "integer"}, "error_msg": {"type": "string"}},
    "required": ["error_code", "error_msg"],
}
ERRORS = {
    "400": "invalid_param (or another 400 code): a value is missing, malformed or out of range",
    "401": "unauthorized: no key, a malformed Authorization header, or a key that is not valid",
    "403": "forbidden: the workspace's knowledge request rate limit (with Retry-After), a dataset-scoped "
    "key changing the workspace, or archived_document_immutable",
    "404": "not_found: the dataset, document, segment or other id does not exist in the caller's workspace",
    "503": "service_unavailable: the database, Redis or the search engine is unreachable (with Retry-After)",
}
TOO_LARGE = (
    "request_entity_too_large: a body over JSON_BODY_LIMIT_MB; file_too_large: an upload or a document's "
    "text over UPLOAD_FILE_SIZE_LIMIT"
)
FULL = "insufficient_storage: the data directory is full; nothing half-written is kept"
UNSUPPORTED = "unsupported_file_type: a file type the service does not read"
DOCUMENT = "/v1/datasets/{dataset_id}/documents/{document_id}"
# Errors only some routes give, by (method, path).
ROUTE_ERRORS = {
    ("post", "/v1/datasets"): {"409": "dataset_name_duplicate: the workspace has a dataset of this name"},
    ("delete", "/v1/datasets/{dataset_id}"): {
        "409": "dataset_indexing_in_progress: documents of the dataset are being indexed"
    },
    ("post", "/v1/datasets/{dataset_id}/document/create-by-text"): {"507": FULL},
    ("post", "/v1/datasets/{dataset_id}/document/create-by-file"): {"507": FULL},
    ("post", f"{DOCUMENT}/update-by-text"): {"507": FULL},
    ("patch", DOCUMENT): {"415": UNSUPPORTED, "507": FULL},
    ("post", f"{DOCUMENT}/update-by-file"): {"415": UNSUPPORTED, "507": FULL},
    ("post", "/v1/datasets/pipeline/file-upload"): {"415": UNSUPPORTED, "507": FULL},
    ("post", "/v1/datasets/{dataset_id}/pipeline/run"): {
        "500": "pipeline_run_error: a Notion import of the run failed or did not finish in time",
        "507": FULL,
    },
    ("post", "/v1/datasets/{dataset_id}/website/import"): {"507": FULL},
}
EXTERNAL_ERRORS = {
    "400": "4001: the body is not valid",
    "403": "1001 malformed Authorization header, 1002 a key that is not valid, 3001 the rate limit",
    "404": "2001: the knowledge base does not exist",
}


def install_docs(app: FastAPI) -> None:
    app.mount(DOCS_ASSETS, StaticFiles(directory=SWAGGER_UI_FILES), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    app.openapi = lambda: _document(app)  # type: ignore[method-assign]  # FastAPI's documented override


def _document(app: FastAPI) -> dict:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A workspace API key (`ds-…`), from `kb keys create` or the admin UI",
        }
        components.setdefault("schemas", {}).update(Error=ENVELOPE, ExternalError=EXTERNAL_ENVELOPE)
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        _hoist_local_definitions(schema, components["schemas"])
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                _describe_errors(path, method, operation)
        app.openapi_schema = schema
    return app.openapi_schema


def _hoist_local_definitions(document: dict, schemas: dict) -> None:
    """Bodies described by a model's own JSON schema (routes that take JSON or multipart) carry their
    nested models under a local `$defs`, which means nothing once the schema sits inside the OpenAPI
    document: the definitions move to the components and their references follow."""
    found: dict = {}

    def collect(node: dict) -> None:
        if "$defs" in node:
            definitions = node.pop("$defs")
            found.update(definitions)
            for definition in definitions.values():
                _walk(definition, collect)

    _walk(document, collect)
    for name, definition in found.items():
        schemas.setdefault(name, definition)

    def repoint(node: dict) -> None:
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + reference.removeprefix("#/$defs/")

    _walk(document, repoint)


def _walk(node, visit) -> None:
    """Calls `visit` on every object of a JSON document, parents before their children."""
    if isinstance(node, dict):
        visit(node)
        for value in list(node.values()):
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def _describe_errors(path: str, method: str, operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if not path.startswith(("/v1/", "/retrieval")):
        return  # liveness and the signed file links take no key
    operation["security"] = [{"bearer": []}]
    if path == "/retrieval":
        errors, schema = EXTERNAL_ERRORS, "ExternalError"
    else:
        errors, schema = dict(ERRORS), "Error"
        if "requestBody" in operation:
            errors["413"] = TOO_LARGE
        errors |= ROUTE_ERRORS.get((method, path), {})
    for status, description in errors.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            },
        )
