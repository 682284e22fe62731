"""What a search is asked for: the method, its legs' settings, reranking, the metadata filter and the
threshold, as datasets store them and callers send them.

Validators raise ValueError, which the API reports as 400 `invalid_param` with the message given here.
"""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.index.point_metadata import METADATA_NAME, METADATA_NAME_RULE


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
    """The legs' weights for `weighted_score` (0.45 semantic / 0.55 keyword when absent)."""
    rrf_k: int | None = Field(default=None, ge=1, le=1000)
    """Ours: the k of reciprocal-rank fusion (60 when absent)."""
    top_k: int = Field(ge=1, le=10_000)
    """How many records to return, capped by TOP_K_MAX_VALUE."""
    score_threshold_enabled: bool
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    """With `score_threshold_enabled`, records scoring below it are left out. Scores are probabilities
    of relevance in every method (0.5: more likely relevant than not); with a rerank model, its
    scores."""
    metadata_filtering_conditions: MetadataFilteringConditions | None = None


DEFAULT_STORED_RETRIEVAL_MODEL = RetrievalModel(
    search_method=SearchMethod.SEMANTIC,
    reranking_enable=False,
    reranking_model=RerankingModel(),
    top_k=2,
    score_threshold_enabled=False,
)


class ExternalRetrievalModel(BaseModel):
    """Retrieval settings of an external dataset (kept for Dify's clients)."""

    top_k: int = Field(default=2, ge=1, le=10_000)
    score_threshold: float | None = 0.0
    score_threshold_enabled: bool = False
