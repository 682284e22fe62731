"""Validated inputs of the dataset operations (contract sections 1.2 and 3).

Validators raise ValueError, which the API reports as 400 `invalid_param` with the message given here.
"""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.datasets.models import DatasetPermission, DatasetProvider, IndexingTechnique


class SearchMethod(StrEnum):
    SEMANTIC = "semantic_search"
    FULL_TEXT = "full_text_search"
    HYBRID = "hybrid_search"
    KEYWORD = "keyword_search"


class RerankingModel(BaseModel):
    reranking_provider_name: str | None = ""
    reranking_model_name: str | None = ""


class VectorSetting(BaseModel):
    vector_weight: float = Field(ge=0, le=1)
    embedding_provider_name: str | None = ""
    embedding_model_name: str | None = ""


class KeywordSetting(BaseModel):
    keyword_weight: float = Field(ge=0, le=1)


class Weights(BaseModel):
    weight_type: Literal["semantic_first", "keyword_first", "customized"] | None = "customized"
    vector_setting: VectorSetting
    keyword_setting: KeywordSetting


class MetadataCondition(BaseModel):
    name: str = Field(max_length=255)
    comparison_operator: str = Field(max_length=32)
    value: str | int | float | list[str] | None = None


class MetadataFilteringConditions(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[MetadataCondition] = Field(default_factory=list, max_length=100)

    @field_validator("logical_operator", "conditions", mode="before")
    @classmethod
    def _null_is_default(cls, value, info):
        """Dify sends `null` for both when an app sets no filter."""
        if value is not None:
            return value
        return "and" if info.field_name == "logical_operator" else []


class RetrievalModel(BaseModel):
    search_method: SearchMethod
    reranking_enable: bool
    # "rrf" is our extension: reciprocal-rank fusion of the two hybrid legs.
    reranking_mode: Literal["reranking_model", "weighted_score", "rrf"] | None = None
    reranking_model: RerankingModel | None = None
    weights: Weights | None = None
    rrf_k: int | None = Field(default=None, ge=1, le=1000)
    top_k: int = Field(ge=1, le=10_000)
    score_threshold_enabled: bool
    score_threshold: float | None = Field(default=None, ge=0, le=1)  # every method scores in 0..1
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
    model_config = ConfigDict(extra="ignore")

    name: str
    description: str = ""
    indexing_technique: IndexingTechnique | None = None
    permission: DatasetPermission = DatasetPermission.ONLY_ME
    provider: DatasetProvider = DatasetProvider.VENDOR
    external_knowledge_api_id: str | None = None
    external_knowledge_id: str | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model: RetrievalModel | None = None
    summary_index_setting: SummaryIndexSetting | None = None

    _name = field_validator("name")(_check_name)
    _description = field_validator("description")(_check_description)


class DatasetUpdate(BaseModel):
    """PATCH body: only the keys present in the request change (see `model_fields_set`)."""

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
