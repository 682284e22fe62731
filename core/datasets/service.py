"""Dataset (knowledge base) operations: create, list, read, update, delete."""

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import model_providers
from core.api_keys.service import Caller
from core.database import paginate, utcnow
from core.datasets.models import Dataset, DatasetMember, DatasetPermission, DatasetProvider, IndexingTechnique
from core.datasets.schemas import DatasetCreate, DatasetUpdate
from core.documents.models import UNFINISHED_STATUSES, Document, UploadFile
from core.errors import (
    DatasetIndexingInProgress,
    DatasetNameDuplicate,
    Forbidden,
    InvalidParam,
    NotFound,
)
from core.files import uploads
from core.index.engines import get_vector_store
from core.index.writer import engine_collections
from core.ingestion.vector_index import on_indexing_change
from core.search.schemas import RetrievalModel
from core.settings import get_settings
from core.tags import service as tags
from core.tags.models import TagBinding
from core.workspaces.models import OWNER_ROLE

MAX_PAGE_SIZE = 100
NO_EMBEDDING_MODEL = (
    "No Embedding Model available. Please configure a valid provider in the Settings -> Model Provider."
)
NO_RERANK_MODEL = (
    "No Rerank Model available. Please configure a valid provider in the Settings -> Model Provider."
)


def get_dataset(session: Session, caller: Caller, dataset_id: str) -> Dataset:
    """The caller's dataset, or Dify's 404: another workspace's dataset, and one outside a
    dataset-scoped key's datasets, are not revealed."""
    dataset = session.scalar(
        select(Dataset).where(Dataset.id == dataset_id, Dataset.workspace_id == caller.workspace.id)
    )
    if dataset is None or not caller.can_reach(dataset.id):
        raise NotFound("Dataset not found.")
    if not dataset.enable_api:
        raise Forbidden("Dataset api access is not enabled.")
    return dataset


def create_dataset(session: Session, caller: Caller, params: DatasetCreate) -> Dataset:
    caller.require_whole_workspace()
    _ensure_name_free(session, caller.workspace.id, params.name, DatasetNameDuplicate())
    if params.provider == DatasetProvider.EXTERNAL:
        _check_external_binding(params.external_knowledge_api_id, params.external_knowledge_id)
    dataset = Dataset(
        workspace_id=caller.workspace.id,
        name=params.name,
        description=params.description,
        provider=params.provider,
        permission=params.permission,
        indexing_technique=params.indexing_technique,
        retrieval_model=checked_retrieval_model(params.retrieval_model),
        summary_index_setting=params.summary_index_setting.model_dump()
        if params.summary_index_setting
        else None,
        created_by=caller.account.id,
        updated_by=caller.account.id,
    )
    if params.indexing_technique == IndexingTechnique.HIGH_QUALITY:
        set_embedding_model(dataset, params.embedding_model, params.embedding_model_provider)
    session.add(dataset)
    _commit_unique(session)
    return dataset


def list_datasets(
    session: Session,
    caller: Caller,
    *,
    page: int,
    limit: int,
    keyword: str | None,
    tag_ids: list[str],
    include_all: bool,
) -> tuple[list[Dataset], int]:
    query = select(Dataset).where(Dataset.workspace_id == caller.workspace.id)
    if caller.dataset_ids is not None:
        query = query.where(Dataset.id.in_(caller.dataset_ids))
    if not (include_all and caller.account.role == OWNER_ROLE):
        query = query.where(_visible_to(caller.account.id))
    if keyword:
        query = query.where(Dataset.name.icontains(keyword, autoescape=True))
    if tag_ids:
        tagged = select(TagBinding.target_id).where(
            TagBinding.workspace_id == caller.workspace.id, TagBinding.tag_id.in_(tag_ids)
        )
        query = query.where(Dataset.id.in_(tagged))
    return paginate(session, query, page, limit, Dataset.created_at.desc(), Dataset.id)


def update_dataset(session: Session, caller: Caller, dataset: Dataset, params: DatasetUpdate) -> Dataset:
    changes = params.model_fields_set
    if "name" in changes and params.name is not None and params.name != dataset.name:
        _ensure_name_free(
            session, caller.workspace.id, params.name, InvalidParam("Dataset name already exists")
        )
        dataset.name = params.name
    if "description" in changes:
        dataset.description = params.description
    if "permission" in changes and params.permission is not None:
        dataset.permission = params.permission
    if "retrieval_model" in changes and params.retrieval_model is not None:
        dataset.retrieval_model = checked_retrieval_model(params.retrieval_model)
    if "summary_index_setting" in changes:
        setting = params.summary_index_setting
        dataset.summary_index_setting = setting.model_dump() if setting else None
    previous_technique = dataset.indexing_technique
    previous_model = (dataset.embedding_model_provider, dataset.embedding_model)
    _update_indexing(dataset, params, changes)
    on_indexing_change(session, dataset, previous_technique, previous_model)
    _update_external(dataset, params, changes)
    _update_members(session, dataset, params, changes)
    dataset.updated_by = caller.account.id
    dataset.updated_at = utcnow()
    _commit_unique(session)
    return dataset


def delete_dataset(session: Session, dataset: Dataset) -> None:
    indexing = session.scalar(
        select(func.count(Document.id)).where(
            Document.dataset_id == dataset.id,
            Document.indexing_status.in_(UNFINISHED_STATUSES),
            Document.is_paused.is_(False),
        )
    )
    if indexing:
        raise DatasetIndexingInProgress()
    tags.delete_bindings_of_target(session, dataset.id)
    upload_ids = select(Document.upload_file_id).where(Document.dataset_id == dataset.id)
    storage_keys = set(
        session.scalars(select(UploadFile.storage_key).where(UploadFile.id.in_(upload_ids))).all()
    )
    session.execute(delete(UploadFile).where(UploadFile.id.in_(upload_ids)))
    session.delete(dataset)
    session.commit()
    # Files and vectors live outside the database: removed once the rows are gone.
    for storage_key in storage_keys:
        uploads.delete_stored_file_if_unused(session, get_settings(), storage_key)
    for collection in engine_collections(dataset):
        get_vector_store().drop_collection(collection)


def _visible_to(account_id: str):
    members = select(DatasetMember.dataset_id).where(DatasetMember.account_id == account_id)
    return or_(
        Dataset.permission == DatasetPermission.ALL_TEAM,
        Dataset.created_by == account_id,
        (Dataset.permission == DatasetPermission.PARTIAL_TEAM) & Dataset.id.in_(members),
    )


def _ensure_name_free(session: Session, workspace_id: str, name: str, error: Exception) -> None:
    taken = session.scalar(
        select(Dataset.id).where(Dataset.workspace_id == workspace_id, Dataset.name == name)
    )
    if taken:
        raise error


def _commit_unique(session: Session) -> None:
    # The unique constraint catches the race two concurrent requests with one name would win together.
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise DatasetNameDuplicate() from error


def set_embedding_model(dataset: Dataset, model: str | None, provider: str | None) -> None:
    settings = get_settings()
    if model is None and provider is None:
        default = model_providers.default_embedding_model(settings)
        model, provider = default.model, default.provider
    if not model or not provider:
        raise InvalidParam("embedding_model and embedding_model_provider must be given together.")
    if not model_providers.is_available(settings, model_providers.TEXT_EMBEDDING, provider, model):
        raise InvalidParam(NO_EMBEDDING_MODEL)
    dataset.embedding_model = model
    dataset.embedding_model_provider = model_providers.normalize_provider(provider)


def checked_retrieval_model(retrieval_model: RetrievalModel | None) -> dict | None:
    if retrieval_model is None:
        return None
    reranking = retrieval_model.reranking_model
    provider = reranking.reranking_provider_name if reranking else None
    model = reranking.reranking_model_name if reranking else None
    if (
        provider
        and model
        and not model_providers.is_available(get_settings(), model_providers.RERANK, provider, model)
    ):
        raise InvalidParam(NO_RERANK_MODEL)
    return retrieval_model.model_dump(mode="json")


def _update_indexing(dataset: Dataset, params: DatasetUpdate, changes: set[str]) -> None:
    technique = params.indexing_technique if "indexing_technique" in changes else dataset.indexing_technique
    model_given = "embedding_model" in changes or "embedding_model_provider" in changes
    if technique == IndexingTechnique.ECONOMY:
        dataset.embedding_model = None
        dataset.embedding_model_provider = None
    elif technique == IndexingTechnique.HIGH_QUALITY and (model_given or dataset.embedding_model is None):
        set_embedding_model(dataset, params.embedding_model, params.embedding_model_provider)
    dataset.indexing_technique = technique


def _update_external(dataset: Dataset, params: DatasetUpdate, changes: set[str]) -> None:
    if dataset.provider != DatasetProvider.EXTERNAL:
        return
    if "external_retrieval_model" in changes and params.external_retrieval_model is not None:
        dataset.external_retrieval_model = params.external_retrieval_model.model_dump()
    if {"external_knowledge_id", "external_knowledge_api_id"} & changes:
        _check_external_binding(params.external_knowledge_api_id, params.external_knowledge_id)


def _update_members(session: Session, dataset: Dataset, params: DatasetUpdate, changes: set[str]) -> None:
    if dataset.permission != DatasetPermission.PARTIAL_TEAM:
        session.execute(delete(DatasetMember).where(DatasetMember.dataset_id == dataset.id))
        return
    if "partial_member_list" not in changes or params.partial_member_list is None:
        return
    session.execute(delete(DatasetMember).where(DatasetMember.dataset_id == dataset.id))
    for account_id in dict.fromkeys(member.user_id for member in params.partial_member_list):
        session.add(DatasetMember(dataset_id=dataset.id, account_id=account_id))


def _check_external_binding(api_id: str | None, knowledge_id: str | None) -> None:
    # External knowledge API templates are registered through Dify's console API, which this
    # service does not implement; no template id can therefore resolve.
    if not api_id:
        raise InvalidParam("external_knowledge_api_id is required.")
    if not knowledge_id:
        raise InvalidParam("external_knowledge_id is required.")
    raise InvalidParam("External API template not found.")
