"""Metadata fields of a dataset and their values on documents.

Values live in each document's `doc_metadata` (name → value, time as Unix seconds), which is what the
retrieval filters read, so every change here applies to the next search.
"""

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.api_keys.service import Caller
from core.datasets.models import Dataset
from core.documents.builtin_metadata import built_in_values
from core.documents.lookup import get_document
from core.documents.models import Document, IndexingStatus
from core.errors import InvalidParam, NotFound
from core.index.point_metadata import BUILT_IN_FIELDS, METADATA_NAME, METADATA_NAME_RULE
from core.metadata.models import MetadataBinding, MetadataField

FIELD_TYPES = ("string", "number", "time")
BUILT_IN_NAMES = {name for name, _ in BUILT_IN_FIELDS}


@dataclass(frozen=True)
class MetadataValue:
    id: str
    name: str
    value: str | int | float | None


def _check_name(session: Session, dataset: Dataset, name: str, keep_id: str | None = None) -> None:
    if len(name) > 255:
        raise InvalidParam("Metadata name cannot exceed 255 characters.")
    if not METADATA_NAME.fullmatch(name):
        raise InvalidParam(METADATA_NAME_RULE)
    if name in BUILT_IN_NAMES:
        raise InvalidParam("Metadata name already exists in Built-in fields.")
    clash = session.scalar(
        select(MetadataField.id).where(MetadataField.dataset_id == dataset.id, MetadataField.name == name)
    )
    if clash is not None and clash != keep_id:
        raise InvalidParam("Metadata name already exists.")


def create_field(session: Session, caller: Caller, dataset: Dataset, type_: str, name: str) -> MetadataField:
    if type_ not in FIELD_TYPES:
        raise InvalidParam(f"Invalid metadata type: {type_}. Valid types are: {', '.join(FIELD_TYPES)}.")
    _check_name(session, dataset, name)
    field = MetadataField(
        workspace_id=dataset.workspace_id,
        dataset_id=dataset.id,
        type=type_,
        name=name,
        created_by=caller.account.id,
    )
    session.add(field)
    session.commit()
    return field


def get_field(session: Session, dataset: Dataset, field_id: str) -> MetadataField:
    field = session.scalar(
        select(MetadataField).where(MetadataField.id == field_id, MetadataField.dataset_id == dataset.id)
    )
    if field is None:
        raise NotFound("Metadata not found.")
    return field


def list_fields(session: Session, dataset: Dataset) -> list[tuple[MetadataField, int]]:
    counts = dict(
        session.execute(
            select(MetadataBinding.metadata_id, func.count())
            .where(MetadataBinding.dataset_id == dataset.id)
            .group_by(MetadataBinding.metadata_id)
        ).all()
    )
    fields = session.scalars(
        select(MetadataField).where(MetadataField.dataset_id == dataset.id).order_by(MetadataField.created_at)
    ).all()
    return [(field, counts.get(field.id, 0)) for field in fields]


def rename_field(
    session: Session, caller: Caller, dataset: Dataset, field: MetadataField, name: str
) -> MetadataField:
    _check_name(session, dataset, name, keep_id=field.id)
    old = field.name
    for document in _bound_documents(session, field):
        values = dict(document.doc_metadata or {})
        if old in values:
            values[name] = values.pop(old)
            document.doc_metadata = values
    field.name, field.updated_by = name, caller.account.id
    session.commit()
    return field


def delete_field(session: Session, dataset: Dataset, field: MetadataField) -> None:
    for document in _bound_documents(session, field):
        values = dict(document.doc_metadata or {})
        values.pop(field.name, None)
        document.doc_metadata = values or None
    session.delete(field)
    session.commit()


def _bound_documents(session: Session, field: MetadataField) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .join(MetadataBinding, MetadataBinding.document_id == Document.id)
            .where(MetadataBinding.metadata_id == field.id)
        )
    )


def set_built_in_fields(session: Session, dataset: Dataset, enabled: bool) -> None:
    """Enabling writes the built-in values into every searchable document; disabling removes them."""
    dataset.built_in_field_enabled = enabled
    documents = session.scalars(select(Document).where(Document.dataset_id == dataset.id)).all()
    for document in documents:
        values = {k: v for k, v in (document.doc_metadata or {}).items() if k not in BUILT_IN_NAMES}
        if enabled and _searchable(document):
            values |= built_in_values(session, document)
        document.doc_metadata = values or None
    session.commit()


def _searchable(document: Document) -> bool:
    return document.indexing_status == IndexingStatus.COMPLETED and document.enabled and not document.archived


def update_documents_metadata(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    operations: list[tuple[str, list[MetadataValue], bool]],
) -> None:
    """Each operation (document id, values, partial_update): without partial_update the document's
    values are replaced by the given ones (built-ins kept when enabled); with it, others are kept."""
    fields = {field.id: field for field, _ in list_fields(session, dataset)}
    for document_id, values, partial in operations:
        document = get_document(session, dataset, document_id)
        for value in values:
            field = fields.get(value.id)
            if field is None or field.name != value.name:
                raise InvalidParam(f"Metadata {value.name} does not exist in this knowledge base.")
        current = dict(document.doc_metadata or {})
        kept = current if partial else {k: v for k, v in current.items() if k in BUILT_IN_NAMES}
        document.doc_metadata = {**kept, **{value.name: value.value for value in values}} or None
        _rebind(
            session, caller, dataset, document, fields, keep_existing=partial, given={v.id for v in values}
        )
    session.commit()


def _rebind(
    session: Session,
    caller: Caller,
    dataset: Dataset,
    document: Document,
    fields: dict[str, MetadataField],
    *,
    keep_existing: bool,
    given: set[str],
) -> None:
    bound = set(
        session.scalars(select(MetadataBinding.metadata_id).where(MetadataBinding.document_id == document.id))
    )
    if not keep_existing:
        session.execute(
            delete(MetadataBinding).where(
                MetadataBinding.document_id == document.id, MetadataBinding.metadata_id.not_in(given)
            )
        )
    for field_id in given - bound:
        session.add(
            MetadataBinding(
                dataset_id=dataset.id,
                metadata_id=fields[field_id].id,
                document_id=document.id,
                created_by=caller.account.id,
            )
        )
