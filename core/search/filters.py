"""Metadata filtering (contract section 6) as SQL over the documents' metadata, so both search legs
receive the allowed documents before they search."""

from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true
from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.datasets.schemas import MetadataCondition, MetadataFilteringConditions
from core.documents.models import Document

NUMERIC = {"=": "__eq__", "≠": "__ne__", ">": "__gt__", "<": "__lt__", "≥": "__ge__", "≤": "__le__",
           "before": "__lt__", "after": "__gt__", ">=": "__ge__", "<=": "__le__", "!=": "__ne__"}  # fmt: skip


def allowed_document_ids(
    session: Session, dataset: Dataset, filtering: MetadataFilteringConditions | None
) -> list[str] | None:
    """None when nothing filters; else the ids of the documents that match (possibly none)."""
    clauses = [
        clause for c in (filtering.conditions if filtering else []) if (clause := _clause(c)) is not None
    ]
    if not clauses:
        return None
    combined = and_(*clauses) if filtering.logical_operator == "and" else or_(*clauses)
    return list(session.scalars(select(Document.id).where(Document.dataset_id == dataset.id, combined)).all())


def _clause(condition: MetadataCondition) -> ColumnElement | None:
    """The SQL of one condition; None for conditions Dify drops (null value, unknown operator)."""
    operator, value = condition.comparison_operator, condition.value
    field = Document.doc_metadata[condition.name]
    if operator == "empty":
        return or_(Document.doc_metadata.is_(None), field.as_string().is_(None))
    if operator == "not empty":
        return field.as_string().is_not(None)
    if value is None:
        return None
    if operator in ("in", "not in"):
        return _membership(field.as_string(), value, negate=operator == "not in")
    builder = _STRING.get(operator)
    if builder is not None and not (operator in ("is", "is not") and isinstance(value, int | float)):
        return builder(field.as_string(), str(value))
    if operator in ("is", "is not"):
        operator = "=" if operator == "is" else "≠"
    method = NUMERIC.get(operator)
    if method is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return false()
    return getattr(field.as_float(), method)(number)


def _membership(text: ColumnElement, value, *, negate: bool) -> ColumnElement:
    items = value if isinstance(value, list) else str(value).split(",")
    items = [item.strip() for item in map(str, items) if item.strip()]
    if not items:
        return true() if negate else false()
    return not_(text.in_(items)) if negate else text.in_(items)


_STRING: dict[str, Callable[[ColumnElement, str], ColumnElement]] = {
    "contains": lambda text, value: text.contains(value, autoescape=True),
    "not contains": lambda text, value: not_(text.contains(value, autoescape=True)),
    "start with": lambda text, value: text.startswith(value, autoescape=True),
    "end with": lambda text, value: text.endswith(value, autoescape=True),
    "is": lambda text, value: text == value,
    "is not": lambda text, value: text != value,
}
