"""Validated inputs of the dataset operations.

Validators raise ValueError, which the API reports as 400 `invalid_param` with the message given here.
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.datasets.models import DatasetPermission, DatasetProvider, IndexingTechnique
from core.search.schemas import ExternalRetrievalModel, RetrievalModel


class SummaryIndexSetting(BaseModel):
    enable: bool | None = None
    model_name: str | None = None
    model_provider_name: str | None = None
    summary_prompt: str | None = None


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
