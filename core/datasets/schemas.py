"""Validated inputs of the dataset operations (contract sections 1.2 and 3).

Validators raise ValueError, which the API reports as 400 `invalid_param` with the message given here.
"""

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.datasets.models import DatasetPermission, DatasetProvider, IndexingTechnique

# A metadata field's name, where fields are created and where filters name them: it becomes a key of
# the engine's payload, so it is kept to what every engine takes as a key.
METADATA_NAME = re.compile(r"[a-z0-9_]+")
METADATA_NAME_RULE = "Metadata name can only contain lowercase letters, digits and underscores."


class SearchMethod(StrEnum):
    SEMANTIC = "semantic_search"
    FULL_TEXT = "full_text_search"
    HYBRID = "hybrid_search"
    KEYWORD = "keyword_search"


class RerankingModel(BaseModel):
    """A rerank model the deployment offers (see the available-models route)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    reranking_provider_name: str | None = ""
    reranking_model_name: str | None = ""


class VectorSetting(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    vector_weight: float = Field(ge=0, le=1)
    """The semantic leg's weight in weighted fusion."""
    embedding_provider_name: str | None = ""
    embedding_model_name: str | None = ""


class KeywordSetting(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    keyword_weight: float = Field(ge=0, le=1)
    """The full-text leg's weight in weighted fusion."""


class Weights(BaseModel):
    weight_type: Literal["semantic_first", "keyword_first", "customized"] | None = "customized"
    vector_setting: VectorSetting
    keyword_setting: KeywordSetting


class MetadataCondition(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    name: str = Field(max_length=255)
    """A metadata field of the dataset, or a built-in field."""
    comparison_operator: str = Field(max_length=32)
    """Strings: contains, not contains, start with, end with, is, is not, empty, not empty, in, not in.
    Numbers: =, ≠, >, <, ≥, ≤ (also >=, <=, !=), empty, not empty. Times: before, after, empty, not
    empty. A condition with an unknown operator or a null value is dropped, as Dify drops it."""
    value: str | int | float | list[str] | None = None
    """The value compared with; a list (or comma-separated string) for `in` / `not in`."""

    @field_validator("name")
    @classmethod
    def _a_field_name(cls, name: str) -> str:
        if not METADATA_NAME.fullmatch(name):
            raise ValueError(METADATA_NAME_RULE)
        return name


class MetadataFilteringConditions(BaseModel):
    """Which documents a search may return; null for either field means its default."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    logical_operator: Literal["and", "or"] = "and"
    """How the conditions combine."""
    conditions: list[MetadataCondition] = Field(default_factory=list, max_length=100)

    @field_validator("logical_operator", "conditions", mode="before")
    @classmethod
    def _null_is_default(cls, value, info):
        """Dify sends `null` for both when an app sets no filter."""
        if value is not None:
            return value
        return "and" if info.field_name == "logical_operator" else []


class RetrievalModel(BaseModel):
    """How a search runs: a request's own wins over the dataset's default."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    search_method: SearchMethod
    """semantic_search (vectors), full_text_search / keyword_search (BM25) or hybrid_search (both)."""
    reranking_enable: bool
    """Rescore hybrid candidates with `reranking_model`."""
    # "rrf" is our extension: reciprocal-rank fusion of the two hybrid legs.
    reranking_mode: Literal["reranking_model", "weighted_score", "rrf"] | None = None
    """How hybrid search combines its legs: a rerank model, weighted scores, or (ours) reciprocal-rank
    fusion."""
    reranking_model: RerankingModel | None = None
    weights: Weights | None = None
    """The legs' weights for `weighted_score` (0.7 semantic / 0.3 keyword when absent)."""
    rrf_k: int | None = Field(default=None, ge=1, le=1000)
    """Ours: the k of reciprocal-rank fusion (60 when absent)."""
    top_k: int = Field(ge=1, le=10_000)
    """How many records to return, capped by TOP_K_MAX_VALUE."""
    score_threshold_enabled: bool
    score_threshold: float | None = Field(default=None, ge=0, le=1)  # every method scores in 0..1
    """With `score_threshold_enabled`, records scoring below it are left out (every method scores in
    0..1)."""
    metadata_filtering_conditions: MetadataFilteringConditions | None = None


DEFAULT_STORED_RETRIEVAL_MODEL = RetrievalModel(
    search_method=SearchMethod.SEMANTIC,
    reranking_enable=False,
    reranking_model=RerankingModel(),
    top_k=2,
    score_threshold_enabled=False,
)


class SummaryIndexSetting(BaseModel):
    enable: bool | None = None
    model_name: str | None = None
    model_provider_name: str | None = None
    summary_prompt: str | None = None


class ExternalRetrievalModel(BaseModel):
    """Retrieval settings of an external dataset (kept for Dify's clients)."""

    top_k: int = Field(default=2, ge=1, le=10_000)
    score_threshold: float | None = 0.0
    score_threshold_enabled: bool = False


class PartialMember(BaseModel):
    user_id: str = Field(max_length=36)


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= 40:
        raise ValueError("Name must be between 1 to 40 characters.")
    return name


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > 400:
        raise ValueError("Description cannot exceed 400 characters.")
    return description


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    name: str
    """1 to 40 characters, unique in the workspace."""
    description: str = ""
    """At most 400 characters."""
    indexing_technique: IndexingTechnique | None = None
    """high_quality (vectors and full text) or economy (full text only); else set by the first document."""
    permission: DatasetPermission = DatasetPermission.ONLY_ME
    provider: DatasetProvider = DatasetProvider.VENDOR
    external_knowledge_api_id: str | None = None
    external_knowledge_id: str | None = None
    embedding_model: str | None = None
    """A model the deployment offers (the default model when absent)."""
    embedding_model_provider: str | None = None
    retrieval_model: RetrievalModel | None = None
    """The dataset's default search settings."""
    summary_index_setting: SummaryIndexSetting | None = None

    _name = field_validator("name")(_check_name)
    _description = field_validator("description")(_check_description)


class DatasetUpdate(BaseModel):
    """Only the fields present in the request change."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    indexing_technique: IndexingTechnique | None = None
    permission: DatasetPermission | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model: RetrievalModel | None = None
    summary_index_setting: SummaryIndexSetting | None = None
    partial_member_list: list[PartialMember] | None = Field(default=None, max_length=1000)
    external_retrieval_model: ExternalRetrievalModel | None = None
    external_knowledge_id: str | None = None
    external_knowledge_api_id: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        return None if name is None else _check_name(name)

    _description = field_validator("description")(_check_description)
