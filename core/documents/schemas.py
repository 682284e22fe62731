"""Validated inputs of the document operations (contract section 1.3)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.datasets.models import DocForm, IndexingTechnique
from core.datasets.schemas import RetrievalModel
from core.documents.process_rules import validate_process_rule

MAX_NAME_LENGTH = 255


class DocumentOptions(BaseModel):
    """The fields shared by create-by-text and the `data` part of create-by-file."""

    model_config = ConfigDict(extra="ignore")

    indexing_technique: IndexingTechnique | None = None
    doc_form: str = DocForm.TEXT
    doc_language: str = Field(default="English", max_length=64)
    process_rule: dict[str, Any] | None = None
    retrieval_model: RetrievalModel | None = None
    embedding_model: str | None = Field(default=None, max_length=255)
    embedding_model_provider: str | None = Field(default=None, max_length=255)
    original_document_id: str | None = Field(default=None, max_length=36)

    @field_validator("doc_form")
    @classmethod
    def _doc_form(cls, value: str) -> str:
        if value not in set(DocForm):
            raise ValueError("Invalid doc_form.")
        return value

    @field_validator("process_rule")
    @classmethod
    def _process_rule(cls, value: dict | None) -> dict | None:
        return None if value is None else validate_process_rule(value)

    @property
    def has_process_rule(self) -> bool:
        return self.process_rule is not None


class DocumentCreateByText(DocumentOptions):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    text: str


class DocumentUpdateByText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    text: str | None = None
    process_rule: dict[str, Any] | None = None
    doc_form: str = DocForm.TEXT
    doc_language: str = Field(default="English", max_length=64)
    retrieval_model: RetrievalModel | None = None

    _doc_form = field_validator("doc_form")(DocumentOptions._doc_form.__func__)
    _process_rule = field_validator("process_rule")(DocumentOptions._process_rule.__func__)


class ChunkPreviewOptions(BaseModel):
    """What the chunk preview needs: the document form and rule, and the text unless a file is sent."""

    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    doc_form: str = DocForm.TEXT
    doc_language: str = Field(default="English", max_length=64)
    process_rule: dict[str, Any] | None = None

    _doc_form = field_validator("doc_form")(DocumentOptions._doc_form.__func__)
    _process_rule = field_validator("process_rule")(DocumentOptions._process_rule.__func__)
