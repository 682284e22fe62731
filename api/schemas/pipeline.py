"""The knowledge pipeline's request bodies."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class NodeRunBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    inputs: dict[str, Any] = Field(default_factory=dict)
    """The node's input variables (see its `user_input_variables`): a crawl's `url`, `limit`, ..."""
    datasource_type: Literal["local_file", "online_document", "website_crawl", "online_drive"]
    """Must be the node's own type."""
    credential_id: str | None = Field(default=None, max_length=36)
    """One of the node's `credentials`; the workspace's saved ones when absent."""
    is_published: bool = True
    """Accepted for Dify's clients: the published and the draft pipeline are the same."""


class PipelineRunBody(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    inputs: dict[str, Any] = Field(default_factory=dict)
    """The document options of create-by-text (indexing_technique, process_rule, doc_form,
    doc_language, ...), the dataset's own where absent; `include_child_pages` for Notion."""
    datasource_type: Literal["local_file", "online_document", "website_crawl", "online_drive"]
    """The start node's type; online_drive is not a built-in source."""
    datasource_info_list: list[dict[str, Any]] = Field(min_length=1, max_length=100)
    """local_file: `{reference (or related_id): an upload id, name?}`; online_document: `{page:
    {page_id, type: page|database}}` as the notion node lists them; website_crawl: `{source_url,
    content, title?, description?}` as a crawl node returns them."""
    start_node_id: str = Field(max_length=64)
    """local_file, notion, firecrawl or jinareader."""
    is_published: bool = True
    response_mode: Literal["streaming", "blocking"] = "blocking"
