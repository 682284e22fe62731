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
