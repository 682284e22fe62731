"""Metadata routes: fields of a dataset, built-in fields, values on documents."""

from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import KNOWLEDGE_REQUEST, CallerDep, DatasetDep, SessionDep, parse_uuid
from core.index.point_metadata import BUILT_IN_FIELDS
from core.metadata import service as metadata

router = APIRouter(prefix="/datasets/{dataset_id}", tags=["metadata"])
# Dify's legacy path of the built-in fields, without a dataset; registered before /datasets/{id}.
legacy_router = APIRouter(tags=["metadata"])


class NewFieldBody(BaseModel):
    type: str = Field(max_length=16)
    name: str = Field(max_length=1000)  # longer than 255 gets Dify's own message


class RenameFieldBody(BaseModel):
    name: str = Field(max_length=1000)


class MetadataValueBody(BaseModel):
    id: str = Field(max_length=64)
    name: str = Field(max_length=255)
    value: Annotated[str, Field(max_length=65_535)] | int | float | None = None


class DocumentMetadataOperation(BaseModel):
    document_id: str = Field(max_length=64)
    metadata_list: list[MetadataValueBody] = Field(max_length=1000)
    partial_update: bool = False


class DocumentsMetadataBody(BaseModel):
    operation_data: list[DocumentMetadataOperation] = Field(max_length=1000)


def _field(field) -> dict:
    return {"id": field.id, "type": field.type, "name": field.name}


@router.post("/metadata", status_code=201, dependencies=[KNOWLEDGE_REQUEST])
def create_field(body: NewFieldBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep) -> dict:
    """A new metadata field of the dataset: `type` (string, number or time) and `name` (lower-case letters,
    digits and `_`, unique in the dataset, not a built-in name). Answers 201 with `{id, type, name}`."""
    return _field(metadata.create_field(session, caller, dataset, body.type, body.name))


@router.get("/metadata")
def list_fields(dataset: DatasetDep, session: SessionDep) -> dict:
    """The dataset's metadata fields with how many documents use each (`count`), and whether the built-in
    fields are enabled."""
    fields = metadata.list_fields(session, dataset)
    return {
        "doc_metadata": [_field(field) | {"count": count} for field, count in fields],
        "built_in_field_enabled": dataset.built_in_field_enabled,
    }


@router.get("/metadata/built-in")
def list_built_in_fields(dataset: DatasetDep) -> dict:
    """The five built-in fields (document_name, uploader, upload_date, last_update_date, source) and their
    types."""
    return _built_in_fields()


@legacy_router.get("/datasets/metadata/built-in")
def list_built_in_fields_legacy(_caller: CallerDep) -> dict:
    """Dify's legacy form of the built-in fields, without a dataset id: the five fields' names and types."""
    return _built_in_fields()


def _built_in_fields() -> dict:
    return {"fields": [{"name": name, "type": type_} for name, type_ in BUILT_IN_FIELDS]}


@router.post("/metadata/built-in/{action}", dependencies=[KNOWLEDGE_REQUEST])
def toggle_built_in_fields(
    action: Literal["enable", "disable"], dataset: DatasetDep, session: SessionDep
) -> dict:
    """`enable` writes the built-in fields' values into every finished document and keeps them up to date;
    `disable` removes them."""
    metadata.set_built_in_fields(session, dataset, action == "enable")
    return {"result": "success"}


@router.patch("/metadata/{metadata_id}", dependencies=[KNOWLEDGE_REQUEST])
def rename_field(
    metadata_id: str, body: RenameFieldBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """Renames a metadata field; every document bound to it is rewritten with the new name, so filters on
    the new name work at once."""
    field = metadata.get_field(session, dataset, parse_uuid(metadata_id))
    return _field(metadata.rename_field(session, caller, dataset, field, body.name))


@router.delete("/metadata/{metadata_id}", status_code=204, dependencies=[KNOWLEDGE_REQUEST])
def delete_field(metadata_id: str, dataset: DatasetDep, session: SessionDep) -> Response:
    """Deletes a metadata field and its value from every document."""
    metadata.delete_field(session, dataset, metadata.get_field(session, dataset, parse_uuid(metadata_id)))
    return Response(status_code=204)


@router.post("/documents/metadata", dependencies=[KNOWLEDGE_REQUEST])
def update_documents_metadata(
    body: DocumentsMetadataBody, dataset: DatasetDep, caller: CallerDep, session: SessionDep
) -> dict:
    """Sets metadata values on documents: `operation_data` is a list of `{document_id, metadata_list: [{id,
    name, value}], partial_update}`. Without `partial_update` a document's values are replaced by the
    given ones (built-ins kept when enabled); with it, the given ones are added or changed. Each field
    must be the dataset's; values are checked against its type."""
    operations = [
        (
            parse_uuid(operation.document_id),
            [metadata.MetadataValue(v.id, v.name, v.value) for v in operation.metadata_list],
            operation.partial_update,
        )
        for operation in body.operation_data
    ]
    metadata.update_documents_metadata(session, caller, dataset, operations)
    return {"result": "success"}
