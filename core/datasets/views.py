"""The Dataset object of the API, built for a page of datasets at once."""

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core import model_providers
from core.database import unix_seconds
from core.datasets.models import Dataset, DatasetMember, DatasetPermission, IndexingTechnique
from core.datasets.schemas import SummaryIndexSetting
from core.documents.models import Document, IndexingStatus
from core.index.point_metadata import BUILT_IN_FIELD_ID, BUILT_IN_FIELDS
from core.metadata.models import MetadataField
from core.search.schemas import DEFAULT_STORED_RETRIEVAL_MODEL, SearchMethod
from core.settings import get_settings
from core.tags import service as tags
from core.workspaces.models import Account


def describe_dataset(session: Session, dataset: Dataset, *, with_members: bool = False) -> dict:
    return describe_datasets(session, [dataset], with_members=with_members)[0]


def describe_datasets(session: Session, datasets: list[Dataset], *, with_members: bool = False) -> list[dict]:
    """`with_members` always includes `partial_member_list` (PATCH); otherwise only for partial datasets."""
    ids = [d.id for d in datasets]
    if not ids:
        return []
    counts = _document_counts(session, ids)
    first_doc_forms = _first_doc_forms(session, ids)
    authors = dict(
        session.execute(
            select(Account.id, Account.name).where(Account.id.in_({d.created_by for d in datasets}))
        ).all()
    )
    tag_map = tags.tags_by_dataset(session, ids)
    fields = _metadata_fields(session, ids)
    members = _members(session, ids)
    views = []
    for dataset in datasets:
        total, available, words = counts.get(dataset.id, (0, 0, 0))
        view: dict[str, Any] = {
            "id": dataset.id,
            "name": dataset.name,
            "description": dataset.description,
            "provider": dataset.provider,
            "permission": dataset.permission,
            "data_source_type": dataset.data_source_type,
            "indexing_technique": dataset.indexing_technique,
            "app_count": 0,
            "document_count": total,
            "word_count": words,
            "created_by": dataset.created_by,
            "author_name": authors.get(dataset.created_by),
            "created_at": unix_seconds(dataset.created_at),
            "updated_by": dataset.updated_by,
            "updated_at": unix_seconds(dataset.updated_at),
            "embedding_model": dataset.embedding_model,
            "embedding_model_provider": dataset.embedding_model_provider,
            "embedding_available": _embedding_available(dataset),
            "retrieval_model_dict": retrieval_model_dict(dataset),
            "summary_index_setting": SummaryIndexSetting.model_validate(
                dataset.summary_index_setting or {}
            ).model_dump(),
            "tags": [{"id": t.id, "name": t.name, "type": t.type} for t in tag_map.get(dataset.id, [])],
            "doc_form": dataset.chunk_structure or first_doc_forms.get(dataset.id),
            "external_knowledge_info": _external_knowledge_info(dataset),
            "external_retrieval_model": dataset.external_retrieval_model,
            "doc_metadata": _doc_metadata(dataset, fields.get(dataset.id, [])),
            "built_in_field_enabled": dataset.built_in_field_enabled,
            "pipeline_id": dataset.pipeline_id,
            "runtime_mode": dataset.runtime_mode,
            "chunk_structure": dataset.chunk_structure,
            "icon_info": dataset.icon_info,
            "is_published": dataset.is_published,
            "enable_api": dataset.enable_api,
            "is_multimodal": dataset.is_multimodal,
            "total_documents": total,
            "total_available_documents": available,
            "maintainer": dataset.maintainer,
        }
        if with_members or dataset.permission == DatasetPermission.PARTIAL_TEAM:
            view["partial_member_list"] = members.get(dataset.id, [])
        views.append(view)
    return views


EXTENSION_KEYS = ("metadata_filtering_conditions", "rrf_k")


def retrieval_model_dict(dataset: Dataset) -> dict:
    stored = dataset.retrieval_model or DEFAULT_STORED_RETRIEVAL_MODEL.model_dump(mode="json")
    # Our extensions appear only when set, so Dify clients see exactly Dify's keys.
    view = {key: value for key, value in stored.items() if key not in EXTENSION_KEYS or value is not None}
    if dataset.indexing_technique == IndexingTechnique.ECONOMY:
        view["search_method"] = SearchMethod.KEYWORD.value
    return view


def _embedding_available(dataset: Dataset) -> bool:
    if dataset.indexing_technique != IndexingTechnique.HIGH_QUALITY or not dataset.embedding_model:
        return True
    return model_providers.is_available(
        get_settings(),
        model_providers.TEXT_EMBEDDING,
        dataset.embedding_model_provider or "",
        dataset.embedding_model,
    )


def _document_counts(session: Session, ids: list[str]) -> dict[str, tuple[int, int, int]]:
    available = and_(
        Document.indexing_status == IndexingStatus.COMPLETED,
        Document.enabled.is_(True),
        Document.archived.is_(False),
    )
    rows = session.execute(
        select(
            Document.dataset_id,
            func.count(Document.id),
            func.sum(case((available, 1), else_=0)),
            func.coalesce(func.sum(Document.word_count), 0),
        )
        .where(Document.dataset_id.in_(ids))
        .group_by(Document.dataset_id)
    ).all()
    return {row[0]: (row[1], int(row[2] or 0), int(row[3] or 0)) for row in rows}


def _first_doc_forms(session: Session, ids: list[str]) -> dict[str, str]:
    first = (
        select(Document.dataset_id, func.min(Document.position).label("position"))
        .where(Document.dataset_id.in_(ids))
        .group_by(Document.dataset_id)
        .subquery()
    )
    rows = session.execute(
        select(Document.dataset_id, Document.doc_form).join(
            first, and_(first.c.dataset_id == Document.dataset_id, first.c.position == Document.position)
        )
    ).all()
    return dict(rows)


def _metadata_fields(session: Session, ids: list[str]) -> dict[str, list[MetadataField]]:
    grouped: dict[str, list[MetadataField]] = defaultdict(list)
    query = select(MetadataField).where(MetadataField.dataset_id.in_(ids)).order_by(MetadataField.created_at)
    for field in session.scalars(query):
        grouped[field.dataset_id].append(field)
    return grouped


def _members(session: Session, ids: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    query = select(DatasetMember).where(DatasetMember.dataset_id.in_(ids)).order_by(DatasetMember.account_id)
    for member in session.scalars(query):
        grouped[member.dataset_id].append(member.account_id)
    return grouped


def _doc_metadata(dataset: Dataset, fields: list[MetadataField]) -> list[dict]:
    items = [{"id": f.id, "name": f.name, "type": f.type} for f in fields]
    if dataset.built_in_field_enabled:
        items += [{"id": BUILT_IN_FIELD_ID, "name": name, "type": kind} for name, kind in BUILT_IN_FIELDS]
    return items


def _external_knowledge_info(dataset: Dataset) -> dict | None:
    if not dataset.external_knowledge_id:
        return None
    return {
        "external_knowledge_id": dataset.external_knowledge_id,
        "external_knowledge_api_id": dataset.external_knowledge_api_id,
        "external_knowledge_api_name": None,
        "external_knowledge_api_endpoint": None,
    }
