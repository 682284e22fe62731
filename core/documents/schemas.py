"""Validated inputs of the document operations."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.datasets.models import DocForm, IndexingTechnique
from core.ingestion.process_rules import validate_process_rule
from core.search.schemas import RetrievalModel

MAX_NAME_LENGTH = 255
EMPTY_TEXT = "The text is empty: a document needs some text to index."


def _some_text(value: str | None) -> str | None:
    """Refused up front: an empty text would only end as a failed document."""
    if value is not None and not value.strip():
        raise ValueError(EMPTY_TEXT)
    return value


def _checked_doc_form(value: str) -> str:
    if value not in set(DocForm):
        raise ValueError("Invalid doc_form.")
    return value


def _checked_process_rule(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else validate_process_rule(value)


class DocumentOptions(BaseModel):
    """The fields shared by create-by-text and the `data` part of create-by-file."""

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    indexing_technique: IndexingTechnique | None = None
    """Required for a dataset's first document: high_quality or economy."""
    doc_form: str = DocForm.TEXT
    """text_model (chunks), hierarchical_model (parents with child chunks) or qa_model (question and
    answer pairs); the first document fixes the dataset's."""
    doc_language: str = Field(default="English", max_length=64)
    """The language Q&A pairs are written in (qa_model from text)."""
    process_rule: dict[str, Any] | None = None
    """`{mode: automatic}`, or `{mode: custom|hierarchical, rules: {pre_processing_rules: [{id:
    remove_extra_spaces|remove_urls_emails, enabled}], segmentation: {separator, max_tokens (50 to 4000
    characters), chunk_overlap}, parent_mode: paragraph|full-doc, subchunk_segmentation: {separator,
    max_tokens, chunk_overlap}}}`; the dataset's latest rule when absent."""
    retrieval_model: RetrievalModel | None = None
    """The dataset's default search settings, if it has none yet."""
    embedding_model: str | None = Field(default=None, max_length=255)
    """For a dataset's first document: a model the deployment offers."""
    embedding_model_provider: str | None = Field(default=None, max_length=255)
    original_document_id: str | None = Field(default=None, max_length=36)
    """Replace this document's content instead of making a new document."""

    _doc_form = field_validator("doc_form")(_checked_doc_form)
    _process_rule = field_validator("process_rule")(_checked_process_rule)

    @property
    def has_process_rule(self) -> bool:
        return self.process_rule is not None


class DocumentCreateByText(DocumentOptions):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    """The document's name; a document of the same name is re-used."""
    text: str
    """The document's text (not empty)."""

    _text = field_validator("text")(_some_text)


class DocumentUpdateByText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    text: str | None = None
    process_rule: dict[str, Any] | None = None
    doc_form: str = DocForm.TEXT
    doc_language: str = Field(default="English", max_length=64)
    retrieval_model: RetrievalModel | None = None

    _text = field_validator("text")(_some_text)
    _doc_form = field_validator("doc_form")(_checked_doc_form)
    _process_rule = field_validator("process_rule")(_checked_process_rule)


class ChunkPreviewOptions(BaseModel):
    """What the chunk preview needs: the document form and rule, and the text unless a file is sent or
    `document_id` names a document of the dataset whose stored source is split instead."""

    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    document_id: str | None = Field(default=None, max_length=36)
    doc_form: str = DocForm.TEXT
    doc_language: str = Field(default="English", max_length=64)
    process_rule: dict[str, Any] | None = None

    _doc_form = field_validator("doc_form")(_checked_doc_form)
    _process_rule = field_validator("process_rule")(_checked_process_rule)
