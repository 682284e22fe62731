"""process_rule validation at request time and its resolution at indexing time."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.documents.models import Document, ProcessRule
from core.index.point_metadata import METADATA_NAME
from etl.cleaning import PRE_PROCESSING_RULE_IDS, REMOVE_EXTRA_SPACES, REMOVE_URLS_EMAILS
from etl.splitting import AUTOMATIC_MAX_LENGTH, AUTOMATIC_OVERLAP, Segmentation

MODES = ("automatic", "custom", "hierarchical")
MAX_CONTEXT_METADATA = 10
AUTOMATIC_RULES: dict[str, Any] = {
    "pre_processing_rules": [
        {"id": REMOVE_EXTRA_SPACES, "enabled": True},
        {"id": REMOVE_URLS_EMAILS, "enabled": False},
    ],
    "segmentation": {
        "delimiter": "\n",
        "max_tokens": AUTOMATIC_MAX_LENGTH,
        "chunk_overlap": AUTOMATIC_OVERLAP,
    },
}


def validate_process_rule(rule: Any) -> dict[str, Any]:
    """Returns the rule to store; raises ValueError with Dify's messages."""
    if not isinstance(rule, dict) or rule.get("mode") not in MODES:
        raise ValueError("Process rule mode is invalid")
    mode = rule["mode"]
    if mode == "automatic":
        return {"mode": mode, "rules": AUTOMATIC_RULES}
    rules = rule.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise ValueError("Process rule rules is required")
    pre_processing = rules.get("pre_processing_rules")
    if not isinstance(pre_processing, list):
        raise ValueError("Process rule pre_processing_rules is required")
    unique: dict[str, bool] = {}
    for item in pre_processing:
        if not isinstance(item, dict) or item.get("id") not in PRE_PROCESSING_RULE_IDS:
            raise ValueError("Process rule pre_processing_rules id is invalid")
        if not isinstance(item.get("enabled"), bool):
            raise ValueError("Process rule pre_processing_rules enabled is invalid")
        unique[item["id"]] = item["enabled"]  # duplicates collapse, last wins
    parent_mode = rules.get("parent_mode") or "paragraph"
    if mode == "hierarchical" and parent_mode not in ("paragraph", "full-doc"):
        raise ValueError("Process rule parent_mode is invalid")
    stored: dict[str, Any] = {
        "pre_processing_rules": [{"id": key, "enabled": value} for key, value in unique.items()],
    }
    needs_size = not (mode == "hierarchical" and parent_mode == "full-doc")
    stored["segmentation"] = _segmentation(rules.get("segmentation"), needs_size, required=needs_size)
    if mode == "hierarchical":
        stored["parent_mode"] = parent_mode
        stored["subchunk_segmentation"] = _segmentation(
            rules.get("subchunk_segmentation"), True, required=True
        )
    if "chunk_context" in rules:  # ours; stored only when given, so Dify's rules echo back unchanged
        if not isinstance(rules["chunk_context"], bool):
            raise ValueError("Process rule chunk_context must be true or false")
        stored["chunk_context"] = rules["chunk_context"]
    if "chunk_context_metadata" in rules:  # ours, like chunk_context
        stored["chunk_context_metadata"] = _context_metadata(rules["chunk_context_metadata"])
    return {"mode": mode, "rules": stored}


def _context_metadata(names: Any) -> list[str]:
    """The metadata fields whose values the context line names, in the order given."""
    if (
        not isinstance(names, list)
        or len(names) > MAX_CONTEXT_METADATA
        or not all(isinstance(name, str) and METADATA_NAME.fullmatch(name) for name in names)
    ):
        raise ValueError(
            f"Process rule chunk_context_metadata must be a list of at most {MAX_CONTEXT_METADATA} "
            "metadata names"
        )
    return list(dict.fromkeys(names))


def _segmentation(value: Any, needs_size: bool, *, required: bool) -> dict[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise ValueError("Process rule segmentation is required")
    separator = value.get("separator", "\n")
    if not isinstance(separator, str) or not separator:
        raise ValueError("Process rule segmentation separator is required")
    max_tokens = value.get("max_tokens")
    if needs_size and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
        raise ValueError("Process rule segmentation max_tokens is required")
    overlap = value.get("chunk_overlap", 0) or 0
    if not isinstance(overlap, int) or isinstance(overlap, bool):
        raise ValueError("Process rule segmentation chunk_overlap is invalid")
    return {"separator": separator, "max_tokens": max_tokens, "chunk_overlap": overlap}


def enabled_cleaning_rules(rules: dict[str, Any]) -> set[str]:
    return {item["id"] for item in rules.get("pre_processing_rules", []) if item.get("enabled")}


def segmentation_of(value: dict[str, Any] | None) -> Segmentation | None:
    if value is None:
        return None
    return Segmentation(
        separator=value.get("separator") or "\n",
        max_length=value.get("max_tokens") or AUTOMATIC_MAX_LENGTH,
        overlap=value.get("chunk_overlap") or 0,
    )


def latest_process_rule(session: Session, dataset_id: str) -> ProcessRule | None:
    """The rule a document without one of its own gets: the dataset's most recent."""
    return session.scalar(
        select(ProcessRule)
        .where(ProcessRule.dataset_id == dataset_id)
        .order_by(ProcessRule.created_at.desc())
        .limit(1)
    )


def document_process_rule(session: Session, document: Document) -> ProcessRule | None:
    if document.dataset_process_rule_id is None:
        return None
    return session.get(ProcessRule, document.dataset_process_rule_id)
