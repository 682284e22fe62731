"""Search restrictions as the engine evaluates them, in a form of our own that each store translates
into its client's filter types (`retrieval.vector_store`, `retrieval.edge_store`), so both paths
filter the same way.

Points carry their document's metadata in two payload objects: `meta` (every value as a keyword
string) and `meta_number` (the values that read as numbers), each field with a payload index, so a
metadata condition is an index lookup inside the engine.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

META, META_NUMBER = "meta", "meta_number"
META_REVISION = "meta_revision"  # the document's metadata revision the point's metadata is


@dataclass(frozen=True)
class Condition:
    key: str  # a payload field, nested with dots
    kind: Literal["any", "substring", "prefix", "range", "empty"]
    values: tuple[str, ...] = ()  # any: the keyword is one of these
    text: str = ""  # substring, prefix
    bounds: dict[str, float] = field(default_factory=dict)  # range: gt, gte, lt, lte


@dataclass(frozen=True)
class Restriction:
    """A point passes when it meets every `must`, at least one `should` (if any are given) and no
    `must_not`."""

    must: tuple["Condition | Restriction", ...] = ()
    should: tuple["Condition | Restriction", ...] = ()
    must_not: tuple["Condition | Restriction", ...] = ()


def documents_condition(document_ids: list[str] | set[str]) -> Condition:
    return Condition("document_id", "any", tuple(document_ids))


def only_documents(document_ids: list[str] | set[str]) -> Restriction:
    return Restriction(must=(documents_condition(document_ids),))


def keyword_key(name: str) -> str:
    return f"{META}.{name}"


def number_key(name: str) -> str:
    return f"{META_NUMBER}.{name}"


def metadata_payload(values: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """A document's metadata as its points carry it. Strings stay as they are and other values are
    written as JSON (so 2021 is "2021", as PostgreSQL's text of the JSON value reads); null values are
    left out, which is what `empty` matches."""
    keywords: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for name, value in (values or {}).items():
        if value is None:
            continue
        keywords[name] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        number = _as_number(value)
        if number is not None:
            numbers[name] = number
    return {META: keywords, META_NUMBER: numbers}


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None  # no NaN or infinity


def fields_to_index(payloads: Iterable[dict[str, Any]], indexed: set[str]) -> dict[str, str]:
    """The payload index each metadata field of the payloads needs and `indexed` lacks:
    {key: "keyword" | "float"}."""
    wanted: dict[str, str] = {}
    for payload in payloads:
        wanted |= {keyword_key(name): "keyword" for name in payload.get(META, {})}
        wanted |= {number_key(name): "float" for name in payload.get(META_NUMBER, {})}
    return {key: kind for key, kind in wanted.items() if key not in indexed}
