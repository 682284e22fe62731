"""The API reference (docs/api.md) is the service's own OpenAPI document in Markdown: current, and
describing every operation."""

from pathlib import Path

from api.app import create_app
from api.reference import render

REFERENCE = Path(__file__).parents[3] / "docs" / "api.md"


def test_every_operation_is_described():
    paths = create_app().openapi()["paths"]
    undescribed = [(method.upper(), path) for path, operations in paths.items()
                   for method, operation in operations.items()
                   if len(operation.get("description", "")) < 40]  # fmt: skip
    assert undescribed == []


def test_the_reference_is_current():
    expected = render(create_app().openapi())
    assert REFERENCE.read_text() == expected, "run: python -m api.reference > docs/api.md"
    for path in create_app().openapi()["paths"]:
        assert f" {path}`" in expected


def test_every_reference_in_the_openapi_document_resolves():
    document = create_app().openapi()
    references: list[str] = []

    def collect(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                references.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    unresolved = []
    for reference in set(references):
        target = document
        for part in reference.removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not reference.startswith("#/") or target is None:
            unresolved.append(reference)
    assert len(references) > 50 and unresolved == []
