"""Imports every ORM model so that the metadata Alembic compares against is complete."""

from core.api_keys.models import ApiKey, ConsoleSession
from core.database import Base
from core.datasets.models import Dataset, DatasetMember
from core.datasources.models import DataSourceCredential
from core.documents.models import Document, ProcessRule, UploadFile
from core.index.models import EmbeddingCacheEntry
from core.metadata.models import MetadataBinding, MetadataField
from core.online_sources.models import CrawlJob, CrawlPage
from core.queries.models import DatasetQuery
from core.rate_limits.models import RateLimitLog
from core.segments.models import ChildChunk, Segment
from core.tags.models import Tag, TagBinding
from core.workspaces.models import Account, Workspace

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "ChildChunk",
    "ConsoleSession",
    "CrawlJob",
    "CrawlPage",
    "DataSourceCredential",
    "Dataset",
    "DatasetMember",
    "DatasetQuery",
    "Document",
    "EmbeddingCacheEntry",
    "MetadataBinding",
    "MetadataField",
    "ProcessRule",
    "RateLimitLog",
    "Segment",
    "Tag",
    "TagBinding",
    "UploadFile",
    "Workspace",
]
