"""The model registry: imports every ORM model, so that the metadata Alembic compares against is
complete and foreign keys across domains resolve, and registers the session hooks that carry every
change of a document's metadata to its points in the engine (`core.index.point_metadata`)."""

from core.api_keys.models import ApiKey, ConsoleSession
from core.database import Base
from core.datasets.models import Dataset, DatasetMember
from core.datasources.models import DataSourceCredential
from core.documents.models import Document, ProcessRule, UploadFile
from core.index.models import EmbeddingCacheEntry
from core.index.point_metadata import follow_metadata_changes
from core.metadata.models import MetadataBinding, MetadataField
from core.online_sources.models import CrawlJob, CrawlPage
from core.queries.models import DatasetQuery
from core.rate_limits.models import RateLimitLog
from core.segments.models import ChildChunk, Segment
from core.tags.models import Tag, TagBinding
from core.workspaces.models import Account, Workspace

follow_metadata_changes()

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
