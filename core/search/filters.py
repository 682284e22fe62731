"""Metadata filtering, evaluated by the search engine over the metadata its points
carry (`retrieval.conditions`), so a filter is a payload-index lookup inside each leg's search.

Each condition has two equivalent forms: the engine's and SQL over `documents.doc_metadata`. SQL
serves what the engine cannot express (`end with`: the engine's keyword index matches prefixes and
substrings only), resolved to the matching documents' ids, and the documents whose points' metadata
is being rewritten (`metadata_stale`: a change is committed, the engine not yet told), whose match
is taken from the database, which is the truth.
"""

from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true
from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.documents.models import Document
from core.search.schemas import MetadataCondition, MetadataFilteringConditions
from retrieval.conditions import (
    Condition,
    Restriction,
    documents_condition,
    keyword_key,
    number_key,
    only_documents,
)

NUMERIC = {"=": "__eq__", "≠": "__ne__", ">": "__gt__", "<": "__lt__", "≥": "__ge__", "≤": "__le__",
           "before": "__lt__", "after": "__gt__", ">=": "__ge__", "<=": "__le__", "!=": "__ne__"}  # fmt: skip


# A filter no document can pass: the search is not run at all.
MATCHES_NOTHING = only_documents([])
_TRUE, _FALSE = object(), object()  # an engine condition that every point, or none, passes


def metadata_restriction(
    session: Session, dataset: Dataset, filtering: MetadataFilteringConditions | None
) -> Restriction | None:
    """The engine's restriction for the filter: None when nothing filters, MATCHES_NOTHING when no
    document can match."""
    kept = [
        (c, clause) for c in (filtering.conditions if filtering else []) if (clause := _clause(c)) is not None
    ]
    if not kept or filtering is None:
        return None
    conjunction = filtering.logical_operator == "and"
    engine, by_sql = [], []
    for condition, clause in kept:
        form = engine_condition(condition)
        if form is _TRUE and not conjunction:
            return None
        if form is _FALSE and conjunction:
            return MATCHES_NOTHING
        if form is None:
            by_sql.append(clause)
        elif form not in (_TRUE, _FALSE):
            engine.append(form)
    if by_sql:
        engine.append(documents_condition(_matching_ids(session, dataset, _combine(by_sql, conjunction))))
    if not engine:
        return None if conjunction else MATCHES_NOTHING
    restriction = Restriction(must=tuple(engine)) if conjunction else Restriction(should=tuple(engine))
    return _with_stale_documents(session, dataset, restriction, _combine([c for _, c in kept], conjunction))


def _combine(clauses: list[ColumnElement], conjunction: bool) -> ColumnElement:
    return and_(*clauses) if conjunction else or_(*clauses)


def _with_stale_documents(
    session: Session, dataset: Dataset, restriction: Restriction, whole_filter: ColumnElement
) -> Restriction:
    """Documents whose metadata the engine has not caught up with pass by their database values."""
    stale = list(session.scalars(select(Document.id).where(Document.dataset_id == dataset.id,
                                                           Document.metadata_stale)))  # fmt: skip
    if not stale:
        return restriction
    passing = _matching_ids(session, dataset, and_(Document.id.in_(stale), whole_filter))
    fresh = Restriction(must=(restriction,), must_not=(only_documents(stale),))
    return Restriction(should=(fresh, only_documents(passing)))


def _matching_ids(session: Session, dataset: Dataset, condition: ColumnElement) -> list[str]:
    return list(session.scalars(select(Document.id).where(Document.dataset_id == dataset.id, condition)))


def engine_condition(condition: MetadataCondition):
    """The condition as the engine evaluates it (_TRUE, _FALSE, a Condition or Restriction), or None
    when only SQL can. Mirrors `_clause` case by case, including which values count as numbers; a
    condition `_clause` drops (a null value, an unknown operator) is not asked for."""
    operator, value = condition.comparison_operator, condition.value
    key = keyword_key(condition.name)
    if operator == "empty":
        return Condition(key, "empty")
    if operator == "not empty":
        return Restriction(must_not=(Condition(key, "empty"),))
    if operator in ("in", "not in"):
        items = _items(value)
        if not items:
            return _TRUE if operator == "not in" else _FALSE
        any_of = Condition(key, "any", tuple(items))
        return _present_but_not(key, any_of) if operator == "not in" else any_of
    if operator in _STRING and not (operator in ("is", "is not") and isinstance(value, int | float)):
        return _engine_string(operator, key, str(value))
    if operator in ("is", "is not"):
        operator = "=" if operator == "is" else "≠"
    method = NUMERIC.get(operator)
    if method is None:
        return None  # an unknown operator: dropped before this is asked (`_clause`)
    try:
        number = float(value)  # type: ignore[arg-type]  # any other kind is refused below
    except (TypeError, ValueError):
        return _FALSE
    key = number_key(condition.name)
    bounds = {"__eq__": {"gte": number, "lte": number}, "__gt__": {"gt": number}, "__lt__": {"lt": number},
              "__ge__": {"gte": number}, "__le__": {"lte": number}}  # fmt: skip
    if method == "__ne__":
        return _present_but_not(key, Condition(key, "range", bounds={"gte": number, "lte": number}))
    return Condition(key, "range", bounds=bounds[method])


def _engine_string(operator: str, key: str, text: str):
    match operator:
        case "contains":
            return Condition(key, "substring", text=text)
        case "not contains":
            return _present_but_not(key, Condition(key, "substring", text=text))
        case "start with":
            return Condition(key, "prefix", text=text)
        case "is":
            return Condition(key, "any", (text,))
        case "is not":
            return _present_but_not(key, Condition(key, "any", (text,)))
    return None  # end with


def _present_but_not(key: str, condition: Condition) -> Restriction:
    """SQL's negations leave out documents without the field (NULL is neither equal nor unequal)."""
    return Restriction(must_not=(Condition(key, "empty"), condition))


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
        number = float(value)  # type: ignore[arg-type]  # any other kind is refused below
    except (TypeError, ValueError):
        return false()
    return getattr(field.as_float(), method)(number)


def _items(value) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [item.strip() for item in map(str, items) if item.strip()]


def _membership(text: ColumnElement, value, *, negate: bool) -> ColumnElement:
    items = _items(value)
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
